"""Faults injected into a running job: SIGKILL at random moments, the SFTP server and the database dying mid-cycle,
SQLite's write lock held by someone else. After each, the books and the folders must be whole: every member-month
deposited exactly once, every file with one final batch and one set of results, nothing half-written visible.

`HPF_SOAK_KILLS` sets the number of random kills (default 20, kept small for `make test`); `HPF_SOAK_SEED` replays
a run's delays (the seed is printed; timing on a loaded machine still varies); `HPF_SOAK_DBS` names the databases the
kill test runs on (default `sqlite`; `make soak` runs `sqlite,postgresql` with many more kills).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from db import ledger, tables
from db.engine import make_engine
from db.store import Store
from jobs import decisions, pipeline
from jobs.scheduler import recover
from jobs.settings import load_settings
from sftp.client import PARTIAL, SftpClient
from sftp.errors import SftpUnavailable
from tests.support import generate
from tests.support.environments import Job, SftpEnv
from tests.support.processes import hpf_process, with_schedule
from tests.support.processes import start as start_scheduler
from tests.support.samples import TODAY
from tests.support.servers import PostgresServer

pytestmark = pytest.mark.integration

KILLS = int(os.environ.get("HPF_SOAK_KILLS") or 20)
SEED = int(os.environ.get("HPF_SOAK_SEED") or random.SystemRandom().randrange(1_000_000_000))
DBS = [d.strip() for d in (os.environ.get("HPF_SOAK_DBS") or "sqlite").split(",") if d.strip()]
MONTH = f"{generate.MONTH}"


# ------------------------------------------------------------------ data and checks


class Generated:
    """Employers of the generated master data, each with one valid file for MONTH, uploaded to its inbox."""

    def __init__(self, job: Job, units: int, per_unit: int = 3) -> None:
        assert TODAY == generate.TODAY
        employers, members = generate.master(units, per_unit, seed=SEED % 10_000)
        folder = job.home / "master"
        folder.mkdir(exist_ok=True)
        imported = job.run("accounts", "import", *generate.write_master(folder, employers, members))
        assert imported.exit_code == 0, imported.output
        self.job = job
        self.files: dict[str, tuple[str, bytes]] = {}
        for unit in employers["unit_account"]:
            data = generate.remittance(members.filter(members["unit_account"] == unit))
            self.files[unit] = (f"{unit}_{MONTH}.csv", data)
        self.rows = members.height

    def upload(self, units: list[str] | None = None) -> None:
        for n, unit in enumerate(units or sorted(self.files)):
            name, data = self.files[unit]
            path = self.job.env.put(unit, name, data)
            os.utime(path, (1_790_000_000 + n, 1_790_000_000 + n))
        self.job.env.own()


def temporary_files(root: Path) -> list[str]:
    """Half-written or hidden files anywhere an employer or finance looks (outboxes and archives)."""
    found = []
    for folder in [*root.glob("*/outbox"), *root.glob("*/archive")]:
        found += [f"{folder.parent.name}/{folder.name}/{p.name}" for p in folder.iterdir()
                  if p.name.startswith(".") or p.name.endswith(PARTIAL)]  # fmt: skip
    return found


def assert_whole(job: Job, generated: Generated, context: str = "") -> None:
    """Exactly once, in the books and in the folders, for every generated file."""
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        problems = ledger.verify(conn)
        per_member_month = conn.execute(
            select(tables.deposits.c.member_account, tables.deposits.c.month, func.count())
            .where(tables.deposits.c.reversed.is_(False))
            .group_by(tables.deposits.c.member_account, tables.deposits.c.month)
        ).all()
        batches = conn.execute(
            select(
                tables.batches.c.unit_account,
                tables.batches.c.file_name,
                tables.batches.c.status,
                tables.batches.c.step,
            )
        ).all()
        posted_rows = sum(conn.execute(select(tables.batches.c.posted_rows)).scalars())
    engine.dispose()
    assert problems == [], context
    assert [m for m in per_member_month if m[2] != 1] == [], context
    assert len(per_member_month) == posted_rows == generated.rows, context
    assert sorted((b.unit_account, b.file_name, b.status, b.step) for b in batches) == sorted(
        (unit, name, "POSTED", "archived") for unit, (name, _) in generated.files.items()
    ), context
    root = job.env.root
    for unit, (name, _) in generated.files.items():
        stem = name.rsplit(".", 1)[0]
        assert sorted(p.name for p in (root / unit / "outbox").iterdir()) == [
            f"{stem}.result.{ext}" for ext in ("csv", "json", "xlsx")
        ], context
        assert sorted(p.name for p in (root / unit / "archive").iterdir()) == [name, f"{name}.done"], context
        assert list((root / unit / "inbox").iterdir()) == [], context
        assert job.result(unit, name)["status"] == "POSTED", context
    assert temporary_files(root) == [], context


def run_once_to_the_end(job: Job) -> str:
    """A run-once that is left alone: it must finish, and a second one must find nothing to do."""
    last = hpf_process(job)
    out, err = last.communicate(timeout=300)
    assert last.returncode == 0, err.decode()
    again = hpf_process(job)
    out2, err2 = again.communicate(timeout=300)
    assert again.returncode == 0 and "本轮处理0个文件" in out2.decode(), err2.decode()
    return out.decode()


# ------------------------------------------------------------------ 1. SIGKILL at random moments


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
@pytest.mark.parametrize("db_url", DBS, indirect=True)
def test_random_sigkills_of_run_once_and_scheduler_then_exactly_once(
    sftp_env: SftpEnv, db_url: str, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    context = f"HPF_SOAK_SEED={SEED} HPF_SOAK_KILLS={KILLS} database={db_url.split(':')[0]}"
    with capsys.disabled():
        print(f"\n[soak] {context}")
    with_schedule(job, max_attempts=1000)
    # Enough files that most kills land in the middle of real work; more kills, more files (they are cheap).
    generated = Generated(job, units=max(12, min(KILLS // 2, 60)))
    waves = _waves(sorted(generated.files), rng)
    generated.upload(waves.pop(0))
    kills = attempts = 0
    started = time.monotonic()
    while kills < KILLS:
        attempts += 1
        assert attempts < KILLS * 4, f"the processes kept finishing before their kill: {context}"
        if waves and rng.random() < 0.5:
            generated.upload(waves.pop(0))  # employers keep uploading while the job is killed again and again
        scheduler = rng.random() < 0.5
        process = start_scheduler(job) if scheduler else hpf_process(job)
        # hpf needs ~1 s to import its libraries; after that each small file takes a fraction of a second.
        delay = rng.uniform(0.6, 3.0) if scheduler else rng.uniform(0.6, 2.4)
        try:
            process.wait(delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            kills += 1
        _, err = process.communicate(timeout=60)
        if process.returncode != -signal.SIGKILL:
            assert process.returncode == 0, f"{context}\n{err.decode()}"
    for wave in waves:
        generated.upload(wave)
    with capsys.disabled():
        print(f"[soak] {kills} kills in {attempts} runs, {time.monotonic() - started:.0f} s")
    run_once_to_the_end(job)
    assert_whole(job, generated, context)


def _waves(units: list[str], rng: random.Random) -> list[list[str]]:
    """The uploads in waves (more kills, more waves): the first at once, the others between kills."""
    shuffled = units[:]
    rng.shuffle(shuffled)
    n = max(3, min(KILLS // 10, len(shuffled)))
    return [shuffled[i::n] for i in range(n)]


# ------------------------------------------------------------------ 2. the SFTP server killed mid-cycle


class Cycle:
    """In-process cycles over the job's settings and database, with a client that gives up quickly."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.settings = load_settings(job.home / "hpf.toml", environ={"HPF_TODAY": TODAY})
        self.store = Store(make_engine(job.db_url))

    def client(self) -> SftpClient:
        return SftpClient(self.settings.require_sftp(), attempts=3, backoff=0.05)

    def run(self, **hooks: Any) -> pipeline.CycleSummary:
        with self.client() as client:
            hook = hooks.pop("client_hook", None)
            if hook is not None:
                hook(client)
            return pipeline.run_cycle(self.settings.validation(), self.settings.pipeline(), self.store, client, **hooks)

    def batches(self) -> list[Any]:
        with self.store.engine.connect() as conn:
            return conn.execute(select(tables.batches).order_by(tables.batches.c.id)).all()

    def deposits(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(tables.deposits)).scalar_one())

    def close(self) -> None:
        self.store.engine.dispose()


