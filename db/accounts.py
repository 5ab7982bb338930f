"""A member's account as operators see it: the record, its entries, and every balance for an export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Row, select

from db.tables import entries, member_events, members


def member(conn: Connection, account: str) -> Row[Any] | None:
    return conn.execute(select(members).where(members.c.member_account == account)).one_or_none()


def entries_of(conn: Connection, account: str, limit: int) -> list[Row[Any]]:
    """The account's latest entries, newest first."""
    query = (
        select(entries.c.id, entries.c.batch_id, entries.c.kind, entries.c.part, entries.c.month,
               entries.c.amount_fen, entries.c.created_at)
        .where(entries.c.account == account)
        .order_by(entries.c.id.desc())
        .limit(limit)
    )  # fmt: skip
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
