"""A list's outcome in two halves: judged outside any transaction, then committed inside one.

`judge` validates a fetched remittance or change list and builds what can be
built beforehand (status, result files, payment notice); `commit` writes the
outcome with its postings or changes inside the caller's transaction. A file
taken alone commits in a transaction of its own; a cycle's small files commit
many decisions in one (`jobs.groups`), each still all or nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Connection

from batch.change_report import ChangeReport, is_change_list, validate_changes
from batch.change_results import change_result_files
from batch.changes import parse_change_list_name
from batch.filename import FileName, parse_file_name
from batch.lookups import Lookups
from batch.money import format_yuan
from batch.results import Decided, result_files_many, result_names
from batch.stopwatch import IDLE, Stopwatch
from batch.validate import Earlier, Report, Submission, ValidationOptions, validate_many
from db import funds, ledger, register, roster
from db.store import Store
from jobs import funding
from jobs.crashes import crash_point
from jobs.settings import PipelineOptions
from schemas.codes import Problem
from schemas.statuses import BatchStatus


def check(
    submission: Submission,
    options: ValidationOptions,
    store: Store,
    *,
    before: int | None = None,
    watch: Stopwatch = IDLE,
    lookups: Lookups | None = None,
) -> Report | ChangeReport:
    """Validate a remittance or change list as SPEC §3.2 and §4 say, duplicates judged by the register.

    A duplicate is the same bytes for the same kind of file, employer and month
    (from the file's name) as a standing batch older than `before`: the name
    must be well formed to say. `lookups` are the store's answers read beforehand
    (`read_ahead`).
    """
    return check_many([(submission, before)], options, store, watch, lookups)[0]


def check_many(
    items: list[tuple[Submission, int | None]],
    options: ValidationOptions,
    store: Store,
    watch: Stopwatch = IDLE,
    given: Lookups | None = None,
) -> list[Report | ChangeReport]:
    """`check` of several files (each with its `before`); remittance lists validated together (`validate_many`)."""
    with store.engine.connect() as conn:
        earlier = [_earlier(submission, conn, before) for submission, before in items]
    lists = [(s, e) for (s, _), e in zip(items, earlier, strict=True) if not is_change_list(s.file_name)]
    named = [n for n in (file_name_of(s.file_name) for s, _ in lists) if isinstance(n, FileName)]
    lookups: Lookups = given or store
    if given is None and len(lists) > 1 and named:  # the group's employers and members read at once
        lookups = store.for_group([n.unit_account for n in named], min(n.month for n in named))
    reports = iter(validate_many(lists, options, lookups, watch) if lists else [])
    return [
        validate_changes(s, options, store, watch, duplicate_of=e) if is_change_list(s.file_name) else next(reports)
        for (s, _), e in zip(items, earlier, strict=True)
    ]


READ_AHEAD_BYTES = 1 << 20
"""A remittance list from this size has its employer and members read while it is being fetched."""


@contextmanager
def read_ahead(store: Store, name: str, size: int) -> Iterator[Callable[[], Lookups | None]]:
    """Inside: the employer and members that the list named `name` is checked against are read on a thread.

    Reading a large employer's members is SQLite's or PostgreSQL's work and
    polars' parsing (both let go of the GIL), fetching is the SSH session's: at
    200,000 rows they overlap, which saves the shorter of the two (about 0.25 s).
    The answers are what `check` would read a moment later; posting still
    refuses a roster changed since (`roster_version`). The function given
    returns them once the fetch is done (None for a small list, a change list or
    a name that does not parse, which are read as before).
    """
    parsed = parse_file_name(name) if size >= READ_AHEAD_BYTES and not is_change_list(name) else None
    if not isinstance(parsed, FileName):
        yield lambda: None
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        reading = pool.submit(store.for_group, [parsed.unit_account], parsed.month)
        yield reading.result


def _earlier(submission: Submission, conn: Connection, before: int | None) -> Earlier | None:
    """The standing batch these bytes repeat, if any."""
    name = file_name_of(submission.file_name)
    if not submission.sha256 or not isinstance(name, FileName):
        return None
    found = register.earlier_batch(
        conn, submission.sha256, name.unit_account, name.month, before=before,
        change_list=is_change_list(submission.file_name),
    )  # fmt: skip
    return Earlier(*found) if found else None


def file_name_of(name: str) -> FileName | Problem:
    """What a remittance or change list's name declares (unit, month, tag)."""
    return parse_change_list_name(name) if is_change_list(name) else parse_file_name(name)


def month_of(name: str) -> int | None:
    parsed = file_name_of(name)
    return parsed.month if isinstance(parsed, FileName) else None


@dataclass
class Decision:
    """One list's outcome, judged and not yet written."""

    batch_id: int
    unit: str
    report: Report | ChangeReport
    status: BatchStatus
    own_names: bool
    """Another standing batch of the employer has results of the same names (SPEC §6)."""
    files: dict[str, bytes] = field(default_factory=dict)
    """The result files; an applied change list's are built by `commit` (they give the new accounts)."""
    decided: Decided | None = None
    """What a remittance list's result files are built from, when `commit_building` builds them beside its posting."""


def judge(
    submission: Submission,
    validation: ValidationOptions,
    options: PipelineOptions,
    store: Store,
    unit: str,
    batch_id: int,
    watch: Stopwatch = IDLE,
    *,
    build: bool = True,
    lookups: Lookups | None = None,
) -> Decision:
    """Validate a fetched list and build what its outcome needs before the transaction.

    `build=False` leaves a remittance list's result files to `commit_building`; `lookups`
    are the store's answers read beforehand (`read_ahead`).
    """
    report = check(submission, validation, store, before=batch_id, watch=watch, lookups=lookups)
    return decision_on(report, options, store, unit, batch_id, watch, build=build)


def decision_on(
    report: Report | ChangeReport, options: PipelineOptions, store: Store, unit: str, batch_id: int, watch: Stopwatch,
    *, build: bool = True,
) -> Decision:  # fmt: skip
    """The outcome of a checked list, with what can be built before the transaction (results, notice)."""
    return decisions_on([(report, unit, batch_id)], options, store, watch, build=build)[0]


def decisions_on(
    items: list[tuple[Report | ChangeReport, str, int]], options: PipelineOptions, store: Store, watch: Stopwatch,
    *, build: bool = True,
) -> list[Decision]:  # fmt: skip
    """`decision_on` of several checked lists (report, unit, batch id), the remittance results built together."""
    decisions: list[Decision] = []
    outcomes: list[tuple[Decision, Decided]] = []
    with store.engine.connect() as conn:
        for report, unit, batch_id in items:
            # A standing batch's results are never replaced by another batch's (SPEC §6).
            taken = register.result_owner(conn, unit, result_names(report.file_name)[0], other_than=batch_id)
            status = _status_of(report, options)
            decision = Decision(batch_id, unit, report, status, taken is not None)
            decisions.append(decision)
            if isinstance(report, ChangeReport):
                if status != BatchStatus.APPLIED:
                    with watch.stage("results"):
                        decision.files = change_result_files(
                            report, batch_id=batch_id, status=status, xlsx_detail_rows=options.xlsx_detail_rows,
                            own_names=decision.own_names,
                        )  # fmt: skip
                continue
            notice = None
            if status == BatchStatus.AWAITING_FUNDS:
                assert report.unit_account is not None and report.month is not None
                today = funding.today_of(options)
                total = report.total_fen or 0
                notice = funding.awaiting_notice(conn, options.funds, report.unit_account, report.month, total, today)
            outcomes.append((decision, Decided(report, batch_id, status, decision.own_names, notice)))
    if not build:
        for decision, decided in outcomes:
            decision.decided = decided
        return decisions
    with watch.stage("results"):
        built = result_files_many([o for _, o in outcomes], xlsx_detail_rows=options.xlsx_detail_rows)
    for (decision, _), files in zip(outcomes, built, strict=True):
        decision.files = files
    return decisions


def _status_of(report: Report | ChangeReport, options: PipelineOptions) -> BatchStatus:
    if isinstance(report, ChangeReport):
        return _change_status(report)
    if report.duplicate_of is not None:
        return BatchStatus.DUPLICATE
    if not report.ok:
        return BatchStatus.REJECTED
    return BatchStatus.AWAITING_FUNDS if options.funds.arrival else BatchStatus.POSTED


def commit_many(conn: Connection, decisions: list[Decision], options: PipelineOptions, watch: Stopwatch = IDLE) -> None:
    """`commit` of a group's decisions in the caller's transaction, the lists to post posted together.

    `ledger.post_many` writes the deposits of every POSTED list at once; each
    outcome is then recorded as `commit` records it. A list that cannot be
    written raises, and the caller's transaction holds nothing of the group.
    """
    posting = [d for d in decisions if d.status == BatchStatus.POSTED and isinstance(d.report, Report)]
    together = len(posting) > 1
    if together:
        ledger.post_many(conn, [_posting(d) for d in posting], booked_on=options.today)
        crash_point("posting")
    for n, decision in enumerate(decisions):
        commit(conn, decision, options, watch, posted=together)
        if n == 0:
            crash_point("grouped")  # inside the group's transaction, one list written, others not yet


def commit_building(conn: Connection, decision: Decision, options: PipelineOptions, watch: Stopwatch = IDLE) -> None:
    """`commit` of one list whose result files are built in a thread while the database posts it.

    Posting is the database's work (sqlite3 and psycopg let go of the GIL while it runs) and the
    results are polars' and the workbook writer's, so on two cores they overlap: a million-row
    list saves about the shorter of the two. The files are the same either way, and are written
    in the same transaction as the outcome. Stage `results` counts only the wait for them after
    the posting. A failed posting waits for the thread, then rolls back as before.
    """
    if decision.decided is None:
        commit(conn, decision, options, watch)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="results") as pool:
        building = pool.submit(result_files_many, [decision.decided], xlsx_detail_rows=options.xlsx_detail_rows)
        commit(conn, decision, options, watch, building=building)


