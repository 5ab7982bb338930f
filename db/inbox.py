"""Inbox problems: what an inbox holds that will never be processed, kept until it is gone.

A folder named like a file, a misnamed or unreadable marker, a missing inbox
folder: none of these becomes a batch, so without this table nobody would
ever hear of them. Each listing of an inbox replaces that inbox's problems:
what was fixed disappears, what is new is returned to be told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, tuple_, update

from db.tables import inbox_problems


@dataclass(frozen=True, slots=True)
class Seen:
    name: str
    message: str


def record(engine: Engine, unit: str, problems: Sequence[Seen]) -> list[Seen]:
    """This listing's problems for `unit`; returns those the employer has not been told of yet."""
    with engine.begin() as conn:
        stored = {r.name: r for r in conn.execute(select(inbox_problems).where(inbox_problems.c.unit_account == unit))}
        current = {p.name: p for p in problems}
        gone = [name for name in stored if name not in current]
        if gone:
            conn.execute(
                delete(inbox_problems).where(inbox_problems.c.unit_account == unit, inbox_problems.c.name.in_(gone))
            )
        for p in current.values():
            if p.name in stored:
                conn.execute(
                    update(inbox_problems)
                    .where(tuple_(inbox_problems.c.unit_account, inbox_problems.c.name) == (unit, p.name))
                    .values(message=p.message, last_seen=func.now())
                )
            else:
                conn.execute(insert(inbox_problems).values(unit_account=unit, name=p.name, message=p.message))
    return [p for p in current.values() if p.name not in stored or not stored[p.name].told_employer]


def known(conn: Connection) -> set[str]:
    """The units with a stored problem: once per cycle, so an inbox without problems costs no query."""
    return set(conn.execute(select(inbox_problems.c.unit_account).distinct()).scalars())


def told(engine: Engine, unit: str, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(inbox_problems)
            .where(inbox_problems.c.unit_account == unit, inbox_problems.c.name == name)
            .values(told_employer=True)
        )


def listing(conn: Connection, unit: str | None = None) -> list[Row[Any]]:
    query = select(inbox_problems).order_by(inbox_problems.c.unit_account, inbox_problems.c.name)
    if unit:
        query = query.where(inbox_problems.c.unit_account == unit)
    return list(conn.execute(query))
