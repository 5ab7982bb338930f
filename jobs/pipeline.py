"""The job: one cycle over every employer's inbox, each ready file taken through its steps.

    claim -> fetch -> validate -> decide (post, in one transaction with the outcome
    and the result files) -> publish results -> archive the source

The batch row records the step reached, so a file left behind by a crash is
resumed where it stopped at the next cycle, never redone: its outcome and
result files were committed together. One bad file never stops the others;
one failing employer never stops the cycle; only an SFTP server that cannot be
reached at all ends it early.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from batch import ledger, register
from batch.locks import try_lock
from batch.results import result_files
from batch.stopwatch import IDLE, Stopwatch
from batch.store import Store
from batch.validate import Report, Submission, validate
from jobs.check import rules_from
from jobs.settings import Settings
from sftp.client import ReadyFile, SftpClient, SftpError, SftpUnavailable

log = logging.getLogger(__name__)

CRASH_ENV = "HPF_CRASH_AT"
"""Test hook: SIGKILL this process at the named point (claimed, fetched, posting, committed, published)."""


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class CycleSummary:
    """What one cycle did, for the log line and the operator's table."""

    files: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    busy: int = 0
    waiting: int = 0
    stopped: bool = False
    watch: Stopwatch = field(default_factory=Stopwatch)
    """Seconds per stage, summed over the cycle's files."""

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files, "outcomes": dict(self.outcomes), "failed": self.failed,
            "busy": self.busy, "waiting": self.waiting, "stopped": self.stopped,
            "seconds": self.watch.as_dict(),
        }  # fmt: skip

    def add(self, other: dict[str, Any]) -> None:
        """Another worker's summary (its `as_dict`), added to this one."""
        self.files += other["files"]
        self.outcomes.update(other["outcomes"])
        self.failed += other["failed"]
        self.busy += other["busy"]
        self.waiting += other["waiting"]
        self.stopped = self.stopped or other["stopped"]
        for stage, seconds in other["seconds"].items():
            self.watch.seconds[stage] = self.watch.seconds.get(stage, 0.0) + seconds

    def line(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "无"
        tail = "；已按要求停止" if self.stopped else ""
        return (
            f"本轮处理{self.files}个文件：{parts}；失败{len(self.failed)}个；他人处理中{self.busy}个；"
            f"等待重试{self.waiting}个{tail}"
        )


class _BatchLookups:
    """The store's lookups, with duplicates judged against batches older than this one."""

    def __init__(self, store: Store, batch_id: int) -> None:
        self.store, self.batch_id = store, batch_id
        self.employer, self.members = store.employer, store.members

    def earlier_batch(self, sha256: str) -> int | None:
        with self.store.engine.connect() as conn:
            return register.earlier_batch(conn, sha256, before=self.batch_id)


RetryDue = Callable[[Any], bool]
"""Whether a batch that failed before may be tried again now (None: always)."""


def run_cycle(
    settings: Settings,
    store: Store,
    client: SftpClient,
    *,
    retry_due: RetryDue | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_file: Callable[[ReadyFile], object] = lambda ready: None,
    part: tuple[int, int] = (0, 1),
) -> CycleSummary:
    """Every ready file of every employer, once. Raises SftpUnavailable if the server cannot be reached.

    `should_stop` is asked between files: a stop request ends the cycle at a safe point.
    `part` (k, n): only every n-th employer from the k-th, for n workers sharing a cycle.
    Two workers given the same file are safe (the batch's lock); one never given it leaves it for the next cycle.
    """
    summary = CycleSummary()
    index, parts = part
    with store.engine.connect() as conn:
        unfinished = register.unfinished(conn)  # once per cycle, not once per employer
    for unit in client.units()[index::parts]:
        try:
            ready_files = client.ready_files(unit)
        except SftpUnavailable:
            raise
        except SftpError as e:
            summary.failed.append(f"{unit}: {e}")
            continue
        for ready in [*ready_files, *_left_behind(unfinished.get(unit, []), ready_files)]:
            if should_stop():
                summary.stopped = True
                log.info(summary.line())
                return summary
            summary.files += 1
            on_file(ready)
            outcome = process(settings, store, client, ready, retry_due=retry_due, watch=summary.watch)
            if outcome == "BUSY":
                summary.busy += 1
            elif outcome == "WAITING":
                summary.waiting += 1
            elif outcome == "FAILED":
                summary.failed.append(f"{unit}/{ready.name}")
            else:
                summary.outcomes[outcome] += 1
    log.info(summary.line())
    return summary


def _left_behind(unfinished: list[Any], ready_files: list[ReadyFile]) -> list[ReadyFile]:
    """The unit's decided batches whose source is no longer ready in the inbox, to be finished anyway.

    A crash (or a dropped connection) between moving the source to `archive/`
    and moving its marker leaves a marker without a file, which is never
    "ready" again: without this the batch would wait at `published` forever.
    """
    in_inbox = {ready.name for ready in ready_files}
    return [
        ReadyFile(row.unit_account, row.file_name, row.file_size, row.file_mtime, marker=None)
        for row in unfinished
        if row.file_name not in in_inbox
    ]


def process(
    settings: Settings,
    store: Store,
    client: SftpClient,
    ready: ReadyFile,
    *,
    retry_due: RetryDue | None = None,
    watch: Stopwatch = IDLE,
) -> str:
    """Take one file as far as it can go; returns its status, BUSY, WAITING or FAILED."""
    engine = store.engine
    arrival = register.Arrival(ready.unit, ready.name, ready.size, ready.mtime)
    claimed, created = register.claim(engine, arrival)
    with try_lock(engine, f"batch-{claimed.id}") as mine:
        if not mine:
            return "BUSY"
        with engine.connect() as conn:
            batch = register.get(conn, claimed.id)  # as it is now that we hold it
        assert batch is not None
        if batch.step == "archived":
            return str(batch.status)
        failed_before = batch.status == "FAILED" or batch.last_error is not None
        if failed_before and retry_due is not None and not retry_due(batch):
            return "WAITING"
        if not created:
            register.retry(engine, batch.id)
        crash_point("claimed")
        # The step is tracked here from the row read under the lock: nobody else moves a batch we hold.
        status, step = str(batch.status), batch.step
        try:
            if step == "claimed":
                status, step = _decide(settings, store, client, ready, batch.id, watch), "decided"
            if step == "decided":
                with watch.stage("publish"):
                    # Only a publish tried before can have left a temporary file to sweep.
                    _publish(engine, client, ready, batch.id, sweep=not created)
                step = "published"
            if step == "published":
                with watch.stage("archive"):
                    _archive(engine, client, ready, batch.id)
        except SftpUnavailable as e:
            register.fail(engine, batch.id, str(e))
            raise
        except (OperationalError, InterfaceError) as e:
            # The database is down or the connection was lost: not a bug in this file, and the next file
            # would fail the same way. Record it if the database still answers; the cycle stops.
            with contextlib.suppress(OperationalError, InterfaceError):
                register.fail(engine, batch.id, f"数据库不可用：{str(e).splitlines()[0]}")
            raise
        except (SftpError, ledger.PostingConflict) as e:
            register.fail(engine, batch.id, str(e))
            return "FAILED"
        except Exception as e:  # a bug must not stop the other files
            log.error("批次%s内部错误\n%s", batch.id, traceback.format_exc())
            register.fail(engine, batch.id, f"内部错误：{type(e).__name__}: {e}")
            return "FAILED"
        return status


def _decide(
    settings: Settings, store: Store, client: SftpClient, ready: ReadyFile, batch_id: int, watch: Stopwatch
) -> str:
    """Fetch, validate, and commit the outcome with its postings and result files; returns the status."""
    rules = rules_from(settings)
    if ready.size > rules.max_file_bytes:  # never pulled into memory: rejected from its listed size
        submission = Submission(ready.name, b"", inbox_unit=ready.unit, marker=ready.marker, size=ready.size)
    else:
        with watch.stage("fetch"):
            data = client.fetch(ready)
            if settings.require_sftp().ready == "settle" and not client.unchanged(ready):
                raise SftpError(f"{ready.name} 在读取过程中被修改，待其稳定后作为新文件处理")
        submission = Submission(ready.name, data, inbox_unit=ready.unit, marker=ready.marker)
    crash_point("fetched")
    report = validate(submission, rules, _BatchLookups(store, batch_id), watch)
    status = "DUPLICATE" if report.duplicate_of is not None else "POSTED" if report.ok else "REJECTED"
    with watch.stage("results"):
        files = result_files(
            report, batch_id=batch_id, status=status, xlsx_detail_rows=settings.limits.xlsx_detail_rows
        )
    with watch.stage("post"), store.engine.begin() as conn:
        if status == "POSTED":
            assert report.unit_account is not None and report.month is not None
            ledger.post(conn, batch_id, report.unit_account, report.month, _deposit_rows(report))
            crash_point("posting")
        register.decide(
            conn,
            batch_id,
            status=status,
            month=report.month,
            sha256=report.sha256 or None,
            counts=_counts(report, status),
            duplicate_of=report.duplicate_of,
            files=files,
            message=_message(report, status),
        )
    crash_point("committed")
    return status


def _publish(engine: Engine, client: SftpClient, ready: ReadyFile, batch_id: int, *, sweep: bool) -> None:
    with engine.connect() as conn:
        files = register.results(conn, batch_id)
    client.publish(ready.unit, files, sweep=sweep)
    register.advance(engine, batch_id, "published", f"结果已上传到outbox：{', '.join(files)}")
    crash_point("published")


def _archive(engine: Engine, client: SftpClient, ready: ReadyFile, batch_id: int) -> None:
    where = client.archive(ready)
    register.advance(engine, batch_id, "archived", f"源文件已归档：{where}")


def _deposit_rows(report: Report) -> pl.DataFrame:
    return report.rows.select(
        "member_account",
        pl.col("employer_amount_fen").alias("employer_fen"),
        pl.col("employee_amount_fen").alias("employee_fen"),
    )


def _counts(report: Report, status: str) -> dict[str, int]:
    posted = status == "POSTED"
    return {
        "rows": report.rows.height,
        "posted_rows": report.rows.height if posted else 0,
        "rejected_rows": report.rejected_rows,
        "total_fen": report.total_fen,
        "posted_fen": report.total_fen if posted else 0,
    }


def _message(report: Report, status: str) -> str:
    if status == "POSTED":
        return f"已入账{report.rows.height}行"
    if status == "DUPLICATE":
        return f"重复文件，与批次{report.duplicate_of}相同"
    codes = Counter(p.code for p in report.file_problems)
    codes.update(dict(report.row_problems["code"].value_counts().iter_rows()))
    return "拒绝：" + "、".join(f"{c}×{n}" for c, n in codes.most_common())