def _posting(decision: Decision) -> ledger.Posting:
    report = decision.report
    assert isinstance(report, Report) and report.unit_account is not None and report.month is not None
    return ledger.Posting(
        decision.batch_id, report.unit_account, report.month, _deposit_rows(report), report.roster_version
    )


def commit(
    conn: Connection, decision: Decision, options: PipelineOptions, watch: Stopwatch = IDLE, *, posted: bool = False,
    building: Future[list[dict[str, bytes]]] | None = None,
) -> None:  # fmt: skip
    """Write the outcome, its postings or changes and its result files, inside the caller's transaction.

    `posted`: a POSTED list's deposits are written already (`commit_many`). `building`: its result
    files, being built beside the posting (`commit_building`).
    """
    report, status, batch_id = decision.report, decision.status, decision.batch_id
    if isinstance(report, ChangeReport):
        if status == BatchStatus.APPLIED:
            applied = roster.apply(conn, batch_id, report.transitions())
            crash_point("applying")
            with watch.stage("results"):
                decision.files = change_result_files(
                    report, batch_id=batch_id, status=status, xlsx_detail_rows=options.xlsx_detail_rows,
                    applied=applied, own_names=decision.own_names,
                )  # fmt: skip
        register.decide(
            conn, batch_id, status=status, month=report.month, sha256=report.sha256 or None,
            counts={
                "rows": report.rows.height,
                "posted_rows": report.rows.height if status == BatchStatus.APPLIED else 0,
                "rejected_rows": report.rejected_rows,
                "total_fen": None,
                "posted_fen": None,
            },
            duplicate_of=report.duplicate_of, files=decision.files, message=_change_message(report, status),
        )  # fmt: skip
        return
    if status == BatchStatus.AWAITING_FUNDS:
        assert report.unit_account is not None and report.month is not None
        funds.keep_rows(conn, batch_id, _deposit_rows(report))
        funding.supersede(conn, report.unit_account, report.month, batch_id, options)
        register.awaiting(conn, batch_id, since=funding.today_of(options), roster_version=report.roster_version)
    if status == BatchStatus.POSTED and not posted:
        assert report.unit_account is not None and report.month is not None
        ledger.post(
            conn, batch_id, report.unit_account, report.month, _deposit_rows(report),
            roster_version=report.roster_version, booked_on=options.today,
        )  # fmt: skip
        crash_point("posting")
    if building is not None:
        with watch.stage("results"):
            (decision.files,) = building.result()
    register.decide(
        conn, batch_id, status=status, month=report.month, sha256=report.sha256 or None,
        counts=_counts(report, status), duplicate_of=report.duplicate_of, files=decision.files,
        message=_message(report, status),
    )  # fmt: skip


