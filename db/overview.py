"""What the console's 单位 and 对账 pages read beyond the reports: a page of employers, a year of months.

Each is a fixed number of set-based statements whatever the number of
employers or batches: a page of employers costs one query for the page and one
for their months.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, Date, bindparam, func, literal, or_, select, text

from db.register import CHANGE_LIST
from db.tables import CONTROL, SUSPENSE_PREFIX, batches, control_accounts, employers, starts_with
from schemas.statuses import BatchStatus

_S = f"{SUSPENSE_PREFIX}%"


def employer_page(conn: Connection, search: str | None, offset: int, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(how many match, one page of them): each employer with its suspense balance and awaiting lists."""
    where = []
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        where.append(or_(employers.c.unit_account.like(like, escape="\\"), employers.c.name.like(like, escape="\\")))
    total = int(conn.execute(select(func.count()).select_from(employers).where(*where)).scalar_one())
    awaiting = (
        select(func.count())
        .where(batches.c.unit_account == employers.c.unit_account, batches.c.status == BatchStatus.AWAITING_FUNDS)
        .scalar_subquery()
    )
    held = (
        select(control_accounts.c.balance_fen)
        .where(control_accounts.c.code == literal(SUSPENSE_PREFIX) + employers.c.unit_account)
        .scalar_subquery()
    )
    query = (
        select(employers.c.unit_account, employers.c.name, employers.c.status, employers.c.paid_through,
               func.coalesce(held, 0).label("suspense_fen"), awaiting.label("awaiting"))
        .where(*where).order_by(employers.c.unit_account).limit(limit).offset(offset)
    )  # fmt: skip
    return total, [dict(r._mapping) for r in conn.execute(query)]


def filings(conn: Connection, units: Sequence[str], months: Sequence[int]) -> dict[tuple[str, int], str]:
    """Each (employer, month)'s standing list status: the latest remittance list of the month."""
    if not units or not months:
        return {}
    latest = (
        select(func.max(batches.c.id))
        .where(batches.c.unit_account.in_(list(units)), batches.c.month.in_(list(months)), ~CHANGE_LIST)
        .group_by(batches.c.unit_account, batches.c.month)
    )
    rows = conn.execute(
        select(batches.c.unit_account, batches.c.month, batches.c.status).where(batches.c.id.in_(latest))
    )
    return {(u, int(m)): s for u, m, s in rows}


_DAY = "coalesce(e.booked_on, date(e.created_at))"
_POSTED_BY_DAY = text(
    f"SELECT {_DAY} AS day, -sum(e.amount_fen) FROM entries e "
    f"WHERE (e.account = '{CONTROL}' OR {starts_with('e.account', SUSPENSE_PREFIX)}) AND {_DAY} >= :start GROUP BY {_DAY}"
).bindparams(bindparam("start", type_=Date))
_RECEIVED_BY_DAY = text(
    "SELECT booked_on, sum(CASE WHEN credit LIKE :s THEN amount_fen ELSE 0 END) "
    "- sum(CASE WHEN debit LIKE :s THEN amount_fen ELSE 0 END) FROM fund_moves "
    "WHERE booked_on >= :start AND kind <> 'transfer' GROUP BY booked_on"
).bindparams(bindparam("start", type_=Date))


def _month_of(day: Any) -> int:
    """YYYYMM of a day as the driver hands it back (a date on PostgreSQL, text on SQLite)."""
    s = day.isoformat() if isinstance(day, date) else str(day)
    return int(s[:4] + s[5:7])


def monthly(conn: Connection, months: Sequence[int]) -> dict[int, tuple[int, int, int]]:
    """Per month (YYYYMM): (amount due by the lists of the month, money received, money posted), in fen.

    Due counts the standing lists (POSTED or AWAITING_FUNDS) of the contribution
    month; received and posted count by booking day, as the report does (SPEC §7):
    credits matched or assigned less bank reversals, and lists posted less lists reversed.
    """
    found: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    if not months:
        return {}
    first = min(months)
    due = conn.execute(
        select(batches.c.month, func.sum(batches.c.total_fen))
        .where(batches.c.month.in_(list(months)), ~CHANGE_LIST,
               batches.c.status.in_((BatchStatus.POSTED, BatchStatus.AWAITING_FUNDS)))
        .group_by(batches.c.month)
    )  # fmt: skip
    for month, fen in due:
        found[int(month)][0] = int(fen or 0)
    start = date(first // 100, first % 100, 1)
    for day, fen in conn.execute(_RECEIVED_BY_DAY, {"start": start, "s": _S}):
        found[_month_of(day)][1] += int(fen or 0)
    for day, fen in conn.execute(_POSTED_BY_DAY, {"start": start}):
        found[_month_of(day)][2] += int(fen or 0)
    return {m: (found[m][0], found[m][1], found[m][2]) for m in months}
