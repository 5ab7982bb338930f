"""The batch register: one row per arrival of a file, its history, and its result files.

A batch is claimed by inserting its arrival (unit, file name, size, mtime):
the unique key means two workers that see the same upload cannot both take
it, and a crash leaves the row to be resumed. The outcome (POSTED, REJECTED or
DUPLICATE), the postings, the counts and the result files are written in one
transaction; publishing and archiving then advance `step`. A list posted later
from suspense has its restatement written with the posting and its files told
from it when next read (`results_due`). A batch read from
here is a typed `Batch`, never a bare row.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from batch.masking import mask_ids_in
from db.tables import batch_events, batch_results, batches, results_due
from schemas.statuses import OWNS_RESULTS, STANDING, BatchStatus, Step


@dataclass(frozen=True, slots=True)
class Arrival:
    """One upload of one file, as the inbox shows it."""

    unit_account: str
    file_name: str
    file_size: int
    file_mtime: int


@dataclass(frozen=True, slots=True)
class Batch:
    """One row of the register, typed."""

    id: int
    file_name: str
    unit_account: str
    file_size: int
    file_mtime: int
    month: int | None
    sha256: str | None
    status: BatchStatus
    step: Step
    attempts: int
    last_error: str | None
    rows: int | None
    posted_rows: int | None
    rejected_rows: int | None
    total_fen: int | None
    posted_fen: int | None
    duplicate_of: int | None
    prev_paid_through: int | None
    created_at: datetime
    updated_at: datetime
    republish: bool
    awaiting_since: date | None
    roster_version: int | None

    @classmethod
    def of(cls, row: Row[Any]) -> Batch:
        values = dict(row._mapping)
        return cls(**{**values, "status": BatchStatus(values["status"]), "step": Step(values["step"])})

    @property
    def failed_before(self) -> bool:
        """FAILED, or decided and then failed to publish or archive (its error is kept)."""
        return self.status == BatchStatus.FAILED or self.last_error is not None


_FIELDS = tuple(f.name for f in dataclasses.fields(Batch))
assert set(_FIELDS) == set(batches.c.keys()), "Batch must mirror the batches table"


def claim(engine: Engine, arrival: Arrival) -> tuple[Batch, bool]:
    """The batch of this arrival, and whether this call created it."""
    values = {
        "unit_account": arrival.unit_account,
        "file_name": arrival.file_name,
        "file_size": arrival.file_size,
        "file_mtime": arrival.file_mtime,
    }
    try:
        with engine.begin() as conn:
            batch_id = conn.execute(
                insert(batches)
                .values(**values, status=BatchStatus.RECEIVED, step=Step.CLAIMED, attempts=1)
                .returning(batches.c.id)
            ).scalar_one()
            event(conn, batch_id, BatchStatus.RECEIVED, Step.CLAIMED, "收到文件")
        created = True
    except IntegrityError:
        created = False
    with engine.connect() as conn:
        batch = of_arrival(conn, arrival)
    assert batch is not None
    return batch, created


def claim_new(engine: Engine, arrivals: list[Arrival]) -> dict[Arrival, int]:
    """Claim many arrivals in one transaction; the ids of those this call created (the rest existed already).

    An arrival claimed before (a retry, or another worker's) is left out: the
    caller takes those one at a time, with their history.
    """
    if not arrivals:
        return {}
    # The engine's own dialect module: PostgreSQL's pulls in asyncio, which a command on SQLite never needs.
    dialect = importlib.import_module(f"sqlalchemy.dialects.{engine.dialect.name}")
    rows = [
        {"unit_account": a.unit_account, "file_name": a.file_name, "file_size": a.file_size, "file_mtime": a.file_mtime}
        for a in arrivals
    ]
    key = (batches.c.unit_account, batches.c.file_name, batches.c.file_size, batches.c.file_mtime)
    statement = (
        dialect.insert(batches)
        .values(status=BatchStatus.RECEIVED, step=Step.CLAIMED, attempts=1)
        .on_conflict_do_nothing()
        .returning(batches.c.id, *key)
    )
    with engine.begin() as conn:
        created = {Arrival(*row[1:]): row[0] for row in conn.execute(statement, rows)}
        events(conn, list(created.values()), BatchStatus.RECEIVED, Step.CLAIMED, "收到文件")
    return created


def of_arrival(conn: Connection, arrival: Arrival) -> Batch | None:
    row = conn.execute(
        select(batches).where(
            batches.c.unit_account == arrival.unit_account,
            batches.c.file_name == arrival.file_name,
            batches.c.file_size == arrival.file_size,
            batches.c.file_mtime == arrival.file_mtime,
        )
    ).one_or_none()
    return Batch.of(row) if row is not None else None


def get(conn: Connection, batch_id: int, *, for_update: bool = False) -> Batch | None:
    query = select(batches).where(batches.c.id == batch_id)
    row = conn.execute(query.with_for_update() if for_update else query).one_or_none()
    return Batch.of(row) if row is not None else None


def unfinished(conn: Connection) -> dict[str, list[Batch]]:
    """Per unit, the batches whose outcome is decided but whose results or archiving are not yet done."""
    found: dict[str, list[Batch]] = {}
    query = select(batches).where(batches.c.step.in_((Step.DECIDED, Step.PUBLISHED))).order_by(batches.c.id)
    for row in conn.execute(query):
        found.setdefault(row.unit_account, []).append(Batch.of(row))
    return found


def in_flight(conn: Connection) -> list[int]:
    """Batches still RECEIVED: being worked on now, or left so by a process that died."""
    return list(conn.execute(select(batches.c.id).where(batches.c.status == BatchStatus.RECEIVED)).scalars())


def listing(
    conn: Connection,
    status: BatchStatus | None = None,
    limit: int = 500,
    *,
    unit: str | None = None,
    month: int | None = None,
    attention: bool = False,
    offset: int = 0,
) -> list[Batch]:
    """Batches needing attention first (FAILED, then any with an error), then the newest.

    `status` FAILED also finds batches whose outcome stands but whose results
    or archiving failed (they keep their error); `attention`: only those and FAILED ones.
    """
    order = case((batches.c.status == BatchStatus.FAILED, 0), (batches.c.last_error.is_not(None), 1), else_=2)
    query = select(batches).order_by(order, batches.c.id.desc()).limit(limit).offset(offset)
    query = query.where(*_listed(status, unit, month, attention))
    return [Batch.of(r) for r in conn.execute(query)]


def counted(
    conn: Connection,
    status: BatchStatus | None = None,
    *,
    unit: str | None = None,
    month: int | None = None,
    attention: bool = False,
) -> int:
    """How many batches `listing` would give without a limit (for paging)."""
    query = select(func.count()).select_from(batches).where(*_listed(status, unit, month, attention))
    return int(conn.execute(query).scalar_one())


def _listed(status: BatchStatus | None, unit: str | None, month: int | None, attention: bool) -> list[Any]:
    needs_person = (batches.c.status == BatchStatus.FAILED) | batches.c.last_error.is_not(None)
    where: list[Any] = []
    if status == BatchStatus.FAILED or attention:
        where.append(needs_person)
    elif status:
        where.append(batches.c.status == status)
    if unit:
        where.append(batches.c.unit_account == unit)
    if month:
        where.append(batches.c.month == month)
    return where


def history(conn: Connection, batch_id: int) -> list[Row[Any]]:
    """The batch's events, oldest first: at, status, step, message."""
    return list(
        conn.execute(
            select(batch_events.c.at, batch_events.c.status, batch_events.c.step, batch_events.c.message)
            .where(batch_events.c.batch_id == batch_id)
            .order_by(batch_events.c.id)
        )
    )


CHANGE_LIST = func.upper(func.substr(batches.c.file_name, 1, 3)) == "BG_"
"""A batch of a member change list (`BG_…`, SPEC §3.2) rather than a remittance list."""


def earlier_batch(
    conn: Connection,
    sha256: str,
    unit_account: str,
    month: int,
    *,
    before: int | None = None,
    change_list: bool = False,
) -> tuple[int, BatchStatus] | None:
    """The first standing batch (older than `before`) that took these bytes for this employer and month, and its status.

    Only a standing batch makes a duplicate (SPEC §4): the same bytes may be
    sent again after a rejection or a reversal, and for another month.
    """
    query = (
        select(batches.c.id, batches.c.status)
        .where(
            batches.c.sha256 == sha256,
            batches.c.unit_account == unit_account,
            batches.c.month == month,
            batches.c.status.in_(STANDING),
            # Of the same kind: a change list (BG_…) never repeats a remittance list, nor the other way round.
            CHANGE_LIST if change_list else ~CHANGE_LIST,
        )
        .order_by(batches.c.id)
        .limit(1)
    )
    if before is not None:
        query = query.where(batches.c.id < before)
    row = conn.execute(query).one_or_none()
    return (row.id, BatchStatus(row.status)) if row else None


def earlier_arrival_file(
    conn: Connection, sha256: str, unit_account: str, *, before: int
) -> tuple[int, BatchStatus] | None:
    """The first standing batch older than `before` that took these bytes from this inbox (the bank's)."""
    row = conn.execute(
        select(batches.c.id, batches.c.status)
        .where(
            batches.c.sha256 == sha256,
            batches.c.unit_account == unit_account,
            batches.c.status.in_(STANDING),
            batches.c.id < before,
        )
        .order_by(batches.c.id)
        .limit(1)
    ).one_or_none()
    return (row.id, BatchStatus(row.status)) if row else None


def fetched(engine: Engine, batch_id: int, sha256: str, month: int | None) -> None:
    """Record what a batch holds as soon as it is read, so a batch still in progress already makes a duplicate."""
    with engine.begin() as conn:
        conn.execute(update(batches).where(batches.c.id == batch_id).values(sha256=sha256 or None, month=month))


def result_owner(conn: Connection, unit_account: str, name: str, *, other_than: int) -> int | None:
    """The standing batch of this employer (other than `other_than`) whose results are called `name`, if any."""
    return conn.execute(
        select(batches.c.id)
        .join(batch_results, batch_results.c.batch_id == batches.c.id)
        .where(
            batches.c.unit_account == unit_account,
            batches.c.status.in_(OWNS_RESULTS),
            batches.c.id != other_than,
            batch_results.c.name == name,
        )
        .limit(1)
    ).scalar()


def event(conn: Connection, batch_id: int, status: BatchStatus, step: Step, message: str | None = None) -> None:
    conn.execute(insert(batch_events).values(batch_id=batch_id, status=status, step=step, message=message))


def events(conn: Connection, batch_ids: list[int], status: BatchStatus, step: Step, message: str) -> None:
    """The same event for many batches, in one statement."""
    if batch_ids:
        conn.execute(
            insert(batch_events),
            [{"batch_id": i, "status": status, "step": step, "message": message} for i in batch_ids],
        )


def decide(
    conn: Connection,
    batch_id: int,
    *,
    status: BatchStatus,
    month: int | None,
    sha256: str | None,
    counts: Mapping[str, int | None],
    duplicate_of: int | None,
    files: dict[str, bytes],
    message: str,
) -> None:
    """Record the outcome and its result files (inside the caller's transaction, with any postings)."""
    conn.execute(
        update(batches)
        .where(batches.c.id == batch_id)
        .values(
            status=status,
            step=Step.DECIDED,
            month=month,
            sha256=sha256,
            duplicate_of=duplicate_of,
            last_error=None,
            updated_at=func.now(),
            **counts,
        )
    )
    keep_results(conn, {batch_id: files})
    event(conn, batch_id, status, Step.DECIDED, message)


def fetched_many(engine: Engine, found: list[tuple[int, str, int | None]]) -> None:
    """`fetched` for many batches (id, sha256, month) in one transaction."""
    if found:
        with engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(batches.c.id == bindparam("b_id"))
                .values(sha256=bindparam("b_sha"), month=bindparam("b_month")),
                [{"b_id": i, "b_sha": sha or None, "b_month": month} for i, sha, month in found],
            )