def _change_status(report: ChangeReport) -> BatchStatus:
    if report.duplicate_of is not None:
        return BatchStatus.DUPLICATE
    return BatchStatus.APPLIED if report.ok else BatchStatus.REJECTED


def _change_message(report: ChangeReport, status: BatchStatus) -> str:
    if status == BatchStatus.APPLIED:
        kinds = Counter(report.rows["change_type"].str.strip_chars().to_list())
        return f"已办理变更{report.rows.height}行：" + "、".join(f"{k}{n}行" for k, n in kinds.most_common())
    if status == BatchStatus.DUPLICATE:
        return f"重复文件，与批次{report.duplicate_of}（{report.duplicate_status}）相同"
    return _rejection(report)


def _deposit_rows(report: Report) -> pl.DataFrame:
    return report.rows.select(
        "member_account",
        pl.col("employer_amount_fen").alias("employer_fen"),
        pl.col("employee_amount_fen").alias("employee_fen"),
    )


def _counts(report: Report, status: BatchStatus) -> dict[str, int | None]:
    posted = status == BatchStatus.POSTED
    return {
        "rows": report.rows.height,
        "posted_rows": report.rows.height if posted else 0,
        "rejected_rows": report.rejected_rows,
        "total_fen": report.total_fen,
        "posted_fen": report.total_fen if posted else 0,
    }


def _message(report: Report, status: BatchStatus) -> str:
    if status == BatchStatus.POSTED:
        return f"已入账{report.rows.height}行"
    if status == BatchStatus.AWAITING_FUNDS:
        return f"检查通过{report.rows.height}行，合计{format_yuan(report.total_fen or 0)}元，待缴款到账后入账"
    if status == BatchStatus.DUPLICATE:
        return f"重复文件，与批次{report.duplicate_of}（{report.duplicate_status}）相同"
    return _rejection(report)


def _rejection(report: Report | ChangeReport) -> str:
    codes = Counter(p.code for p in report.file_problems)
    codes.update(dict(report.row_problems["code"].value_counts().iter_rows()))
    return "拒绝：" + "、".join(f"{c}×{n}" for c, n in codes.most_common())