def _kill_on_second(env: SftpEnv, method: str):  # type: ignore[no-untyped-def]
    """A client hook: the server dies just before the second call of `client.<method>`."""
    calls = []

    def hook(client: SftpClient) -> None:
        original = getattr(client, method)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            if len(calls) == 2:
                env.server.kill()
            return original(*args, **kwargs)

        setattr(client, method, wrapped)

    return hook


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "where",
    [
        "fetch",  # the second file is claimed, not yet read: it is FAILED, the inbox untouched
        "publish",  # the second file is posted, its results not yet out: POSTED with the error, published next time
        "_move_marker",  # the second file is in archive/, its marker still in the inbox: archived next time
    ],
)
def test_sftp_server_killed_mid_cycle(sftp_env: SftpEnv, db_url: str, job: Job, where: str) -> None:
    generated = Generated(job, units=3)
    generated.upload()
    cycle = Cycle(job)
    try:
        with pytest.raises(SftpUnavailable) as e:
            cycle.run(client_hook=_kill_on_second(sftp_env, where))
        assert "不可用" in str(e.value) and "已重试3次" in str(e.value)
        first, second = cycle.batches()  # the third file was never claimed
        assert (first.status, first.step) == ("POSTED", "archived")
        if where == "fetch":
            assert (second.status, second.step) == ("FAILED", "claimed")
            assert cycle.deposits() == 3  # the first file's only: nothing of the second
        else:
            assert (second.status, second.step) == ("POSTED", "decided" if where == "publish" else "published")
            assert cycle.deposits() == 6
        assert "不可用" in second.last_error
        assert temporary_files(job.env.root) == []
        if where == "publish":  # as a worker SIGKILLed mid-upload leaves it: the next publish must remove it
            stale = (
                job.env.root / second.unit_account / "outbox" / f".{second.file_name[:-4]}.result.csv.0badc0de{PARTIAL}"
            )
            stale.parent.mkdir(exist_ok=True)
            stale.write_bytes(b"half")
            job.env.own()
        sftp_env.server.start()
        summary = cycle.run()
        assert summary.failed == [], summary.failed
        assert cycle.run().files == 0
        assert [b.attempts for b in cycle.batches()] == [1, 2, 1]
    finally:
        cycle.close()
    assert_whole(job, generated)


