"""`hpf scheduler` as a real process: polling, stopping, recovering, and two at once."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from db import tables
from db.engine import make_engine
from jobs.scheduler import retry_due
from jobs.settings import load_settings
from tests.support.environments import Job, SftpEnv
from tests.support.processes import (
    UPLOADS,
    assert_books_and_files_are_whole,
    hpf_process,
    start,
    upload_all,
    with_schedule,
)
from tests.support.samples import SAMPLES, A


def wait_for(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> str:
    """SIGTERM; it must exit 0 within seconds. Returns its log."""
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err.decode()
    return err.decode()


def results_exist(job: Job) -> bool:
    return all(
        (job.env.root / unit / "outbox" / f"{name.rsplit('.', 1)[0]}.result.json").exists() for unit, name in UPLOADS
    )


def test_retry_waits_longer_each_time_and_stops_at_the_limit(tmp_path: Path) -> None:
    (tmp_path / "hpf.toml").write_text("[schedule]\nretry_seconds = 60\nmax_attempts = 3\n", "utf-8")
    settings = load_settings(tmp_path / "hpf.toml", environ={})
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    due = retry_due(settings, now)

    def batch(attempts: int, seconds_ago: int) -> SimpleNamespace:
        return SimpleNamespace(attempts=attempts, updated_at=now - timedelta(seconds=seconds_ago))

    assert not due(batch(1, 59)) and due(batch(1, 60))
    assert not due(batch(2, 119)) and due(batch(2, 120))
    assert not due(batch(3, 10_000))  # the limit: an operator decides now


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_files_are_processed_without_run_once_and_sigterm_stops_it(sftp_env: SftpEnv, job: Job) -> None:
    with_schedule(job)
    scheduler = start(job)
    try:
        time.sleep(1.5)  # it is already polling when the employers upload
        upload_all(job)
        wait_for(lambda: results_exist(job))
        wait_for(lambda: all(not list((job.env.root / u / "inbox").iterdir()) for u, _ in UPLOADS))
    finally:
        started = time.monotonic()
        log = stop(scheduler)
    assert time.monotonic() - started < 15
    assert "轮次" in log and "调度器已停止" in log
    assert_books_and_files_are_whole(job)


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_a_batch_left_received_by_a_killed_process_is_recovered(sftp_env: SftpEnv, job: Job) -> None:
    with_schedule(job)
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv")
    crashed = hpf_process(job, crash_at="fetched")
    crashed.wait(60)
    assert crashed.returncode == -signal.SIGKILL
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        assert conn.execute(select(tables.batches.c.status)).scalar_one() == "RECEIVED"
    scheduler = start(job)
    try:
        wait_for(lambda: (job.env.root / A / "outbox" / f"{A}_202611.result.json").exists())
    finally:
        log = stop(scheduler)
    assert "恢复了1个中断的批次" in log
    with engine.connect() as conn:
        status = conn.execute(select(tables.batches.c.status)).scalar_one()
        history = conn.execute(select(tables.batch_events.c.status, tables.batch_events.c.message)).all()
    engine.dispose()
    assert status == "POSTED"
    assert ("FAILED", "处理中断（进程崩溃或被终止），将自动重试") in [tuple(h) for h in history]


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_schedulers_on_one_postgresql(sftp_env: SftpEnv, db_url: str, job: Job) -> None:
    with_schedule(job, reconcile_cron='"*/2 * * * * *"')  # every two seconds: many chances to run twice
    upload_all(job)
    schedulers = [start(job), start(job)]
    report = job.env.root / "_finance" / "outbox" / "reconciliation_202611.csv"
    try:
        wait_for(lambda: results_exist(job) and report.exists())
        time.sleep(5)
    finally:
        logs = [stop(s) for s in schedulers]
    assert_books_and_files_are_whole(job)
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        runs = conn.execute(
            select(tables.job_runs.c.job, tables.job_runs.c.occasion, tables.job_runs.c.finished_at)
        ).all()
    engine.dispose()
    assert [(r.job, r.occasion) for r in runs] == [("reconcile", "2026-11-22")] and runs[0].finished_at is not None
    assert sum(log.count("对账报表202611已上传") for log in logs) == 1


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_month_end_not_filed_report_runs_once(sftp_env: SftpEnv, job: Job) -> None:
    from db.engine import make_engine as engine_for
    from db.store import Store
    from jobs.scheduler import Scheduler

    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv")
    assert job.run("run-once").exit_code == 0
    settings = load_settings(job.home / "hpf.toml", environ={"HPF_TODAY": "2026-11-30"})
    store = Store(engine_for(job.db_url))
    scheduler = Scheduler(settings, store)
    scheduler.not_filed()
    report = job.env.root / "_finance" / "outbox" / "not_filed_202611.csv"
    lines = report.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == "unit_account,employer_name,members_active"
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["0101000321", "0101000456"]  # A filed; C is closed
    report.unlink()
    scheduler.not_filed()  # a second scheduler, or a second firing: already done for November
    assert not report.exists()
    store.engine.dispose()
