"""The reconciliation's figures (SPEC §7), read from one database snapshot in a fixed number of set-based statements.

A batch belongs to the month its outcome recorded. An arrival that recorded no
month (a duplicate, a file too large to read, one not yet decided) belongs to
the month its name declares, when the name is `{inbox unit}_{YYYYMM}…`. The
month's member entries are found through the month's batches: entries are
indexed by batch, not by month, and every entry carries its batch's month.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, and_, case, func, literal, or_, select, union

from batch.reconcile import REFUSED, Reconciliation, build, filing_lines
from db.register import CHANGE_LIST
from db.tables import CONTROL, batches, control_accounts, employers, entries, members
from schemas.formats import valid_month
from schemas.frames import RECONCILIATION_LINE
from schemas.statuses import FILING_STATUSES, BatchStatus

_ARRIVALS = pl.Schema(
    [*((c, t) for c, t in RECONCILIATION_LINE.items() if c != "status"), ("posted_batches", pl.Int64()),
     ("refused_batches", pl.Int64())]
)  # fmt: skip
"""What the query reads per employer: a line without its status, and the counts that decide it."""


def reconcile(conn: Connection, month: int) -> Reconciliation:
    """The month's reconciliation, read in two statements (run them in one snapshot for exact totals).

    Raises ValueError for a month that is not YYYYMM.
    """
    if not valid_month(month):
        raise ValueError(f"汇缴年月应为YYYYMM（如202611），实际为{month}")
    lines = _lines(conn, month)
    ledger_month, member_balances, control_balance = conn.execute(_totals_query(month)).one()
    return build(
        month,
        lines,
        ledger_month_fen=int(ledger_month),
        member_balances_fen=int(member_balances),
        control_fen=-int(control_balance),
    )


def _lines(conn: Connection, month: int) -> pl.DataFrame:
    posted = batches.c.status == BatchStatus.POSTED
    of_month = _of_month(month)
    units = union(
        select(employers.c.unit_account.label("unit_account")).where(employers.c.status.in_(sorted(FILING_STATUSES))),
        select(batches.c.unit_account.label("unit_account")).where(of_month),
    ).subquery("units")
    arrived = (
        select(
            batches.c.unit_account,
            func.count().label("files"),
            func.sum(func.coalesce(batches.c.rows, 0)).label("rows_received"),
            func.sum(case((posted, func.coalesce(batches.c.posted_rows, 0)), else_=0)).label("rows_posted"),
            func.sum(case((posted, func.coalesce(batches.c.posted_fen, 0)), else_=0)).label("amount_posted_fen"),
            func.sum(case((posted, 1), else_=0)).label("posted_batches"),
            func.sum(case((batches.c.status.in_(REFUSED), 1), else_=0)).label("refused_batches"),
        )
        .where(of_month)
        .group_by(batches.c.unit_account)
        .subquery("arrived")
    )
    active = (
        select(members.c.unit_account, func.count().label("members_active"))
        .where(members.c.status == "normal")
        .group_by(members.c.unit_account)
        .subquery("active")
    )
    query = (
        select(
            units.c.unit_account,
            employers.c.name,
            func.coalesce(arrived.c.files, 0),
            func.coalesce(arrived.c.rows_received, 0),
            func.coalesce(arrived.c.rows_posted, 0),
            func.coalesce(active.c.members_active, 0),
            func.coalesce(arrived.c.amount_posted_fen, 0),
            func.coalesce(arrived.c.posted_batches, 0),
            func.coalesce(arrived.c.refused_batches, 0),
        )
        .select_from(
            units.outerjoin(employers, employers.c.unit_account == units.c.unit_account)
            .outerjoin(arrived, arrived.c.unit_account == units.c.unit_account)
            .outerjoin(active, active.c.unit_account == units.c.unit_account)
        )
        .order_by(units.c.unit_account)
    )
    # PostgreSQL sums bigints as numeric: int() for its Decimals.
    rows = [(unit, name, *(int(n) for n in counts)) for unit, name, *counts in conn.execute(query)]
    return filing_lines(pl.DataFrame(rows, schema=_ARRIVALS, orient="row"))


def _of_month(month: int) -> Any:
    """The remittance lists of the month: by the month recorded with the outcome, else by the file's name.

    Change lists (`BG_…`) are not lists received: they move no money and file nothing.
    """
    named = [
        batches.c.file_name.like(batches.c.unit_account + literal(f"\\_{month}{rest}"), escape="\\")
        for rest in (".%", "\\_%")
    ]
    return and_(~CHANGE_LIST, or_(batches.c.month == month, and_(batches.c.month.is_(None), or_(*named))))


def _totals_query(month: int) -> Any:
    """Ledger figures in one statement, so they come from one snapshot even outside a transaction."""
    of_month = select(batches.c.id).where(batches.c.month == month)
    centre = select(control_accounts.c.code)
    ledger_month = select(func.coalesce(func.sum(entries.c.amount_fen), 0)).where(
        and_(entries.c.batch_id.in_(of_month), entries.c.month == month, ~entries.c.account.in_(centre))
    )
    balances = select(func.coalesce(func.sum(members.c.balance_fen), 0))
    # The other side of every posting: CONTROL's balance (immediate mode), and what lists took from the
    # employers' suspense accounts (arrival mode), so the members are mirrored in either mode.
    control = select(func.coalesce(func.sum(control_accounts.c.balance_fen), literal(0))).where(
        control_accounts.c.code == CONTROL
    )
    from_suspense = select(func.coalesce(func.sum(entries.c.amount_fen), literal(0))).where(
        entries.c.account.like("S%")
    )
    return select(
        ledger_month.scalar_subquery(),
        balances.scalar_subquery(),
        control.scalar_subquery() + from_suspense.scalar_subquery(),
    )


@contextlib.contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection whose statements all see one snapshot of the database.

    PostgreSQL: a REPEATABLE READ transaction. SQLite's driver opens no
    transaction for SELECTs, so one is begun explicitly (a deferred BEGIN reads
    from one WAL snapshot from its first statement to its end).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn
        return
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.rollback()
        return
    with engine.connect() as conn, conn.begin():
        yield conn