# ------------------------------------------------------------------ 3. PostgreSQL stopped mid-cycle


@pytest.fixture
def stoppable_postgres() -> Any:
    from tests.support.servers import postgres_cluster

    with postgres_cluster() as server:
        yield server


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
@pytest.mark.parametrize("point", ["validating", "posting"])
def test_postgresql_stopped_mid_cycle(
    sftp_env: SftpEnv,
    stoppable_postgres: PostgresServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    point: str,
) -> None:
    """The database dies while the second file is validated or posted: the cycle stops, nothing is half-posted."""
    job = Job(sftp_env, f"{stoppable_postgres.url}/postgres", tmp_path)
    generated = Generated(job, units=3)
    generated.upload()
    calls: list[object] = []
    target, name = (decisions, "validate_many") if point == "validating" else (ledger, "_apply_to_control")
    original = getattr(target, name)

    def dies_on_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            stoppable_postgres.stop("immediate")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, dies_on_second)
    result = job.run("run-once")
    assert result.exit_code == 1
    assert "数据库操作失败" in result.output and "Traceback" not in result.output, result.output
    assert "Traceback" not in caplog.text and "内部错误" not in caplog.text, caplog.text
    monkeypatch.setattr(target, name, original)

    stoppable_postgres.start()
    cycle = Cycle(job)
    try:
        first, second = cycle.batches()
        assert (first.status, first.step) == ("POSTED", "archived")
        assert (second.status, second.step) == ("RECEIVED", "claimed")  # the outcome was never committed
        assert cycle.deposits() == 3
        assert recover(cycle.store) == 1
        second = cycle.batches()[1]
        assert (second.status, second.last_error) == ("FAILED", "处理中断（进程崩溃或被终止），将自动重试")
    finally:
        cycle.close()
    run_once_to_the_end(job)
    assert_whole(job, generated)


# ------------------------------------------------------------------ 4. SQLite: another writer holds the lock


class Writer(threading.Thread):
    """Another process's write transaction on the SQLite file: BEGIN IMMEDIATE, a write, held, then committed."""

    def __init__(self, path: str, hold: float) -> None:
        super().__init__(daemon=True)
        self.path, self.hold = path, hold
        self.holding = threading.Event()
        self.committed_at = 0.0

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO job_runs (job, occasion, host) VALUES ('other-writer', ?, 'test')", (str(time.time()),)
            )
            self.holding.set()
            time.sleep(self.hold)
            conn.execute("COMMIT")
            self.committed_at = time.monotonic()
        finally:
            conn.close()


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("when", ["before the cycle", "inside the posting"])
def test_sqlite_locked_by_another_writer_waits_and_posts(
    sftp_env: SftpEnv, db_url: str, job: Job, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    generated = Generated(job, units=2)
    generated.upload()
    path = db_url.removeprefix("sqlite:///")
    writer = Writer(path, hold=2.0)
    if when == "before the cycle":
        writer.start()
        assert writer.holding.wait(10)
    else:
        # Between the posting's first read and its first write: the other writer commits meanwhile.
        original = ledger.previous_month

        def other_writer_now(month: int) -> int:
            if not writer.is_alive() and not writer.holding.is_set():
                writer.start()
                assert writer.holding.wait(10)
            return original(month)

        monkeypatch.setattr(ledger, "previous_month", other_writer_now)
    started = time.monotonic()
    result = job.run("run-once")
    writer.join(10)
    assert result.exit_code == 0, result.output
    assert "失败0个" in result.output, result.output
    assert writer.committed_at > started  # the cycle really ran into the other writer's lock
    assert time.monotonic() - started >= 2.0
    assert_whole(job, generated)