def awaiting(conn: Connection, batch_id: int, *, since: date, roster_version: int | None) -> None:
    """A valid list now waits for its money: its expiry clock and the roster it was checked against."""
    conn.execute(
        update(batches).where(batches.c.id == batch_id).values(awaiting_since=since, roster_version=roster_version)
    )


_ZIP, _GZIP = b"PK\x03\x04", b"\x1f\x8b"


def _packed(data: bytes) -> bytes:
    """A result file as stored: gzip, but a workbook (a zip, already deflated) as it is, which gzip would not shrink."""
    return data if data.startswith(_ZIP) else gzip.compress(data, compresslevel=1)


def _unpacked(content: bytes) -> bytes:
    return gzip.decompress(content) if content.startswith(_GZIP) else content


def restate(conn: Connection, batch_id: int, status: BatchStatus, files: dict[str, bytes], message: str) -> None:
    """A decided batch's new status and result files (a reversal), to be published again by the next cycle.

    In the caller's transaction, with the ledger change it reports; the names
    stay the batch's own (SPEC §6).
    """
    batch = get(conn, batch_id)
    assert batch is not None
    conn.execute(
        update(batches).where(batches.c.id == batch_id).values(status=status, republish=True, updated_at=func.now())
    )
    keep_results(conn, {batch_id: files})
    event(conn, batch_id, status, batch.step, message)


