"""A member's account as operators see it: the record, its entries, and every balance for an export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Row, literal, select, text, union_all

from db.tables import deposits, member_events, members


def member(conn: Connection, account: str) -> Row[Any] | None:
    return conn.execute(select(members).where(members.c.member_account == account)).one_or_none()


def entries_of(conn: Connection, account: str, limit: int) -> list[Row[Any]]:
    """The account's latest entries, newest first: each deposit's two parts, and their debits if it was reversed.

    A deposit is the member's side of its transfer (`db.ledger`): its parts are the
    credits, booked on its day; a reversal debits them on the reversal's day.
    """
    d = deposits.c
    mine = d.member_account == account
    # Standing and reversed deposits apart, each as its partial index states it (`NOT reversed`, `reversed`):
    # SQLite uses a partial index only for a query whose WHERE repeats the index's own terms.
    standing, reversed_ = text("NOT deposits.reversed"), text("deposits.reversed")
    sides = [
        select(d.id, d.batch_id, literal(kind).label("kind"), literal(part).label("part"), d.month,
               (sign * d[f"{part}_fen"]).label("amount_fen"), d[day].label("booked_on"))
        .where(mine, *which)
        for kind, sign, day, whose in (("deposit", 1, "booked_on", (standing, reversed_)),
                                       ("reversal", -1, "reversed_on", (reversed_,)))
        for which in ([w] for w in whose)
        for part in ("employer", "employee")
    ]  # fmt: skip
    statement = union_all(*sides).subquery()
    query = (
        select(statement)
        .order_by(statement.c.booked_on.desc(), statement.c.id.desc(), statement.c.kind.desc(), statement.c.part)
        .limit(limit)
    )
    return list(conn.execute(query))


def history(conn: Connection, account: str) -> list[Row[Any]]:
    """The account's events (open, seal, unseal, base change), oldest first: they are never edited or deleted."""
    return list(
        conn.execute(
            select(member_events).where(member_events.c.member_account == account).order_by(member_events.c.id)
        )
    )


def opened(conn: Connection) -> list[Row[Any]]:
    """Accounts a change list opened (no state before it): account, name, unit, batch."""
    return list(
        conn.execute(
            select(member_events.c.member_account, members.c.name, member_events.c.new_unit.label("unit_account"),
                   member_events.c.batch_id)
            .join(members, members.c.member_account == member_events.c.member_account)
            .where(member_events.c.change == "open", member_events.c.old_status.is_(None))
            .order_by(member_events.c.id)
        )
    )  # fmt: skip


def balances(conn: Connection) -> Iterator[Row[str, str, str, int, int | None]]:
    """Every member in account order: account, unit, status, balance (fen), paid-through; streamed."""
    result = conn.execution_options(yield_per=50_000).execute(
        select(members.c.member_account, members.c.unit_account, members.c.status, members.c.balance_fen,
               members.c.paid_through).order_by(members.c.member_account)
    )  # fmt: skip
    yield from result
