"""The SQLite-side locks: exclusive while held, gone from the folder when released."""

from __future__ import annotations

from pathlib import Path

from db.engine import make_engine
from db.locks import try_lock


def test_a_lock_is_exclusive_and_leaves_no_file_behind(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hpf.db'}")
    folder = tmp_path / "hpf.db.locks"
    for n in range(50):
        with try_lock(engine, f"batch-{n}") as mine:
            assert mine
            with try_lock(engine, f"batch-{n}") as again:
                assert not again  # a second holder (another process would get the same answer)
            with try_lock(engine, f"batch-{n + 1000}") as other:
                assert other
    assert list(folder.iterdir()) == []  # fifty batches later, the folder is empty