def restate_many(conn: Connection, restatements: list[tuple[Batch, BatchStatus, dict[str, bytes], str]]) -> None:
    """`restate` of many batches (batch as read, new status, files, message) in a few statements."""
    if not restatements:
        return
    _new_statuses(conn, [(b, status, message) for b, status, _, message in restatements])
    keep_results(conn, {b.id: files for b, _, files, _ in restatements})


def _new_statuses(conn: Connection, changes: list[tuple[Batch, BatchStatus, str]]) -> None:
    """Batches' new statuses (to be republished), each with its event."""
    conn.execute(
        update(batches)
        .where(batches.c.id == bindparam("b_id"))
        .values(status=bindparam("b_status"), republish=True, updated_at=func.now()),
        [{"b_id": b.id, "b_status": status} for b, status, _ in changes],
    )
    conn.execute(
        insert(batch_events),
        [{"batch_id": b.id, "status": status, "step": b.step, "message": message} for b, status, message in changes],
    )


@dataclass(frozen=True, slots=True)
class Retelling:
    """A restatement to be drawn from a batch's stored files when they are next read (`batch.results.Restatement`)."""

    status: BatchStatus
    reason: str
    """What the result document says (empty for POSTED); the batch's event says `message`."""
    message: str
    posted_rows: int
    posted_fen: int
    extra: dict[str, Any] | None
    detail_rows: int


