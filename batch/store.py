"""The database adapter: master data in, lookups out. Every SQL statement of the core lives here.

`Store` answers the validator's `Lookups` and writes master data in bulk.
Statements are SQLAlchemy Core with bound parameters only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from batch.db import batches, employers, members
from batch.masterdata import MEMBER_SCHEMA, Employer

CHUNK = 5_000
"""Rows per executemany and keys per IN list: under SQLite's bound-parameter limit."""


@dataclass(frozen=True, slots=True)
class ImportCounts:
    employers_new: int
    employers_updated: int
    members_new: int
    members_updated: int


def _chunks(seq: Sequence[object], size: int = CHUNK) -> Iterator[Sequence[object]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


class Store:
    """Master data and batch lookups over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------ lookups

    def employer(self, unit_account: str) -> Employer | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    employers.c.unit_account, employers.c.name, employers.c.status,
                    employers.c.employer_rate_bp, employers.c.employee_rate_bp, employers.c.wage_tier,
                    employers.c.rounding, employers.c.paid_through,
                ).where(employers.c.unit_account == unit_account)
            ).one_or_none()
        return Employer(*row) if row else None

    def members(self, unit_account: str, accounts: pl.Series) -> pl.DataFrame:
        """The employer's members, then those of `accounts` registered elsewhere (few, in chunks)."""
        own = self._employer_members(unit_account)
        others = accounts.filter(~accounts.is_in(own["member_account"].implode()))
        if others.len() == 0:
            return own
        cols = [members.c[name] for name in MEMBER_SCHEMA]
        rows = []
        with self.engine.connect() as conn:
            for chunk in _chunks(others.to_list()):
                rows += conn.execute(select(*cols).where(members.c.member_account.in_(chunk))).all()
        return pl.concat([own, pl.DataFrame(rows, schema=MEMBER_SCHEMA, orient="row")])

    def _employer_members(self, unit_account: str) -> pl.DataFrame:
        """All members of one employer, read as columns: a large employer has a million.

        Fetching a million rows as Python tuples takes seconds; SQLite files are
        read through ADBC into Arrow, PostgreSQL through COPY into polars' CSV
        reader. Anything else takes the plain path.
        """
        columns = ", ".join(MEMBER_SCHEMA)
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            import adbc_driver_sqlite.dbapi as adbc

            with adbc.connect(url.database) as conn, conn.cursor() as cur:
                cur.execute(f"SELECT {columns} FROM members WHERE unit_account = ?", (unit_account,))
                frame = pl.from_arrow(cur.fetch_arrow_table())
            assert isinstance(frame, pl.DataFrame)
            return frame.cast(dict(MEMBER_SCHEMA)) if frame.height else MEMBER_SCHEMA.to_frame()
        if url.get_backend_name() == "postgresql":
            from psycopg import sql

            query = sql.SQL("COPY (SELECT {} FROM members WHERE unit_account = {}) TO STDOUT (FORMAT csv)").format(
                sql.SQL(columns), sql.Literal(unit_account))
            with self.engine.connect() as conn:
                raw = conn.connection.dbapi_connection
                assert raw is not None
                with raw.cursor() as cur, cur.copy(query) as copy:
                    data = b"".join(bytes(block) for block in copy)
            if not data:
                return MEMBER_SCHEMA.to_frame()
            return pl.read_csv(data, has_header=False, new_columns=list(MEMBER_SCHEMA), schema=MEMBER_SCHEMA)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*[members.c[n] for n in MEMBER_SCHEMA]).where(members.c.unit_account == unit_account)
            ).all()
        return pl.DataFrame(rows, schema=MEMBER_SCHEMA, orient="row")

    def earlier_batch(self, sha256: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(select(func.min(batches.c.id)).where(batches.c.sha256 == sha256)).scalar()

    def unit_accounts(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(employers.c.unit_account)).scalars())

    # ------------------------------------------------------------- writes

    def import_master(self, employer_rows: pl.DataFrame | None, member_rows: pl.DataFrame | None) -> ImportCounts:
        """Insert or update employers and members in one transaction (re-import is idempotent)."""
        with self.engine.begin() as conn:
            e_new, e_all = self._upsert(conn, employers, "unit_account", employer_rows)
            m_new, m_all = self._upsert(conn, members, "member_account", member_rows)
        return ImportCounts(e_new, e_all - e_new, m_new, m_all - m_new)

    def _upsert(self, conn: Connection, table, key: str, rows: pl.DataFrame | None) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        if rows is None or rows.height == 0:
            return 0, 0
        keys = rows[key].to_list()
        existing = 0
        for chunk in _chunks(keys):
            existing += conn.execute(select(func.count()).select_from(table).where(table.c[key].in_(chunk))).scalar_one()
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)
        update = {c: insert.excluded[c] for c in rows.columns if c != key} | {"updated_at": func.now()}
        statement = insert.on_conflict_do_update(index_elements=[key], set_=update)
        records = rows.to_dicts()
        for chunk in _chunks(records):
            conn.execute(statement, list(chunk))
        return rows.height - existing, rows.height
