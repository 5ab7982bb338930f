"""Master data in, lookups out: `Store` answers the validator's `Lookups` and writes master data in bulk.

Statements are SQLAlchemy Core with bound parameters only; the bulk paths
written as text interpolate table and column names from our own schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import polars as pl
from sqlalchemy import Connection, Engine, Row, Table, func, select, text

from batch.lookups import Employer
from batch.master_files import EXISTING_EMPLOYERS, EXISTING_MEMBERS, conflicts
from batch.roster import roster_at
from db import roster
from db.ledger import exclude_postings
from db.tables import batches, employers, member_events, members
from schemas.codes import Problem
from schemas.master import MEMBER
from schemas.statuses import BatchStatus

CHUNK = 5_000
"""Rows per executemany and keys per IN list: under SQLite's bound-parameter limit."""


@dataclass(frozen=True, slots=True)
class ImportCounts:
    employers_new: int
    employers_updated: int
    members_new: int
    members_updated: int


T = TypeVar("T")


def _chunks(seq: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


class Store:
    """Master data over one engine; `engine` is the database every other part of `db` is given."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------ lookups

    def employer(self, unit_account: str) -> Employer | None:
        with self.engine.connect() as conn:
            return _employers_of(conn, [unit_account]).get(unit_account)

    def for_group(self, units: Sequence[str], month: int) -> GroupLookups:
        """Lookups for a group of files of `units`, none filed for a month before `month` (see `GroupLookups`)."""
        return GroupLookups(self, units, month)

    def members(self, unit_account: str, accounts: pl.Series, *, month: int | None = None) -> pl.DataFrame:
        """The employer's members, then those of `accounts` registered elsewhere (few, in chunks).

        With `month`, as they stood then (`batch.roster.roster_at`): members who
        have left since come back, and those opened since drop out. Events after
        the month being filed are few, so this costs one indexed query.
        """
        own = self._employer_members(unit_account)
        with self.engine.connect() as conn:
            if month is not None:
                gone = roster.moved_away(conn, unit_account, month)
                if gone:
                    own = pl.concat([own, pl.DataFrame(gone, schema=MEMBER, orient="row")])
            others = accounts.filter(~accounts.is_in(own["member_account"].implode())).to_list()
            rows: list[Row[Any]] = []
            for chunk in _chunks(others):
                rows += conn.execute(select(*_MEMBER_COLUMNS).where(members.c.member_account.in_(chunk))).all()
            frame = pl.concat([own, pl.DataFrame(rows, schema=MEMBER, orient="row")]) if rows else own
            if month is None:
                return frame
            events = pl.concat(
                [roster.events_of_unit(conn, unit_account, month), roster.events_after(conn, others, month)]
            )
        return roster_at(frame, events, month) if events.height else frame

    def holders(self, unit_account: str, accounts: pl.Series, people: pl.DataFrame) -> pl.DataFrame:
        with self.engine.connect() as conn:
            return roster.holders(conn, accounts.to_list(), people)

    def events_after(self, accounts: pl.Series, month: int) -> pl.DataFrame:
        with self.engine.connect() as conn:
            return roster.events_after(conn, accounts.to_list(), month)

    def _employer_members(self, unit_account: str) -> pl.DataFrame:
        """All members of one employer, read as columns: a large employer has a million.

        Fetching a million rows as Python tuples takes seconds: SQLite builds one
        delimited string, PostgreSQL streams COPY, and polars parses either.
        """
        with self.engine.connect() as conn:
            return _members_of(conn, [unit_account])

    def unit_accounts(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(employers.c.unit_account)).scalars())

    # ------------------------------------------------------------- writes

    def import_master(
        self,
        employer_rows: pl.DataFrame | None,
        member_rows: pl.DataFrame | None,
        *,
        sources: tuple[str, str] = ("employers.csv", "members.csv"),
    ) -> ImportCounts | list[Problem]:
        """Insert or update employers and members in one transaction, or every line that contradicts what is stored.

        Re-import is idempotent. The checks and the writes run with postings
        held off (`ledger.exclude_postings`), so no posting can slip between
        what the checks saw and what is written.
        """
        with self.engine.begin() as conn:
            exclude_postings(conn)
            problems = conflicts(
                employer_rows, member_rows, _stored_employers(conn), _stored_members(conn), sources=sources
            )
            if problems:
                return problems
            e_new, e_all = self._upsert(conn, employers, "unit_account", _without_line(employer_rows))
            m_new, m_all = self._upsert(conn, members, "member_account", _without_line(member_rows))
        return ImportCounts(e_new, e_all - e_new, m_new, m_all - m_new)

    def _upsert(self, conn: Connection, table: Table, key: str, rows: pl.DataFrame | None) -> tuple[int, int]:
        """Insert or update every row; (new, all). New rows are counted as the table's growth: nothing is deleted."""
        if rows is None or rows.height == 0:
            return 0, 0
        count = select(func.count()).select_from(table)
        before = conn.execute(count).scalar_one()
        rows = rows.sort(key)  # in key order, so the key's index grows at its end
        assert all(c in table.c for c in rows.columns)  # names come from our own schema, never from a file
        updates = ", ".join(f"{c} = excluded.{c}" for c in rows.columns if c != key)
        upsert = _upsert_postgresql if conn.dialect.name == "postgresql" else _upsert_sqlite
        upsert(conn, table, key, updates, rows)
        return conn.execute(count).scalar_one() - before, rows.height


_EMPLOYER_COLUMNS = [
    employers.c.unit_account,
    employers.c.name,
    employers.c.status,
    employers.c.employer_rate_bp,
    employers.c.employee_rate_bp,
    employers.c.wage_tier,
    employers.c.rounding,
    employers.c.paid_through,
    employers.c.roster_version,
]


def _employers_of(conn: Connection, units: Sequence[str]) -> dict[str, Employer]:
    """The employers of `units` that are registered, each with the months of its lists awaiting money."""
    awaiting: dict[str, set[int]] = {}
    waiting = select(batches.c.unit_account, batches.c.month).where(
        batches.c.unit_account.in_(units), batches.c.status == BatchStatus.AWAITING_FUNDS
    )
    for unit, month in conn.execute(waiting):
        if month is not None:
            awaiting.setdefault(unit, set()).add(int(month))
    rows = conn.execute(select(*_EMPLOYER_COLUMNS).where(employers.c.unit_account.in_(units))).all()
    return {r.unit_account: Employer(**r._mapping, awaiting=frozenset(awaiting.get(r.unit_account, ()))) for r in rows}


class GroupLookups:
    """`Store`'s answers for a group of files, the common case read for all of them at once.

    The group's employers and all their members are read by one query each
    (a month-end group is a few hundred small employers: a query per file cost
    more than its rows). An employer with member events after the earliest
    month filed (its roster for a month is then not today's), or a file naming
    accounts registered elsewhere, is answered by the store itself, as alone.
    """

    def __init__(self, store: Store, units: Sequence[str], month: int) -> None:
        self.store, self.month = store, month
        self.units = sorted(set(units))
        with store.engine.connect() as conn:
            self.employers = _employers_of(conn, self.units)
            frame = _members_of(conn, self.units)
            touched = select(member_events.c.old_unit, member_events.c.new_unit).where(
                member_events.c.month > month,
                member_events.c.old_unit.in_(self.units) | member_events.c.new_unit.in_(self.units),
            )
            self.eventful = {u for row in conn.execute(touched) for u in row if u is not None}
        self.members_of = frame.partition_by("unit_account", as_dict=True, maintain_order=True)

    def employer(self, unit_account: str) -> Employer | None:
        if unit_account in self.units:
            return self.employers.get(unit_account)
        return self.store.employer(unit_account)

    def members(self, unit_account: str, accounts: pl.Series, *, month: int | None = None) -> pl.DataFrame:
        own = self.members_of.get((unit_account,))
        if own is None or month is None or month < self.month or unit_account in self.eventful:
            return self.store.members(unit_account, accounts, month=month)
        if not accounts.is_in(own["member_account"].implode()).all():
            return self.store.members(unit_account, accounts, month=month)
        return own

    def holders(self, unit_account: str, accounts: pl.Series, people: pl.DataFrame) -> pl.DataFrame:
        return self.store.holders(unit_account, accounts, people)

    def events_after(self, accounts: pl.Series, month: int) -> pl.DataFrame:
        return self.store.events_after(accounts, month)


def _without_line(rows: pl.DataFrame | None) -> pl.DataFrame | None:
    return rows.drop("line", strict=False) if rows is not None else None


_STORED_EMPLOYERS = (
    "SELECT e.unit_account, e.credit_code, e.status, e.paid_through, "
    "CASE WHEN EXISTS (SELECT 1 FROM batches b WHERE b.unit_account = e.unit_account AND b.status = 'POSTED') "
    "THEN 1 ELSE 0 END AS touched FROM employers e"
)
_STORED_MEMBERS = (
    "SELECT m.member_account, m.unit_account, m.id_type, m.id_number, m.status, m.base_fen, m.paid_through, "
    "CASE WHEN EXISTS (SELECT 1 FROM deposits d WHERE d.member_account = m.member_account AND NOT d.reversed) "
    "OR EXISTS (SELECT 1 FROM member_events e WHERE e.member_account = m.member_account) "
    "THEN 1 ELSE 0 END AS touched FROM members m"
)


def _stored_employers(conn: Connection) -> pl.DataFrame:
    return _read_frame(conn, _STORED_EMPLOYERS, EXISTING_EMPLOYERS)


def _stored_members(conn: Connection) -> pl.DataFrame:
    return _read_frame(conn, _STORED_MEMBERS, EXISTING_MEMBERS)


def _read_frame(conn: Connection, query: str, schema: pl.Schema) -> pl.DataFrame:
    """A whole query's result as a frame, read in bulk (see `Store._employer_members`); booleans come as 0/1."""
    wire = pl.Schema({k: pl.Int64 if v == pl.Boolean else v for k, v in schema.items()})
    if conn.dialect.name == "sqlite":
        fields = " || char(31) || ".join(f"coalesce(CAST({c} AS TEXT), '')" for c in schema)
        raw = cast(sqlite3.Connection, conn.connection.dbapi_connection)
        (blob,) = raw.execute(f"SELECT group_concat({fields}, char(30)) FROM ({query})").fetchone()
        frame = (
            pl.read_csv(
                blob.encode("utf-8"),
                has_header=False,
                separator="\x1f",
                eol_char="\x1e",
                quote_char=None,
                new_columns=list(schema),
                schema=wire,
            )
            if blob
            else wire.to_frame()
        )
    elif conn.dialect.name == "postgresql":
        import psycopg

        raw_pg = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
        with raw_pg.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
            data = b"".join(bytes(block) for block in copy)
        frame = pl.read_csv(data, has_header=False, new_columns=list(schema), schema=wire) if data else wire.to_frame()
    else:
        frame = pl.DataFrame(conn.execute(text(query)).all(), schema=wire, orient="row")
    return frame.with_columns(pl.col(c).cast(pl.Boolean) for c, t in schema.items() if t == pl.Boolean)


def _upsert_sqlite(conn: Connection, table: Table, key: str, updates: str, rows: pl.DataFrame) -> None:
    """One prepared INSERT … ON CONFLICT run by the raw driver over tuples (no per-row dicts)."""
    columns = rows.columns
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}, updated_at = CURRENT_TIMESTAMP"
    )
    cast(sqlite3.Connection, conn.connection.dbapi_connection).executemany(sql, rows.iter_rows())