def restate_later_many(conn: Connection, retellings: list[tuple[Batch, Retelling]]) -> None:
    """`restate_many`, the files told again only when next read (`results`), kept then by `keep_results`.

    The restatement is written with the outcome, in the caller's transaction;
    telling the files is deterministic, so every read gives the same bytes.
    """
    if not retellings:
        return
    ids = [b.id for b, _ in retellings]
    _new_statuses(conn, [(b, r.status, r.message) for b, r in retellings])
    conn.execute(results_due.delete().where(results_due.c.batch_id.in_(ids)))
    conn.execute(
        insert(results_due),
        [
            {"batch_id": b.id, "status": r.status, "reason": r.reason, "posted_rows": r.posted_rows,
             "posted_fen": r.posted_fen, "detail_rows": r.detail_rows,
             "extra": None if r.extra is None else json.dumps(r.extra, ensure_ascii=False)}
            for b, r in retellings
        ],
    )  # fmt: skip


def due(conn: Connection, batch_ids: list[int]) -> set[int]:
    """Those of the batches whose stored files are to be told again when read."""
    return set(conn.execute(select(results_due.c.batch_id).where(results_due.c.batch_id.in_(batch_ids))).scalars())


def keep_results(conn: Connection, files: Mapping[int, dict[str, bytes]]) -> None:
    """Batches' result files, replacing any they had or had due (gzip: a crash before upload republishes the same bytes)."""
    if not files:
        return
    ids = list(files)
    conn.execute(batch_results.delete().where(batch_results.c.batch_id.in_(ids)))
    conn.execute(results_due.delete().where(results_due.c.batch_id.in_(ids)))
    stored = [{"batch_id": i, "name": n, "content": _packed(d)} for i, f in files.items() for n, d in f.items()]
    if stored:
        conn.execute(insert(batch_results), stored)


