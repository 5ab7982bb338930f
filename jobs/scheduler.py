"""`hpf scheduler`: the job running by itself, safely beside other schedulers.

Jobs (fixed ids, one instance each, missed runs coalesced):

- `poll`: the `run-once` cycle every `schedule.poll_seconds`, retrying FAILED
  batches with exponential backoff up to `schedule.max_attempts`;
- `reconcile`: the day's reconciliation report for the current month, at
  `schedule.reconcile_cron`, uploaded to `_finance/outbox`;
- `not-filed`: on the last day of the month, the employers that have not filed.

Several schedulers may share one database and one SFTP server: every file is
claimed in the database before it is touched, and the reports run once per
occasion under a lock that dies with its holder plus a record in `job_runs`.
SIGTERM and SIGINT stop it at a safe point (between files), exit 0. At start,
batches a crash left in flight are marked FAILED with the reason and retried.
"""

from __future__ import annotations

import logging
import signal
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from batch.policy import previous_month
from batch.reconcile import NOT_FILED
from batch.results import guard_formula
from db import register
from db.errors import describe
from db.jobruns import once
from db.locks import try_lock
from db.register import Batch
from db.store import Store
from jobs import pipeline
from jobs.pipeline import Retry
from jobs.settings import Settings, cron_trigger
from schemas.errors import HpfError
from schemas.statuses import BatchStatus
from sftp.client import SftpClient

log = logging.getLogger("hpf.scheduler")

MAX_BACKOFF = timedelta(hours=1)


def retry_due(settings: Settings, now: datetime | None = None) -> pipeline.RetryDue:
    """A FAILED batch may be retried `retry_seconds · 2^(attempts-1)` after its last try, up to `max_attempts`."""
    schedule = settings.schedule

    def due(batch: Batch) -> Retry:
        if batch.attempts >= schedule.max_attempts:
            return Retry.EXHAUSTED
        wait = min(timedelta(seconds=schedule.retry_seconds * 2 ** max(batch.attempts - 1, 0)), MAX_BACKOFF)
        updated = batch.updated_at if batch.updated_at.tzinfo else batch.updated_at.replace(tzinfo=UTC)
        return Retry.DUE if (now or datetime.now(UTC)) >= updated + wait else Retry.WAIT

    return due


def recover(store: Store) -> int:
    """Batches left RECEIVED by a crashed process (nobody holds them) become FAILED, to be retried."""
    with store.engine.connect() as conn:
        in_flight = register.in_flight(conn)
    recovered = 0
    for batch_id in in_flight:
        with try_lock(store.engine, f"batch-{batch_id}") as free:
            if free:
                register.fail(store.engine, batch_id, "处理中断（进程崩溃或被终止），将自动重试")
                recovered += 1
    if recovered:
        log.warning("启动时恢复了%d个中断的批次（标记为FAILED，将自动重试）", recovered)
    return recovered


class Scheduler:
    """The scheduled jobs over one settings object and one store."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self.stopping = threading.Event()
        self.scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(3)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
            timezone=settings.schedule.zone,
        )

    # ------------------------------------------------------------- jobs

    def poll(self) -> None:
        if self.stopping.is_set():
            return
        settings = self.settings.as_of_now()  # a scheduler outlives the day it started
        started = datetime.now(UTC)
        try:
            with SftpClient(settings.require_sftp()) as client:
                summary = pipeline.run_cycle(
                    settings.validation(), settings.pipeline(), self.store, client,
                    retry_due=retry_due(settings), should_stop=self.stopping.is_set,
                )  # fmt: skip
        except HpfError as e:
            log.error("本轮未能运行：%s", e)
            pipeline.note_cycle(self.store, started, error=str(e))
            return
        except SQLAlchemyError as e:
            log.error("本轮未能运行：%s", describe(e))
            pipeline.note_cycle(self.store, started, error=describe(e))
            return
        pipeline.note_cycle(self.store, started, summary)  # run_cycle logged its line and each failure

    def reconcile(self) -> None:
        """The current month's report, daily; and once, after a month has closed, that month's final report."""
        today = self.settings.as_of_now().today
        month = today.year * 100 + today.month
        self._guarded(
            "对账报表", lambda: once(self.store.engine, "reconcile", today.isoformat(), lambda: self._report(month))
        )
        closed = previous_month(month)
        self._guarded(
            f"{closed}月终对账报表",
            lambda: once(self.store.engine, "reconcile-final", str(closed), lambda: self._report(closed, final=True)),
        )

    def not_filed(self) -> None:
        today = self.settings.as_of_now().today
        month = today.year * 100 + today.month
        self._guarded(
            "未申报报表", lambda: once(self.store.engine, "not-filed", str(month), lambda: self._not_filed(month))
        )

    def _guarded(self, what: str, job: Callable[[], object]) -> None:
        """A report that fails is logged in one line and made again at its next occasion."""
        try:
            job()
        except (HpfError, SQLAlchemyError, OSError) as e:
            log.error("%s未能完成：%s", what, str(e).splitlines()[0] if str(e) else type(e).__name__)

    def _report(self, month: int, *, final: bool = False) -> None:
        from jobs.report import reconcile_report

        with tempfile.TemporaryDirectory(prefix="hpf-report-") as folder:
            outcome = reconcile_report(
                self.settings.sftp, self.store, month, Path(folder), arrival=self.settings.funds.arrival
            )
        problems = outcome.reconciliation.problems
        words = "；".join(p.message for p in problems) if problems else "控制合计一致"
        log.info("%s对账报表%s已上传到_finance/outbox：%s", "月终" if final else "", month, words)

    def _not_filed(self, month: int) -> None:
        """Month end: every employer that still owes the month (never filed, or only rejected lists), for finance to chase."""
        from db.reconcile import reconcile

        with self.store.engine.connect() as conn:
            lines = reconcile(conn, month).lines
        missing = lines.filter(pl.col("status").is_in([NOT_FILED, BatchStatus.REJECTED.value])).select(
            "unit_account", "employer_name", "status", "members_active"
        )
        body = missing.with_columns(guard_formula(pl.col("employer_name")).alias("employer_name")).write_csv(
            line_terminator="\r\n"
        )
        with SftpClient(self.settings.require_sftp()) as client:
            client.publish_finance({f"not_filed_{month}.csv": b"\xef\xbb\xbf" + body.encode("utf-8")})
        log.info("月末未申报单位%s：%d个，已上传到_finance/outbox", month, missing.height)

    # ---------------------------------------------------------- running

    def add_jobs(self) -> None:
        s = self.settings.schedule
        self.scheduler.add_job(
            self.poll, IntervalTrigger(seconds=s.poll_seconds, timezone="UTC"), id="poll",
            next_run_time=datetime.now(UTC), replace_existing=True,
        )  # fmt: skip
        zone = s.zone
        self.scheduler.add_job(
            self.reconcile, cron_trigger(s.reconcile_cron, zone), id="reconcile", replace_existing=True
        )
        self.scheduler.add_job(
            self.not_filed, CronTrigger(day="last", hour=22, timezone=zone), id="not-filed", replace_existing=True
        )

    def stop(self, signum: int, _frame: Any) -> None:
        log.info("收到信号%d：完成当前文件后停止", signum)
        self.stopping.set()
        threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        recover(self.store)
        self.add_jobs()
        log.info(
            "调度器启动：每%d秒轮询，对账 %s（%s时间），月末最后一天22:00未申报报表",
            self.settings.schedule.poll_seconds,
            self.settings.schedule.reconcile_cron,
            self.settings.schedule.timezone,
        )
        self.scheduler.start()
        log.info("调度器已停止")
