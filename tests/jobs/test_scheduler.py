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
from jobs.pipeline import Retry
from jobs.scheduler import retry_due
from jobs.settings import ConfigError, load_settings
from tests.support.environments import Job, SftpEnv
from tests.support.processes import (
    UPLOADS,
    assert_books_and_files_are_whole,
    hpf_process,
    start,
    upload_all,
    with_schedule,
)
from tests.support.samples import SAMPLES, A, B


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

    assert (due(batch(1, 59)), due(batch(1, 60))) == (Retry.WAIT, Retry.DUE)
    assert (due(batch(2, 119)), due(batch(2, 120))) == (Retry.WAIT, Retry.DUE)
    assert due(batch(3, 10_000)) == Retry.EXHAUSTED  # the limit: an operator decides now


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
    assert log.count("本轮处理") >= 1 and "调度器已停止" in log
    assert "轮次：" not in log  # one line a cycle, from the cycle itself, not repeated by the scheduler
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
    assert sorted((r.job, r.occasion) for r in runs) == [("reconcile", "2026-11-22"), ("reconcile-final", "202610")]
    assert all(r.finished_at is not None for r in runs)
    assert sum(log.count("对账报表202611已上传") for log in logs) == 1
    assert sum(log.count("月终对账报表202610已上传") for log in logs) == 1  # October closed: its final report, once


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_month_end_not_filed_report_runs_once(sftp_env: SftpEnv, job: Job) -> None:
    from db.engine import make_engine as engine_for
    from db.store import Store
    from jobs.scheduler import Scheduler

    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv")
    job.upload(B, SAMPLES / "invalid" / "r_amount" / f"{A}_202611.csv", name=f"{B}_202611.csv")  # rejected: still owes
    assert job.run("run-once").exit_code == 0
    settings = load_settings(job.home / "hpf.toml", environ={"HPF_TODAY": "2026-11-30"})
    store = Store(engine_for(job.db_url))
    scheduler = Scheduler(settings, store)
    scheduler.not_filed()
    report = job.env.root / "_finance" / "outbox" / "not_filed_202611.csv"
    lines = report.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == "unit_account,employer_name,status,members_active"
    owing = sorted(tuple(line.split(",")[::2]) for line in lines[1:])
    assert owing == [("0101000321", "NOT_FILED"), ("0101000456", "REJECTED")]  # A filed; C is closed
    report.unlink()
    scheduler.not_filed()  # a second scheduler, or a second firing: already done for November
    assert not report.exists()
    store.engine.dispose()


def test_every_schedule_and_today_are_in_the_centre_time_zone(tmp_path: Path) -> None:
    """The month-end job fires at 22:00 in Chengdu on the last day, and judges the month there, whatever TZ says."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from db.engine import make_engine as engine_for
    from db.store import Store
    from jobs.scheduler import Scheduler

    config = tmp_path / "hpf.toml"
    config.write_text('[schedule]\nreconcile_cron = "0 2 * * *"\n', "utf-8")
    settings = load_settings(config, environ={})
    shanghai = ZoneInfo("Asia/Shanghai")
    assert settings.schedule.timezone == "Asia/Shanghai"
    assert settings.today == datetime.now(shanghai).date()
    scheduler = Scheduler(settings, Store(engine_for(f"sqlite:///{tmp_path / 'x.db'}")))
    scheduler.add_jobs()
    start = datetime(2026, 11, 29, 12, 0, tzinfo=shanghai)
    not_filed = scheduler.scheduler.get_job("not-filed").trigger.get_next_fire_time(None, start)
    assert not_filed == datetime(2026, 11, 30, 22, 0, tzinfo=shanghai)
    reconcile = scheduler.scheduler.get_job("reconcile").trigger.get_next_fire_time(None, start)
    assert reconcile == datetime(2026, 11, 30, 2, 0, tzinfo=shanghai)

    config.write_text('[schedule]\ntimezone = "Mars/Olympus"\n', "utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(config, environ={})
    assert "schedule.timezone" in str(refused.value.problems)