def _told(conn: Connection, found: dict[int, dict[str, bytes]]) -> dict[int, dict[str, bytes]]:
    """`found` with the files of batches that have a restatement due told again."""
    if not found:
        return found
    rows = conn.execute(select(results_due).where(results_due.c.batch_id.in_(list(found)))).all()
    rows = [r for r in rows if found.get(r.batch_id)]
    if not rows:
        return found
    from batch.results import Restatement, restated_many  # polars: only where results are told

    by_rows: dict[int, list[Row[Any]]] = {}
    for r in rows:
        by_rows.setdefault(r.detail_rows, []).append(r)
    for detail_rows, same in by_rows.items():
        items = [
            Restatement(found[r.batch_id], r.status, r.reason, posted_rows=r.posted_rows, posted_fen=r.posted_fen,
                        extra=None if r.extra is None else json.loads(r.extra))
            for r in same
        ]  # fmt: skip
        found |= dict(zip((r.batch_id for r in same), restated_many(items, xlsx_detail_rows=detail_rows), strict=True))
    return found


def to_republish(conn: Connection) -> list[Batch]:
    """Batches whose results changed after they were published; a batch not yet published is published anyway."""
    query = select(batches).where(batches.c.republish.is_(True), batches.c.step.in_((Step.PUBLISHED, Step.ARCHIVED)))
    return [Batch.of(r) for r in conn.execute(query.order_by(batches.c.id))]


def republished_many(engine: Engine, done: list[tuple[int, list[str]]]) -> None:
    """Batches whose results were uploaded again (id, names uploaded): no longer to republish; in one transaction."""
    if not done:
        return
    with engine.begin() as conn:
        ids = [i for i, _ in done]
        conn.execute(update(batches).where(batches.c.id.in_(ids)).values(republish=False, updated_at=func.now()))
        now = {
            i: (s, st)
            for i, s, st in conn.execute(
                select(batches.c.id, batches.c.status, batches.c.step).where(batches.c.id.in_(ids))
            )
        }
        conn.execute(
            insert(batch_events),
            [
                {
                    "batch_id": i,
                    "status": now[i][0],
                    "step": now[i][1],
                    "message": f"结果已重新上传到outbox：{', '.join(names)}",
                }
                for i, names in done
            ],
        )


def results(conn: Connection, batch_id: int, *, suffix: str = "") -> dict[str, bytes]:
    """The batch's result files (those whose name ends with `suffix`), decompressed (and told again if due)."""
    if due(conn, [batch_id]):
        return {n: d for n, d in results_many(conn, [batch_id]).get(batch_id, {}).items() if n.endswith(suffix)}
    rows = conn.execute(
        select(batch_results.c.name, batch_results.c.content).where(
            batch_results.c.batch_id == batch_id, batch_results.c.name.endswith(suffix, autoescape=True)
        )
    )
    return {name: _unpacked(content) for name, content in rows}


