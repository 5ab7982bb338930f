"""The audit log: who did what and why, from the command line or the console (SPEC §7, §10).

Written in the transaction of the action it records, so an action that
rolled back leaves no line, and a line never lacks its action.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

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


def since(conn: Connection, moment: datetime | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if moment is not None:
        query = query.where(audit_log.c.at >= moment)
    return [dict(r._mapping) for r in conn.execute(query)]
