"""The audit log: who did what and why, from the command line or the console (SPEC §7, §10).

Written in the transaction of the action it records, so an action that
rolled back leaves no line, and a line never lacks its action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from db.tables import audit_log

CLI, WEB = "cli", "web"


def record(
    conn: Connection,
    actor: str,
    action: str,
    *,
    target: str | None = None,
    reason: str | None = None,
    detail: str | None = None,
    via: str = CLI,
) -> None:
    conn.execute(
        insert(audit_log).values(actor=actor, via=via, action=action, target=target, reason=reason, detail=detail)
    )


def since(
    conn: Connection,
    moment: datetime | None = None,
    limit: int = 10_000,
    *,
    actor: str | None = None,
    action: str | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The newest lines first, from `moment` on, of one actor or one action if given."""
    query = select(audit_log).where(*_filters(moment, actor, action))
    query = query.order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    return [dict(r._mapping) for r in conn.execute(query)]


def counted(
    conn: Connection, moment: datetime | None = None, *, actor: str | None = None, action: str | None = None
) -> int:
    query = select(func.count()).select_from(audit_log).where(*_filters(moment, actor, action))
    return int(conn.execute(query).scalar_one())


def _filters(moment: datetime | None, actor: str | None, action: str | None) -> list[Any]:
    where: list[Any] = []
    if moment is not None:
        where.append(audit_log.c.at >= moment)
    if actor:
        where.append(audit_log.c.actor == actor)
    if action:
        where.append(audit_log.c.action == action)
    return where