def as_decided(conn: Connection, decided: Mapping[int, BatchStatus]) -> set[int]:
    """Those of the batches (id: the status it was decided with) that still stand as decided, nothing restated
    since: their stored files are the ones they were decided with.

    Every restatement (a reversal, money arriving, a credit reversed) changes
    the status and marks the batch to be republished.
    """
    if not decided:
        return set()
    rows = conn.execute(
        select(batches.c.id, batches.c.status, batches.c.republish).where(batches.c.id.in_(list(decided)))
    )
    standing = {int(r.id) for r in rows if r.status == decided[r.id] and not r.republish}
    return standing - due(conn, list(standing))


def results_many(conn: Connection, batch_ids: list[int]) -> dict[int, dict[str, bytes]]:
    """`results` of many batches, by batch (a batch with none is absent), those due told again (`_told`)."""
    found: dict[int, dict[str, bytes]] = {}
    rows = conn.execute(
        select(batch_results.c.batch_id, batch_results.c.name, batch_results.c.content).where(
            batch_results.c.batch_id.in_(batch_ids)
        )
    )
    for batch_id, name, content in rows:
        found.setdefault(int(batch_id), {})[name] = _unpacked(content)
    return _told(conn, found)


def get_many(conn: Connection, batch_ids: list[int]) -> dict[int, Batch]:
    """The batches of these ids that exist, by id."""
    return {r.id: Batch.of(r) for r in conn.execute(select(batches).where(batches.c.id.in_(batch_ids)))}


def result_names(conn: Connection, batch_id: int) -> list[str]:
    return sorted(conn.execute(select(batch_results.c.name).where(batch_results.c.batch_id == batch_id)).scalars())


def advance(engine: Engine, batch_id: int, step: Step, message: str) -> None:
    with engine.begin() as conn:
        status = conn.execute(
            update(batches)
            .where(batches.c.id == batch_id)
            .values(step=step, last_error=None, updated_at=func.now())
            .returning(batches.c.status)
        ).scalar_one()
        event(conn, batch_id, BatchStatus(status), step, message)


def advance_many(engine: Engine, steps: list[tuple[int, str]], step: Step) -> None:
    """`advance` for many batches (id, message) in one transaction."""
    if not steps:
        return
    with engine.begin() as conn:
        ids = [i for i, _ in steps]
        conn.execute(
            update(batches).where(batches.c.id.in_(ids)).values(step=step, last_error=None, updated_at=func.now())
        )
        status = dict(conn.execute(select(batches.c.id, batches.c.status).where(batches.c.id.in_(ids))).all())
        conn.execute(
            insert(batch_events),
            [{"batch_id": i, "status": status[i], "step": step, "message": message} for i, message in steps],
        )


def fail(engine: Engine, batch_id: int, error: str) -> None:
    """A technical failure: FAILED until retried, keeping the step it reached.

    The error is shown to operators: an ID number a library's message quotes is masked.
    """
    error = mask_ids_in(error)
    with engine.begin() as conn:
        step = conn.execute(
            update(batches)
            .where(batches.c.id == batch_id, batches.c.status.in_((BatchStatus.RECEIVED, BatchStatus.FAILED)))
            .values(status=BatchStatus.FAILED, last_error=error[:2000], updated_at=func.now())
            .returning(batches.c.step)
        ).scalar()
        if step is None:  # decided already: keep the outcome, record the error
            step = conn.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(last_error=error[:2000], updated_at=func.now())
                .returning(batches.c.step)
            ).scalar_one()
        event(conn, batch_id, BatchStatus.FAILED, Step(step), error[:2000])


def retry(engine: Engine, batch_id: int) -> None:
    """Count another attempt; a FAILED batch that has not been decided goes back to RECEIVED."""
    with engine.begin() as conn:
        conn.execute(
            update(batches)
            .where(batches.c.id == batch_id)
            .values(attempts=batches.c.attempts + 1, updated_at=func.now())
        )
        conn.execute(
            update(batches)
            .where(batches.c.id == batch_id, batches.c.status == BatchStatus.FAILED, batches.c.step == Step.CLAIMED)
            .values(status=BatchStatus.RECEIVED)
        )