def _upsert_postgresql(conn: Connection, table: Table, key: str, updates: str, rows: pl.DataFrame) -> None:
    """COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT."""
    import psycopg

    raw = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
    names = ", ".join(rows.columns)
    incoming = f"incoming_{table.name}"
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMPORARY TABLE {incoming} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DROP")
        with cur.copy(f"COPY {incoming} ({names}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(rows.write_csv(include_header=False))  # a null is an empty unquoted field
        cur.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {incoming} "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}, updated_at = now()"
        )


_MEMBER_COLUMNS = [members.c[name] for name in MEMBER]
_MEMBER_SELECT = f"SELECT {', '.join(MEMBER)} FROM members WHERE unit_account IN "


def _members_of(conn: Connection, units: Sequence[str]) -> pl.DataFrame:
    """Every member of `units`, read as columns, in the order each employer's alone would come."""
    if not units:
        return MEMBER.to_frame()
    backend = conn.dialect.name
    if backend == "sqlite":
        return _members_sqlite(conn, units)
    if backend == "postgresql":
        return _members_postgresql(conn, units)
    rows = conn.execute(select(*_MEMBER_COLUMNS).where(members.c.unit_account.in_(units))).all()
    return pl.DataFrame(rows, schema=MEMBER, orient="row")


def _members_sqlite(conn: Connection, units: Sequence[str]) -> pl.DataFrame:
    """One delimited string built inside SQLite, parsed by polars.

    Not a second SQLite library (ADBC bundles its own): two copies in one
    process break each other's file locks. The unit and record separators
    cannot occur in the data: master import refuses control characters.
    """
    fields = " || char(31) || ".join(MEMBER)
    raw = cast(sqlite3.Connection, conn.connection.dbapi_connection)
    marks = ", ".join("?" * len(units))
    (blob,) = raw.execute(  # as a BLOB: the bytes polars parses, never decoded into a str and encoded back
        f"SELECT CAST(group_concat({fields}, char(30)) AS BLOB) FROM members WHERE unit_account IN ({marks})",
        list(units),
    ).fetchone()
    if not blob:
        return MEMBER.to_frame()
    return pl.read_csv(
        blob, has_header=False, separator="\x1f", eol_char="\x1e", quote_char=None,
        schema=MEMBER,
    )  # fmt: skip


def _members_postgresql(conn: Connection, units: Sequence[str]) -> pl.DataFrame:
    import psycopg
    from psycopg import sql

    query = sql.SQL("COPY ({}({})) TO STDOUT (FORMAT csv)").format(
        sql.SQL(_MEMBER_SELECT), sql.SQL(", ").join(sql.Literal(u) for u in units)
    )
    raw = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
    with raw.cursor() as cur, cur.copy(query) as copy:
        data = b"".join(bytes(block) for block in copy)
    if not data:
        return MEMBER.to_frame()
    return pl.read_csv(data, has_header=False, new_columns=list(MEMBER), schema=MEMBER)
