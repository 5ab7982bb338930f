"""Console users (SPEC §10): made, disabled and listed from the command line, each change audited.

The password arrives here already hashed (`batch.passwords`): this module
never sees one in clear.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from db import audit, sessions
from db.tables import users
from schemas.errors import TerminalError
from schemas.roles import Role


class UserError(TerminalError):
    """A user that cannot be made or changed as asked (its name taken, not found)."""


def add(conn: Connection, name: str, role: Role, password_hash: str, *, by: str) -> None:
    """A new user, in the caller's transaction, recorded as `by`'s action."""
    try:
        with conn.begin_nested():  # the name is the key: taken (disabled too) is a refusal, not a rollback
            conn.execute(insert(users).values(name=name, role=role, password_hash=password_hash))
    except IntegrityError:
        raise UserError(f"用户“{name}”已存在（停用的用户名也不再使用）") from None
    audit.record(conn, by, "user-add", target=name, detail=f"role={role}")


def disable(conn: Connection, name: str, *, by: str, reason: str | None = None) -> None:
    """Disable a user: it can no longer log in (its console sessions end with it, SPEC §10)."""
    row = conn.execute(select(users.c.disabled_at).where(users.c.name == name)).first()
    if row is None:
        raise UserError(f"没有用户“{name}”")
    if row.disabled_at is not None:
        raise UserError(f"用户“{name}”已于此前停用")
    conn.execute(update(users).where(users.c.name == name).values(disabled_at=func.now()))
    ended = sessions.close_all(conn, name)
    audit.record(conn, by, "user-disable", target=name, reason=reason, detail=f"结束会话{ended}个" if ended else None)


def listed(conn: Connection) -> list[dict[str, Any]]:
    """Every user, without its hash."""
    query = select(users.c.name, users.c.role, users.c.created_at, users.c.disabled_at).order_by(users.c.name)
    return [dict(r._mapping) for r in conn.execute(query)]


def password_hash(conn: Connection, name: str) -> tuple[Role, str] | None:
    """An enabled user's role and hash (None: no such user, or disabled), for logging in."""
    row = conn.execute(
        select(users.c.role, users.c.password_hash).where(users.c.name == name, users.c.disabled_at.is_(None))
    ).first()
    return (Role(row.role), row.password_hash) if row else None
