"""Member events at the database edge: reading the state of earlier months, and applying a change list in bulk.

The events are append-only and effective-dated (`db.tables.member_events`);
the members row holds the state now. Applying a change list is a handful of
set-based statements inside the caller's transaction (the one that decides
the batch): new account numbers from the sequence, the new members, one
UPDATE … FROM of the existing ones that checks each still stands as the list
was validated against, the events, and the employers' roster versions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import polars as pl
from sqlalchemy import BigInteger, Connection, func, select, text, update
from sqlalchemy import cast as sql_cast

from db.ledger import share_postings
from db.tables import MEMBER_SEQUENCE, account_numbers, employers, member_events, members
from schemas.errors import TerminalError
from schemas.master import EVENT, HOLDER

if TYPE_CHECKING:
    import psycopg  # only a cast: a SQLite run never loads the driver (40 ms of start-up)

CHUNK = 5_000
"""Keys per IN list: under SQLite's bound-parameter limit."""

NEW_ACCOUNT_DIGITS = 12
FIRST_ACCOUNT = 10 ** (NEW_ACCOUNT_DIGITS - 1)
"""New accounts are 12 digits without leading zeros: the sequence starts at 100000000000 at the least."""

T = TypeVar("T")


def _chunks(seq: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


_EVENT_COLUMNS = [member_events.c[c] for c in EVENT.names()]
_HOLDER_COLUMNS = [members.c[c] for c in HOLDER.names()]


def events_of_unit(conn: Connection, unit_account: str, month: int) -> pl.DataFrame:
    """Every event after `month` of every member who was at `unit_account` at some time after `month`."""
    involved = select(member_events.c.member_account).where(
        member_events.c.month > month,
        (member_events.c.old_unit == unit_account) | (member_events.c.new_unit == unit_account),
    )
    query = select(*_EVENT_COLUMNS).where(member_events.c.month > month, member_events.c.member_account.in_(involved))
    return pl.DataFrame(conn.execute(query).all(), schema=EVENT, orient="row")


def events_after(conn: Connection, accounts: Sequence[str], month: int) -> pl.DataFrame:
    rows: list[Any] = []
    for chunk in _chunks(accounts):
        rows += conn.execute(
            select(*_EVENT_COLUMNS).where(member_events.c.month > month, member_events.c.member_account.in_(chunk))
        ).all()
    return pl.DataFrame(rows, schema=EVENT, orient="row")


def moved_away(conn: Connection, unit_account: str, month: int) -> list[Any]:
    """Members at `unit_account` for some month after `month` who are elsewhere now (MEMBER columns)."""
    left = select(member_events.c.member_account).where(
        member_events.c.month > month, member_events.c.old_unit == unit_account
    )
    query = select(*_HOLDER_COLUMNS[:-1]).where(
        members.c.member_account.in_(left), members.c.unit_account != unit_account
    )
    return list(conn.execute(query).all())


def holders(conn: Connection, accounts: Sequence[str], people: pl.DataFrame) -> pl.DataFrame:
    """The records of `accounts`, and of every account the `people` (id_type, id_number) hold."""
    rows: list[Any] = []
    for chunk in _chunks(accounts):
        rows += conn.execute(select(*_HOLDER_COLUMNS).where(members.c.member_account.in_(chunk))).all()
    for chunk in _chunks(people["id_number"].unique().to_list()):
        rows += conn.execute(select(*_HOLDER_COLUMNS).where(members.c.id_number.in_(chunk))).all()
    found = pl.DataFrame(rows, schema=HOLDER, orient="row").unique("member_account")
    named = found.filter(pl.col("member_account").is_in(list(accounts)))
    by_id = found.join(people.select("id_type", "id_number"), on=["id_type", "id_number"], how="semi")
    return pl.concat([named, by_id]).unique("member_account", maintain_order=True)


# ------------------------------------------------------------------ applying


class ChangeConflict(TerminalError):
    """An account moved after the change list was checked (another list, a posting): nothing was applied."""


def allocate(conn: Connection, count: int) -> int:
    """The first of `count` new account numbers, above every account ever held (leading zeros ignored).

    The sequence row is locked first (PostgreSQL's row lock, SQLite's write
    lock), so two lists opening accounts at once never get the same numbers.
    """
    sequence = account_numbers.c.name == MEMBER_SEQUENCE
    conn.execute(update(account_numbers).where(sequence).values(last=account_numbers.c.last))
    last = conn.execute(select(account_numbers.c.last).where(sequence)).scalar_one()
    digits = func.ltrim(members.c.member_account, "0")
    held = conn.execute(
        select(func.max(sql_cast(digits, BigInteger))).where(func.length(digits).between(1, NEW_ACCOUNT_DIGITS))
    ).scalar()
    first = max(int(last), int(held or 0), FIRST_ACCOUNT - 1) + 1
    if first + count > 10**NEW_ACCOUNT_DIGITS:
        raise TerminalError(f"{NEW_ACCOUNT_DIGITS}位个人账号已用完，无法再开户：请联系系统管理员")
    conn.execute(update(account_numbers).where(sequence).values(last=first + count - 1))
    return int(first)


_STAGED = "staged_changes"
_STAGED_COLUMNS = {
    "member_account": ("TEXT", "text"),
    "month": ("INTEGER", "integer"),
    "old_unit": ("TEXT", "text"),
    "old_status": ("TEXT", "text"),
    "old_base_fen": ("INTEGER", "bigint"),
    "new_unit": ("TEXT", "text"),
    "new_status": ("TEXT", "text"),
    "new_base_fen": ("INTEGER", "bigint"),
}
_UPDATE_FROM_STAGE = (
    "UPDATE members SET unit_account = s.new_unit, status = s.new_status, base_fen = s.new_base_fen, "
    f"updated_at = CURRENT_TIMESTAMP FROM {_STAGED} s WHERE members.member_account = s.member_account "
    "AND members.unit_account = s.old_unit AND members.status = s.old_status AND members.base_fen = s.old_base_fen "
    "AND (members.paid_through IS NULL OR members.paid_through < s.month) "
    "AND NOT EXISTS (SELECT 1 FROM member_events e WHERE e.member_account = s.member_account AND e.month > s.month)"
)
_NEW_MEMBERS = ("member_account", "unit_account", "name", "id_type", "id_number", "base_fen", "status")
_EVENTS = ("member_account", "batch_id", "month", "change", "reason", *list(_STAGED_COLUMNS)[2:])


def apply(conn: Connection, batch_id: int, changes: pl.DataFrame) -> pl.DataFrame:
    """Carry out a valid change list's transitions (`batch.changes.TRANSITION`) in the caller's transaction.

    Returns the transitions with every account filled in (new ones numbered in
    row order). Raises ChangeConflict, after which the caller rolls back, when
    an account no longer stands as it did when the list was checked.
    """
    share_postings(conn)  # never beside a master import
    new = changes["member_account"].is_null()
    count = int(new.sum())
    if count:
        first = allocate(conn, count)
        numbers = pl.int_range(first, first + count, dtype=pl.Int64, eager=True).cast(pl.String)
        changes = _numbered(changes, new, numbers)
        opened = changes.filter(new).select(
            "member_account", pl.col("new_unit").alias("unit_account"), "name", "id_type", "id_number",
            pl.col("new_base_fen").alias("base_fen"), pl.col("new_status").alias("status"),
        )  # fmt: skip
        _insert(conn, "members", opened, _NEW_MEMBERS)
    existing = changes.filter(~new).sort("member_account")
    if existing.height:
        _stage(conn, existing.select(list(_STAGED_COLUMNS)))
        moved = conn.execute(text(_UPDATE_FROM_STAGE)).rowcount
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(f"DELETE FROM {_STAGED}")
        if moved != existing.height:
            raise ChangeConflict(
                f"有{existing.height - moved}个个人账号在检查之后已有变动（另一份变更清册或缴存已先办理），本清册未办理，将重新检查"
            )
    _insert(conn, "member_events", changes.with_columns(pl.lit(batch_id, pl.Int64).alias("batch_id")), _EVENTS)
    units = pl.concat([changes["old_unit"], changes["new_unit"]]).drop_nulls().unique().to_list()
    for chunk in _chunks(units):
        conn.execute(
            update(employers)
            .where(employers.c.unit_account.in_(chunk))
            .values(roster_version=employers.c.roster_version + 1)
        )
    return changes


def _numbered(changes: pl.DataFrame, new: pl.Series, numbers: pl.Series) -> pl.DataFrame:
    """The new accounts' numbers, in row order, in place of their nulls."""
    position = new.cast(pl.Int64).cum_sum() - 1
    assigned = pl.Series("n", numbers).gather(position.clip(0, None))
    return changes.with_columns(pl.when(new).then(assigned).otherwise(pl.col("member_account")).alias("member_account"))


def _stage(conn: Connection, frame: pl.DataFrame) -> None:
    """The existing accounts' transitions in a temporary table: COPY on PostgreSQL, executemany on SQLite."""
    if conn.dialect.name == "postgresql":
        columns = ", ".join(f"{c} {pg}" for c, (_, pg) in _STAGED_COLUMNS.items())
        raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        with raw.cursor() as cur:
            cur.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGED} ({columns}) ON COMMIT DROP")
            cur.execute(f"TRUNCATE {_STAGED}")  # a group of lists applies several in one transaction
            with cur.copy(f"COPY {_STAGED} FROM STDIN (FORMAT csv)") as copy:
                copy.write(frame.write_csv(include_header=False))
            cur.execute(f"ANALYZE {_STAGED}")
    else:
        columns = ", ".join(f"{c} {lite}" for c, (lite, _) in _STAGED_COLUMNS.items())
        sqlite = cast(sqlite3.Connection, conn.connection.dbapi_connection)
        sqlite.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGED} ({columns})")
        sqlite.execute(f"DELETE FROM {_STAGED}")
        sqlite.executemany(f"INSERT INTO {_STAGED} VALUES ({', '.join('?' * len(_STAGED_COLUMNS))})", frame.iter_rows())


def _insert(conn: Connection, table: str, frame: pl.DataFrame, columns: Sequence[str]) -> None:
    """Rows into one of our tables in bulk (COPY on PostgreSQL, one prepared executemany on SQLite)."""
    rows = frame.select(columns)
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(rows.write_csv(include_header=False))
    else:
        sqlite = cast(sqlite3.Connection, conn.connection.dbapi_connection)
        sqlite.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows.iter_rows())
