"""The SQLite-side locks: exclusive while held, even within one process, and gone with their holder."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from db.engine import make_engine
from db.locks import try_lock, try_locks


def test_a_lock_is_exclusive_and_the_lock_file_does_not_grow(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hpf.db'}")
    for n in range(50):
        with try_lock(engine, f"batch-{n}") as mine:
            assert mine
            with try_lock(engine, f"batch-{n}") as again:
                assert not again  # a second holder (another process would get the same answer)
            with try_locks(engine, [f"batch-{n}", f"batch-{n + 1000}"]) as some:
                assert some == {f"batch-{n + 1000}"}
            with try_lock(engine, f"batch-{n + 1000}") as other:
                assert other  # released with the group
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("hpf.db.")] == ["hpf.db.lock"]
    assert (tmp_path / "hpf.db.lock").stat().st_size == 0  # bytes are locked, never written


def test_a_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hpf.db'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from db.engine import make_engine
            from db.locks import try_locks
            with try_locks(make_engine({url!r}), ["batch-1", "batch-2"]) as held:
                print(sorted(held), flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "['batch-1', 'batch-2']"
        engine = make_engine(url)
        with try_locks(engine, ["batch-1", "batch-2", "batch-3"]) as held:
            assert held == {"batch-3"}
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        with try_locks(engine, ["batch-1", "batch-2"]) as held:
            assert held == {"batch-1", "batch-2"}
    finally:
        holder.kill()
        holder.wait(10)
