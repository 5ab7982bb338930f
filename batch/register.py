"""The batch register: one row per arrival of a file, its history, and its result files.

A batch is claimed by inserting its arrival (unit, file name, size, mtime):
the unique key means two workers that see the same upload cannot both take
it, and a crash leaves the row to be resumed. The outcome (POSTED, REJECTED or
DUPLICATE), the postings, the counts and the result files are written in one
transaction; publishing and archiving then advance `step`.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from batch.db import batch_events, batch_results, batches
from batch.ids import mask_ids_in


@dataclass(frozen=True, slots=True)
class Arrival:
    """One upload of one file, as the inbox shows it."""

    unit_account: str
    file_name: str
    file_size: int
    file_mtime: int


def claim(engine: Engine, arrival: Arrival) -> tuple[Row[Any], bool]:
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
                insert(batches).values(**values, status="RECEIVED", step="claimed", attempts=1).returning(batches.c.id)
            ).scalar_one()
            event(conn, batch_id, "RECEIVED", "claimed", "收到文件")
        created = True
    except IntegrityError:
        created = False
    with engine.connect() as conn:
        row = conn.execute(select(batches).where(*(batches.c[k] == v for k, v in values.items()))).one()
    return row, created


def get(conn: Connection, batch_id: int) -> Row[Any] | None:
    return conn.execute(select(batches).where(batches.c.id == batch_id)).one_or_none()


def unfinished(conn: Connection) -> dict[str, list[Row[Any]]]:
    """Per unit, the batches whose outcome is decided but whose results or archiving are not yet done."""
    found: dict[str, list[Row[Any]]] = {}
    for row in conn.execute(select(batches).where(batches.c.step.in_(("decided", "published"))).order_by(batches.c.id)):
        found.setdefault(row.unit_account, []).append(row)
    return found


def earlier_batch(conn: Connection, sha256: str, before: int | None = None) -> int | None:
    """The first batch (not itself a duplicate) that processed this content, older than `before`."""
    query = select(func.min(batches.c.id)).where(batches.c.sha256 == sha256, batches.c.status != "DUPLICATE")
    if before is not None:
        query = query.where(batches.c.id < before)
    return conn.execute(query).scalar()


def event(conn: Connection, batch_id: int, status: str, step: str, message: str | None = None) -> None:
    conn.execute(insert(batch_events).values(batch_id=batch_id, status=status, step=step, message=message))


def decide(
    conn: Connection,
    batch_id: int,
    *,
    status: str,
    month: int | None,
    sha256: str | None,
    counts: dict[str, int],
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
            step="decided",
            month=month,
            sha256=sha256,
            duplicate_of=duplicate_of,
            last_error=None,
            updated_at=func.now(),
            **counts,
        )
    )
    conn.execute(batch_results.delete().where(batch_results.c.batch_id == batch_id))
    if files:
        conn.execute(
            insert(batch_results),
            [{"batch_id": batch_id, "name": n, "content": gzip.compress(d, compresslevel=1)} for n, d in files.items()],
        )
    event(conn, batch_id, status, "decided", message)


def results(conn: Connection, batch_id: int, *, suffix: str = "") -> dict[str, bytes]:
    """The batch's result files (those whose name ends with `suffix`), decompressed."""
    rows = conn.execute(
        select(batch_results.c.name, batch_results.c.content).where(
            batch_results.c.batch_id == batch_id, batch_results.c.name.endswith(suffix, autoescape=True)
        )
    )
    return {name: gzip.decompress(content) for name, content in rows}


def result_names(conn: Connection, batch_id: int) -> list[str]:
    return sorted(conn.execute(select(batch_results.c.name).where(batch_results.c.batch_id == batch_id)).scalars())


def advance(engine: Engine, batch_id: int, step: str, message: str) -> None:
    with engine.begin() as conn:
        status = conn.execute(
            update(batches)
            .where(batches.c.id == batch_id)
            .values(step=step, last_error=None, updated_at=func.now())
            .returning(batches.c.status)
        ).scalar_one()
        event(conn, batch_id, status, step, message)


def fail(engine: Engine, batch_id: int, error: str) -> None:
    """A technical failure: FAILED until retried, keeping the step it reached.

    The error is shown to operators: an ID number a library's message quotes is masked.
    """
    error = mask_ids_in(error)
    with engine.begin() as conn:
        step = conn.execute(
            update(batches)
            .where(batches.c.id == batch_id, batches.c.status.in_(("RECEIVED", "FAILED")))
            .values(status="FAILED", last_error=error[:2000], updated_at=func.now())
            .returning(batches.c.step)
        ).scalar()
        if step is None:  # decided already: keep the outcome, record the error
            step = conn.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(last_error=error[:2000], updated_at=func.now())
                .returning(batches.c.step)
            ).scalar_one()
        event(conn, batch_id, "FAILED", step, error[:2000])


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
            .where(batches.c.id == batch_id, batches.c.status == "FAILED", batches.c.step == "claimed")
            .values(status="RECEIVED")
        )
