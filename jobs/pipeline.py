"""The job: one cycle over every employer's inbox, each ready file taken through its steps.

    claim -> fetch -> validate -> decide (post, in one transaction with the outcome
    and the result files) -> publish results -> archive the source

A cycle with many small files takes them in groups (`jobs.groups`: each step
for the whole group at once, the outcomes in one transaction); the steps and
their guarantees are the same. The batch row records the step reached, so a file left behind by a crash is
resumed where it stopped at the next cycle, never redone: its outcome and
result files were committed together. One bad file never stops the others;
one failing employer never stops the cycle; only an SFTP server that cannot be
reached at all ends it early.

Failures come in two families (`schemas.errors`): a `TransientError` (SFTP
or the database out of reach) is recorded and stops the cycle, since the
next file would fail alike; anything else (a `TerminalError`, or a bug) makes
this batch FAILED with its reason and the cycle goes on.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from batch.changes import parse_change_list_name
from batch.filename import FileName, parse_file_name
from batch.stopwatch import IDLE, Stopwatch
from batch.validate import Submission, ValidationOptions
from db import inbox, register
from db.engine import identity
from db.errors import DatabaseReplaced, database_errors
from db.locks import try_lock, try_locks
from db.register import Batch
from db.store import Store
from jobs import funding, groups
from jobs.crashes import crash_point
from jobs.decisions import check, commit_building, file_name_of, judge, month_of, read_ahead
from jobs.settings import PipelineOptions
from schemas.errors import HpfError, TransientError
from schemas.statuses import STEP_LABELS, BatchStatus, Outcome, Step
from sftp.client import BANK, Inbox, InboxProblem, ReadyFile, SftpClient
from sftp.errors import FileChanged
from sftp.sessions import Sessions, sessions

__all__ = ["CycleSummary", "Retry", "check", "file_name_of", "in_order", "process", "republish", "run_cycle"]

log = logging.getLogger(__name__)


@dataclass
class CycleSummary:
    """What one cycle did, for the log line and the operator's table."""

    files: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    busy: int = 0
    waiting: int = 0
    exhausted: int = 0
    """FAILED batches that used up their attempts: they wait for a person."""
    inbox_problems: int = 0
    """Things in inboxes that will never be processed as they are (see `hpf batches list --attention`)."""
    stopped: bool = False
    watch: Stopwatch = field(default_factory=Stopwatch)
    """Seconds per stage, summed over the cycle's files."""

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files, "outcomes": dict(self.outcomes), "failed": self.failed,
            "busy": self.busy, "waiting": self.waiting, "exhausted": self.exhausted,
            "inbox_problems": self.inbox_problems, "stopped": self.stopped,
            "seconds": self.watch.as_dict(),
        }  # fmt: skip

    def add(self, other: dict[str, Any]) -> None:
        """Another worker's summary (its `as_dict`), added to this one."""
        self.files += other["files"]
        self.outcomes.update(other["outcomes"])
        self.failed += other["failed"]
        self.busy += other["busy"]
        self.waiting += other["waiting"]
        self.exhausted += other["exhausted"]
        self.inbox_problems += other["inbox_problems"]
        self.stopped = self.stopped or other["stopped"]
        for stage, seconds in other["seconds"].items():
            self.watch.seconds[stage] = self.watch.seconds.get(stage, 0.0) + seconds

    def line(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "无"
        tail = "；已按要求停止" if self.stopped else ""
        return (
            f"本轮处理{self.files}个文件：{parts}；失败{len(self.failed)}个；他人处理中{self.busy}个；"
            f"等待重试{self.waiting}个；重试次数已用完{self.exhausted}个；收件目录问题{self.inbox_problems}个{tail}"
        )


class SameDatabase:
    """The database a cycle started with, checked again before anything is published on its word."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            self.started = identity(engine)
        except DatabaseReplaced:
            # A pool left over from a database replaced before this cycle: start afresh on the file there now.
            engine.dispose()
            self.started = identity(engine)

    def check(self) -> None:
        try:
            now = identity(self.engine)
        except DatabaseReplaced:
            self.engine.dispose()
            raise
        if now != self.started:
            self.engine.dispose()
            raise DatabaseReplaced("数据库在本轮处理中被替换（与本轮开始时不是同一个数据库）：本轮停止，不上传任何结果")


class Retry(StrEnum):
    """Whether a batch that failed before may be tried again now."""

    DUE = "due"
    WAIT = "wait"
    """Its next try is not due yet (backoff)."""
    EXHAUSTED = "exhausted"
    """It used up its attempts: a person must look (`hpf batches rerun`)."""


RetryDue = Callable[[Batch], Retry]
"""The retry policy for batches that failed before (None: always retry)."""


def in_order(ready_files: list[ReadyFile]) -> list[ReadyFile]:
    """An inbox's ready files in the order SPEC §2 takes them: by month, change lists first, then upload time.

    An employer may upload December before November; taken by upload time,
    December would be rejected as not yet due. A file whose name gives no
    month comes last (it is rejected for its name whatever the order).
    """

    def key(ready: ReadyFile) -> tuple[int, int, int, int, str]:
        change_list = parse_change_list_name(ready.name)
        if isinstance(change_list, FileName):  # a month's changes before its remittance list
            return 0, change_list.month, 0, ready.mtime, ready.name
        name = parse_file_name(ready.name)
        if isinstance(name, FileName):
            return 0, name.month, 1, ready.mtime, ready.name
        return 1, 0, 0, ready.mtime, ready.name

    return sorted(ready_files, key=key)


def note_cycle(store: Store, started: datetime, summary: CycleSummary | None = None, error: str | None = None) -> None:
    """Keep when a cycle ran and what stopped it, for the console's 需要处理; never fails the cycle."""
    from db import cycles

    with contextlib.suppress(SQLAlchemyError):
        if summary is None:
            cycles.record(store.engine, started, error=error)
        else:
            cycles.record(store.engine, started, files=summary.files, failed=len(summary.failed), error=error)


def run_cycle(
    validation: ValidationOptions,
    options: PipelineOptions,
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
    with database_errors():
        database = SameDatabase(store.engine)
    with database_errors(), store.engine.connect() as conn:
        unfinished = register.unfinished(conn)  # once per cycle, not once per employer
        troubled = inbox.known(conn)
    with sessions(client, options.sessions) as pool:
        if index == 0:
            summary.failed += republish(store, client, database, pool)
        units = client.units()[index::parts]
        if options.funds.arrival:
            # Expiry first: a list that waited too long is not posted by money that came after its time.
            _settle(store, options, summary, expire_only=True)

        def one(ready: ReadyFile) -> None:
            summary.files += 1
            on_file(ready)
            outcome = process(
                validation, options, store, client, ready, retry_due=retry_due, watch=summary.watch, database=database
            )
            _count(store, summary, ready, outcome)
            if outcome == Outcome.BOOKED:  # SPEC §9: after booking a file, post what its money covers
                _settle(store, options, summary)

        with summary.watch.stage("scan"):
            queues = _scan(store, client, pool, units, troubled, unfinished, summary)
        small = [r for queue in queues for r in queue if _small(r, validation, options)]
        if len(small) >= options.group_from:
            for chunk in _groups(queues, options.group_size):
                if should_stop():
                    return _stopped(summary)
                _take_group(validation, options, store, pool, chunk, one, summary, database, on_file)
        else:
            for ready in (r for queue in queues for r in queue):
                if should_stop():
                    return _stopped(summary)
                one(ready)
        if options.funds.arrival and index == 0:
            # After the employers' lists, so money that came today finds the lists sent today.
            for queue in _scan(store, client, pool, [BANK], troubled, unfinished, summary):
                for ready in queue:
                    if should_stop():
                        return _stopped(summary)
                    one(ready)
        if options.funds.arrival:
            _settle(store, options, summary)
            with summary.watch.stage("republish"):
                summary.failed += republish(store, client, database, pool)
    log.info(summary.line())
    return summary


def _stopped(summary: CycleSummary) -> CycleSummary:
    summary.stopped = True
    log.info(summary.line())
    return summary


def _count(store: Store, summary: CycleSummary, ready: ReadyFile, outcome: Outcome) -> None:
    if outcome == Outcome.BUSY:
        summary.busy += 1
    elif outcome == Outcome.WAITING:
        summary.waiting += 1
    elif outcome == Outcome.EXHAUSTED:
        summary.exhausted += 1
    elif outcome == Outcome.FAILED:
        failure = _failure(store, ready)
        log.error("失败：%s", failure)
        summary.failed.append(failure)
    else:
        summary.outcomes[outcome.value] += 1


def _scan(
    store: Store,
    client: SftpClient,
    pool: Sessions,
    units: list[str],
    troubled: set[str],
    unfinished: dict[str, list[Batch]],
    summary: CycleSummary,
) -> list[list[ReadyFile]]:
    """Each unit's files to take, in the order SPEC §2 takes them, the inboxes listed over the pool's sessions."""
    queues = []
    for unit, scanned in zip(units, pool.map(lambda session, unit: session.scan(unit), units), strict=True):
        if isinstance(scanned, TransientError):
            raise scanned
        if isinstance(scanned, HpfError):
            scanned = Inbox([], [InboxProblem(unit, "inbox/", f"无法列出收件目录：{scanned}")])
        elif isinstance(scanned, BaseException):
            raise scanned
        summary.inbox_problems += len(scanned.problems)
        if scanned.problems or unit in troubled:  # record what is new, forget what was fixed
            _report_inbox(store, client, unit, scanned.problems)
        ready_files = scanned.ready
        queue = [*in_order(ready_files), *_left_behind(unfinished.get(unit, []), ready_files)]
        if queue:
            queues.append(queue)
    return queues


def _small(ready: ReadyFile, validation: ValidationOptions, options: PipelineOptions) -> bool:
    """A file taken with others: a list of an employer (not the bank's), small enough to hold many in memory."""
    return ready.unit != BANK and ready.size <= min(options.small_file_bytes, validation.max_file_bytes)


def _groups(queues: list[list[ReadyFile]], size: int) -> Iterator[list[ReadyFile]]:
    """Rounds of at most one file per employer (its first, then its second, …), cut into groups of `size`.

    An employer's second file is taken only after its first is done: its
    change list before its list, November before December.
    """
    for depth in range(max((len(q) for q in queues), default=0)):
        round_ = [q[depth] for q in queues if len(q) > depth]
        for start in range(0, len(round_), size):
            yield round_[start : start + size]


def _take_group(
    validation: ValidationOptions,
    options: PipelineOptions,
    store: Store,
    pool: Sessions,
    chunk: list[ReadyFile],
    one: Callable[[ReadyFile], None],
    summary: CycleSummary,
    database: SameDatabase,
    on_file: Callable[[ReadyFile], object],
) -> None:
    """The new small files of `chunk` together (`jobs.groups`); the others (large, resumed, retried) one at a time."""
    small = [r for r in chunk if _small(r, validation, options)]
    with database_errors():
        created = register.claim_new(store.engine, [_arrival(r) for r in small])
    claimed = [(r, created[_arrival(r)]) for r in small if _arrival(r) in created]
    for ready in chunk:
        if _arrival(ready) not in created:
            one(ready)
    summary.files += len(claimed)
    for ready, _ in claimed:
        on_file(ready)
    for ready, outcome in groups.take(
        validation, options, store, pool, claimed, watch=summary.watch, check_database=database.check
    ):
        _count(store, summary, ready, outcome)


def _arrival(ready: ReadyFile) -> register.Arrival:
    return register.Arrival(ready.unit, ready.name, ready.size, ready.mtime)


def _settle(store: Store, options: PipelineOptions, summary: CycleSummary, *, expire_only: bool = False) -> None:
    """Post what the money now covers (and expire what waited too long), counted in the cycle's outcomes."""
    with summary.watch.stage("settle"):
        settled = funding.settle(store, options, post=not expire_only)
    for status, n in settled.outcomes.items():
        summary.outcomes[f"{status}（资金）"] += n


def _report_inbox(store: Store, client: SftpClient, unit: str, problems: list[InboxProblem]) -> None:
    """Record an inbox's problems; log each new one, and tell the employer once in a notice beside its results."""
    with database_errors():
        fresh = inbox.record(store.engine, unit, [inbox.Seen(p.name, p.message) for p in problems])
    for p in fresh:
        log.warning("收件目录问题 单位%s %s：%s", unit, p.name, p.message)
        if p.name == "inbox/":
            continue  # no inbox, or none we can list: nowhere an employer looks
        notice = f"文件：{p.name}\r\n问题：{p.message}\r\n此文件不会被处理；改正后重新上传即可。\r\n"
        try:
            client.publish(unit, {f"{p.name}.problem.txt": "\ufeff".encode() + notice.encode("utf-8")})
        except TransientError:
            raise
        except HpfError as e:
            log.warning("未能把收件目录问题告知单位%s（%s）：%s", unit, p.name, e)
            continue
        with database_errors():
            inbox.told(store.engine, unit, p.name)


REPUBLISH_GROUP = 500
"""Batches whose results are uploaded again under one set of locks, their files read by one query."""


def republish(
    store: Store, client: SftpClient, database: SameDatabase | None = None, pool: Sessions | None = None
) -> list[str]:
    """Upload again the results that changed after publishing (a reversal, a posting from suspense); what failed.

    Under the batches' locks, like any other step: two workers never upload one
    batch's files at once. Uploads are atomic renames, so repeating one is
    harmless; they go over the cycle's sessions (`pool`) when it has some. A
    group's files are read (those due told again and kept, `_taken`) while the
    group before it uploads: telling them is work, uploading mostly waiting.
    """
    failed: list[str] = []
    with database_errors(), store.engine.connect() as conn:
        pending = register.to_republish(conn)
    uploads = pool or Sessions(client, 1)
    chunks = [pending[start : start + REPUBLISH_GROUP] for start in range(0, len(pending), REPUBLISH_GROUP)]
    taken: list[_Taken] = []
    following: _Taken | None = None
    try:
        following = _taken(store, chunks[0]) if chunks else None
        for k in range(len(chunks)):
            assert following is not None
            now = following
            taken.append(now)
            (database or SameDatabase(store.engine)).check()
            items = [(b, now.files.get(b.id, {})) for b in now.mine]
            uploaded = uploads.map(
                lambda session, item: session.publish(item[0].unit_account, item[1], sweep=True), items
            )
            try:
                following = _taken(store, chunks[k + 1]) if k + 1 < len(chunks) else None
            except BaseException:
                for _ in uploaded:  # the group's uploads finish under its locks
                    pass
                raise
            done: list[tuple[int, list[str]]] = []
            stop: BaseException | None = None
            for batch, names in zip(now.mine, uploaded, strict=True):
                if isinstance(names, (TransientError, DatabaseReplaced)):
                    stop = stop or names
                elif isinstance(names, HpfError):
                    failure = f"单位{batch.unit_account} 文件{batch.file_name} 批次{batch.id} 重新上传结果失败：{names}"
                    log.error("失败：%s", failure)
                    failed.append(failure)
                elif isinstance(names, BaseException):
                    stop = stop or names  # a bug: not this batch's trouble alone
                else:
                    done.append((batch.id, list(now.files.get(batch.id, {}))))  # every name, as uploaded
            with database_errors():
                register.republished_many(store.engine, done)
            now.locks.close()
            if stop is not None:
                raise stop
    finally:
        for t in [*taken, *([following] if following is not None else [])]:
            t.locks.close()  # idempotent
    return failed


@dataclass
class _Taken:
    """A group of batches to republish: those this worker holds (locked until `locks` closes) and their files."""

    locks: contextlib.ExitStack
    mine: list[Batch]
    files: dict[int, dict[str, bytes]]


def _taken(store: Store, chunk: list[Batch]) -> _Taken:
    """Lock what of `chunk` no other worker holds and read its files, telling and keeping those due."""
    locks = contextlib.ExitStack()
    try:
        with database_errors():
            held = locks.enter_context(try_locks(store.engine, [f"batch-{b.id}" for b in chunk]))
            mine = [b for b in chunk if f"batch-{b.id}" in held]
            with store.engine.begin() as conn:
                told = register.due(conn, [b.id for b in mine])
                files = register.results_many(conn, [b.id for b in mine])
                register.keep_results(conn, {i: files.get(i, {}) for i in told})  # uploaded as kept
    except BaseException:
        locks.close()
        raise
    return _Taken(locks, mine, files)


def _failure(store: Store, ready: ReadyFile) -> str:
    """One line for an operator: unit, file, batch, the step it stopped at, and why."""
    arrival = register.Arrival(ready.unit, ready.name, ready.size, ready.mtime)
    with contextlib.suppress(TransientError), database_errors(), store.engine.connect() as conn:
        batch = register.of_arrival(conn, arrival)
        if batch is not None:
            return f"单位{ready.unit} 文件{ready.name} 批次{batch.id} 停在{STEP_LABELS[batch.step]}：{batch.last_error}"
    return f"单位{ready.unit} 文件{ready.name}"


def _left_behind(unfinished: list[Batch], ready_files: list[ReadyFile]) -> list[ReadyFile]:
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
    validation: ValidationOptions,
    options: PipelineOptions,
    store: Store,
    client: SftpClient,
    ready: ReadyFile,
    *,
    retry_due: RetryDue | None = None,
    watch: Stopwatch = IDLE,
    database: SameDatabase | None = None,
) -> Outcome:
    """Take one file as far as it can go. Raises TransientError (after recording it) when the cycle must stop.

    DatabaseReplaced is raised and never recorded: the database in front of
    us is not the one this batch belongs to.
    """
    database = database or SameDatabase(store.engine)
    engine = store.engine
    arrival = register.Arrival(ready.unit, ready.name, ready.size, ready.mtime)
    with database_errors():
        claimed, created = register.claim(engine, arrival)
    with try_lock(engine, f"batch-{claimed.id}") as mine:
        if not mine:
            return Outcome.BUSY
        with database_errors(), engine.connect() as conn:
            batch = register.get(conn, claimed.id)  # as it is now that we hold it
        assert batch is not None
        if batch.step == Step.ARCHIVED:
            # Finished by another worker since this cycle listed the inbox: its outcome is that worker's to count.
            return Outcome.BUSY
        if batch.failed_before and retry_due is not None:
            verdict = retry_due(batch)
            if verdict == Retry.WAIT:
                return Outcome.WAITING
            if verdict == Retry.EXHAUSTED:
                return Outcome.EXHAUSTED
        try:
            with database_errors():
                if not created:
                    register.retry(engine, batch.id)
                crash_point("claimed")
                return _steps(
                    validation, options, store, client, ready, batch, sweep=not created, watch=watch, database=database
                )
        except Exception as e:  # recorded; a TransientError (or a replaced database) stops the cycle
            return groups.failed(engine, batch.id, e)


def _steps(
    validation: ValidationOptions,
    options: PipelineOptions,
    store: Store,
    client: SftpClient,
    ready: ReadyFile,
    batch: Batch,
    *,
    sweep: bool,
    watch: Stopwatch,
    database: SameDatabase,
) -> Outcome:
    """The steps still to do, from the one the batch reached (nobody else moves a batch we hold)."""
    status, step = batch.status, batch.step
    decided: tuple[BatchStatus, dict[str, bytes]] | None = None
    if step == Step.CLAIMED:
        status, files = _decide(validation, options, store, client, ready, batch.id, watch)
        step, decided = Step.DECIDED, None if files is None else (status, files)
    if step == Step.DECIDED:
        database.check()  # the outcome just committed must be in the ledger we started with
        with watch.stage("publish"):
            # Only a publish tried before can have left a temporary file to sweep.
            _publish(store.engine, client, ready, batch.id, sweep=sweep, decided=decided)
        step = Step.PUBLISHED
    if step == Step.PUBLISHED:
        with watch.stage("archive"):
            _archive(store.engine, client, ready, batch.id)
    return Outcome.of(status)


def _decide(
    validation: ValidationOptions,
    options: PipelineOptions,
    store: Store,
    client: SftpClient,
    ready: ReadyFile,
    batch_id: int,
    watch: Stopwatch,
) -> tuple[BatchStatus, dict[str, bytes] | None]:
    """Fetch, validate, and commit the outcome with its postings and result files; returns the status and
    the result files committed (None for a bank file, whose notices are the register's to tell)."""
    too_large = ready.size > validation.max_file_bytes
    lookups = None
    if too_large:  # never pulled into memory: rejected from its listed size
        submission = Submission(ready.name, b"", inbox_unit=ready.unit, marker=ready.marker, size=ready.size)
    else:
        list_size = 0 if ready.unit == BANK else ready.size  # a bank file has no members to read ahead
        with watch.stage("fetch"), read_ahead(store, ready.name, list_size) as looked_up:
            data = client.fetch(ready)
            if options.settle and not client.unchanged(ready):
                raise FileChanged(f"{ready.name} 在读取过程中被修改，待其稳定后作为新文件处理")
            with database_errors():
                lookups = looked_up()
        submission = Submission(ready.name, data, inbox_unit=ready.unit, marker=ready.marker)
    if ready.unit == BANK:
        with database_errors():
            register.fetched(store.engine, batch_id, submission.sha256, None)
        crash_point("fetched")
        limit = f"文件大小{ready.size}字节，超过上限{validation.max_file_bytes}字节" if too_large else None
        status = funding.decide_arrivals(
            options, store, ready.name, submission.data, ready.marker, batch_id,
            max_rows=validation.max_rows, too_large=limit, watch=watch,
        )  # fmt: skip
        return status, None
    with database_errors():
        register.fetched(store.engine, batch_id, submission.sha256, month_of(ready.name))
    crash_point("fetched")
    decision = judge(submission, validation, options, store, ready.unit, batch_id, watch, build=False, lookups=lookups)
    with watch.stage("post"), store.engine.begin() as conn:
        commit_building(conn, decision, options, watch)
    crash_point("committed")
    return decision.status, decision.files


def _publish(
    engine: Engine, client: SftpClient, ready: ReadyFile, batch_id: int, *, sweep: bool,
    decided: tuple[BatchStatus, dict[str, bytes]] | None = None,
) -> None:  # fmt: skip
    """Upload the batch's result files: those this process just committed (`decided`: the status and files),
    from memory while the batch stands as decided (reading a large list's 25 MB back from the database cost
    0.14 s), else as the register tells them."""
    with engine.connect() as conn:
        if decided is not None and batch_id in register.as_decided(conn, {batch_id: decided[0]}):
            files = decided[1]
        else:
            files = register.results(conn, batch_id)
    client.publish(ready.unit, files, sweep=sweep)
    register.advance(engine, batch_id, Step.PUBLISHED, f"结果已上传到outbox：{', '.join(files)}")
    crash_point("published")


def _archive(engine: Engine, client: SftpClient, ready: ReadyFile, batch_id: int) -> None:
    where = client.archive(ready)
    register.advance(engine, batch_id, Step.ARCHIVED, f"源文件已归档：{where}")
