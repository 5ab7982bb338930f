"""The reconciliation's figures (SPEC §7), read from one database snapshot in a fixed number of set-based statements.

A batch belongs to the month its outcome recorded. An arrival that recorded no
month (a duplicate, a file too large to read, one not yet decided) belongs to
the month its name declares, when the name is `{inbox unit}_{YYYYMM}…`. The
members' side of the month's ledger (deposits booked and reversed in it) is
found through the batches whose counter entries were booked in the month:
deposits are indexed by batch, not by day.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    Engine,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    union,
)

from batch.reconcile import REFUSED, Funds, Reconciliation, build, filing_lines
from db.register import CHANGE_LIST
from db.tables import (
    BANK_PREFIX,
    CONTROL,
    EXCEPTIONS,
    SUSPENSE_PREFIX,
    UNIDENTIFIED,
    batch_events,
    batches,
    control_accounts,
    deposits,
    employers,
    entries,
    fund_moves,
    member_events,
    members,
    starts_with,
)
from schemas.formats import valid_month
from schemas.frames import RECONCILIATION_LINE
from schemas.statuses import FILING_STATUSES, BatchStatus

_COUNTED = (
    "unit_account",
    "employer_name",
    "files",
    "rows_received",
    "rows_posted",
    "members_active",
    "amount_due_fen",
)
_ARRIVALS = pl.Schema(
    [*((c, RECONCILIATION_LINE[c]) for c in _COUNTED), ("posted_batches", pl.Int64()),
     ("awaiting_batches", pl.Int64()), ("refused_batches", pl.Int64())]
)  # fmt: skip
"""What the query reads per employer: a line without its status, and the counts that decide it."""


def reconcile(conn: Connection, month: int, *, arrival: bool = False) -> Reconciliation:
    """The month's reconciliation, read in a fixed number of statements (run them in one snapshot for exact totals).

    `arrival`: the centre books bank money (SPEC §9): the lines get their received and suspense figures
    and the funds identities are checked. Raises ValueError for a month that is not YYYYMM.
    """
    if not valid_month(month):
        raise ValueError(f"汇缴年月应为YYYYMM（如202611），实际为{month}")
    start, end = _period(month)
    counted = _lines(conn, month)
    posted = _posted(conn, start, end)
    lines = counted.join(posted, on="unit_account", how="left").with_columns(pl.col("amount_posted_fen").fill_null(0))
    funds = None
    closing: dict[str, int] = {}
    if arrival:
        flows = _suspense(conn, start, end)
        lines = lines.join(flows.drop("closing"), on="unit_account", how="left").with_columns(
            pl.col("suspense_opening_fen").fill_null(0),
            pl.col("amount_received_fen").fill_null(0),
        )
        lines = lines.with_columns(
            (pl.col("suspense_opening_fen") + pl.col("amount_received_fen") - pl.col("amount_posted_fen")).alias(
                "suspense_closing_fen"
            )
        )
        closing = dict(flows.select("unit_account", "closing").iter_rows())
        funds = _funds(conn, start, end, sum(closing.values()))
    else:
        lines = lines.with_columns(
            pl.lit(None, pl.Int64).alias(c)
            for c in ("amount_received_fen", "suspense_opening_fen", "suspense_closing_fen")
        ).with_columns(pl.lit(None, pl.Int64).alias("amount_due_fen"))
    ledger_month, member_balances, control_balance = conn.execute(_totals_query(start, end)).one()
    return build(
        month,
        lines.sort("unit_account"),
        ledger_month_fen=int(ledger_month),
        member_balances_fen=int(member_balances),
        control_fen=-int(control_balance),
        funds=funds,
        closing_fen=closing,
    )


def stamp(conn: Connection) -> tuple[Any, ...]:
    """What moves whenever any month's figures can: the newest batch event, entry, fund move and member
    event, and the newest change to master data (the last two are times, to the second on SQLite).

    Every change a reconciliation reads writes one of these (a batch's outcome its event, postings
    their entries, money its moves, change lists their member events, imports their rows' updated_at),
    so two reads with the same stamp give the same report. A reader may keep a report by its stamp.
    """
    newest = (
        select(func.max(batch_events.c.id)).scalar_subquery(),
        select(func.max(entries.c.id)).scalar_subquery(),
        select(func.max(fund_moves.c.id)).scalar_subquery(),
        select(func.max(member_events.c.id)).scalar_subquery(),
        select(func.max(employers.c.updated_at)).scalar_subquery(),
        select(func.max(members.c.updated_at)).scalar_subquery(),
    )
    return tuple(conn.execute(select(*newest)).one())


def _period(month: int) -> tuple[date, date]:
    """The calendar month as booking days: [its first day, the next month's first day)."""
    year, m = divmod(month, 100)
    return date(year, m, 1), date(year + m // 12, m % 12 + 1, 1)


_S, _B = f"{SUSPENSE_PREFIX}%", f"{BANK_PREFIX}%"
"""LIKE patterns of the suspense and bank account codes (our own constants, never data)."""


def _day(table: str = "") -> str:
    """An entry's booking day: the centre's day it was booked on, else (entries from before funds) its creation date."""
    prefix = f"{table}." if table else ""
    return f"coalesce({prefix}booked_on, date({prefix}created_at))"


_POSTED = text(
    "SELECT b.unit_account, -sum(e.amount_fen) FROM entries e JOIN batches b ON b.id = e.batch_id "
    f"WHERE (e.account = '{CONTROL}' OR {starts_with('e.account', SUSPENSE_PREFIX)}) AND {_day('e')} >= :start AND {_day('e')} < :end "
    "GROUP BY b.unit_account"
).bindparams(bindparam("start", type_=Date), bindparam("end", type_=Date))
_SIDES = (
    "SELECT credit AS code, amount_fen AS fen, booked_on AS day, 1 AS moved FROM fund_moves "
    "UNION ALL SELECT debit, -amount_fen, booked_on, 1 FROM fund_moves "
    f"UNION ALL SELECT account, amount_fen, {_day()}, 0 FROM entries WHERE {starts_with('account', SUSPENSE_PREFIX)}"
)
_SUSPENSE = text(
    f"SELECT substr(code, 2), sum(CASE WHEN day < :start THEN fen ELSE 0 END), "
    "sum(CASE WHEN day >= :start AND day < :end AND moved = 1 THEN fen ELSE 0 END), "
    f"sum(CASE WHEN day < :end THEN fen ELSE 0 END) FROM ({_SIDES}) sides WHERE code LIKE '{_S}' GROUP BY substr(code, 2)"
).bindparams(bindparam("start", type_=Date), bindparam("end", type_=Date))
_FUNDS = text(
    "SELECT "
    f"coalesce(sum(CASE WHEN code LIKE '{_B}' AND day >= :start AND day < :end THEN -fen ELSE 0 END), 0), "
    f"coalesce(sum(CASE WHEN code LIKE '{_B}' AND day < :end THEN -fen ELSE 0 END), 0), "
    f"coalesce(sum(CASE WHEN code = '{UNIDENTIFIED}' AND day < :end THEN fen ELSE 0 END), 0), "
    f"coalesce(sum(CASE WHEN code = '{EXCEPTIONS}' AND day < :end THEN fen ELSE 0 END), 0), "
    f"coalesce(sum(CASE WHEN code LIKE '{_S}' AND moved = 0 AND day < :end THEN -fen ELSE 0 END), 0) "
    f"FROM ({_SIDES}) sides"
).bindparams(bindparam("start", type_=Date), bindparam("end", type_=Date))


def _posted(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """Per employer, lists posted less lists reversed on the month's booking days (either counter account)."""
    rows = [(u, int(f)) for u, f in conn.execute(_POSTED, {"start": start, "end": end})]
    return pl.DataFrame(rows, schema={"unit_account": pl.String, "amount_posted_fen": pl.Int64}, orient="row")


def _suspense(conn: Connection, start: date, end: date) -> pl.DataFrame:
    """Per employer with a suspense account: opening, money moved in (net) in the month, and closing as booked."""
    rows = [(u, int(o), int(r), int(c)) for u, o, r, c in conn.execute(_SUSPENSE, {"start": start, "end": end})]
    return pl.DataFrame(
        rows,
        schema={"unit_account": pl.String, "suspense_opening_fen": pl.Int64, "amount_received_fen": pl.Int64,
                "closing": pl.Int64},
        orient="row",
    )  # fmt: skip


def _funds(conn: Connection, start: date, end: date, suspense_closing: int) -> Funds:
    received, held, unidentified, exceptions, from_suspense = (
        int(v) for v in conn.execute(_FUNDS, {"start": start, "end": end}).one()
    )
    return Funds(received, held, suspense_closing, unidentified, exceptions, from_suspense)


def _lines(conn: Connection, month: int) -> pl.DataFrame:
    posted = batches.c.status == BatchStatus.POSTED
    awaiting = batches.c.status == BatchStatus.AWAITING_FUNDS
    of_month = _of_month(month)
    units = union(
        select(employers.c.unit_account.label("unit_account")).where(employers.c.status.in_(sorted(FILING_STATUSES))),
        select(batches.c.unit_account.label("unit_account")).where(of_month),
        # An employer holding suspense money has a line whatever its status (a closed one still owes or is owed).
        select(func.substr(fund_moves.c.credit, 2).label("unit_account")).where(fund_moves.c.credit.like(_S)),
    ).subquery("units")
    arrived = (
        select(
            batches.c.unit_account,
            func.count().label("files"),
            func.sum(func.coalesce(batches.c.rows, 0)).label("rows_received"),
            func.sum(case((posted, func.coalesce(batches.c.posted_rows, 0)), else_=0)).label("rows_posted"),
            func.sum(case((posted, 1), else_=0)).label("posted_batches"),
            func.sum(case((awaiting, 1), else_=0)).label("awaiting_batches"),
            func.sum(case((posted | awaiting, func.coalesce(batches.c.total_fen, 0)), else_=0)).label("amount_due_fen"),
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
            *(
                cast(func.coalesce(column, 0), BigInteger)  # PostgreSQL sums bigints as numeric
                for column in (
                    arrived.c.files,
                    arrived.c.rows_received,
                    arrived.c.rows_posted,
                    active.c.members_active,
                    arrived.c.amount_due_fen,
                    arrived.c.posted_batches,
                    arrived.c.awaiting_batches,
                    arrived.c.refused_batches,
                )
            ),
        )
        .select_from(
            units.outerjoin(employers, employers.c.unit_account == units.c.unit_account)
            .outerjoin(arrived, arrived.c.unit_account == units.c.unit_account)
            .outerjoin(active, active.c.unit_account == units.c.unit_account)
        )
        .order_by(units.c.unit_account)
    )
    return filing_lines(pl.DataFrame(conn.execute(query).all(), schema=_ARRIVALS, orient="row"))


def _of_month(month: int) -> Any:
    """The remittance lists of the month: by the month recorded with the outcome, else by the file's name.

    Change lists (`BG_…`) are not lists received: they move no money and file nothing.
    """
    named = [
        batches.c.file_name.like(batches.c.unit_account + literal(f"\\_{month}{rest}"), escape="\\")
        for rest in (".%", "\\_%")
    ]
    return and_(~CHANGE_LIST, or_(batches.c.month == month, and_(batches.c.month.is_(None), or_(*named))))


def _totals_query(start: date, end: date) -> Any:
    """Ledger figures in one statement, so they come from one snapshot even outside a transaction."""
    day = func.coalesce(entries.c.booked_on, func.date(entries.c.created_at))
    first, after = literal(start, Date), literal(end, Date)
    # The members' side of the month: deposits booked in it minus deposits reversed in it. They are
    # found through the batches whose counter entries were booked in the month (entries are few: a
    # batch's two per posting), then by the deposits' batch index, so no month scans every deposit.
    booked = select(entries.c.batch_id).where(day >= first, day < after)
    amount = deposits.c.employer_fen + deposits.c.employee_fen
    ledger_month = select(
        func.coalesce(
            func.sum(case((and_(deposits.c.booked_on >= first, deposits.c.booked_on < after), amount), else_=0))
            - func.sum(case((and_(deposits.c.reversed_on >= first, deposits.c.reversed_on < after), amount), else_=0)),
            0,
        )
    ).where(deposits.c.batch_id.in_(booked))
    balances = select(func.coalesce(func.sum(members.c.balance_fen), 0))
    # The other side of every posting: CONTROL's balance (immediate mode), and what lists took from the
    # employers' suspense accounts (arrival mode), so the members are mirrored in either mode.
    control = select(func.coalesce(func.sum(control_accounts.c.balance_fen), literal(0))).where(
        control_accounts.c.code == CONTROL
    )
    from_suspense = select(func.coalesce(func.sum(entries.c.amount_fen), literal(0))).where(
        text(starts_with("entries.account", SUSPENSE_PREFIX))
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
