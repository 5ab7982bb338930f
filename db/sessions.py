"""Console sessions kept on the server (SPEC §10): opened at login, ended by logout, disabling or time.

The browser holds a random token; the table holds its SHA-256, the user, the
session's CSRF token and when it expires. A session is valid only while its row
exists, has not expired and its user is enabled, so a cookie replayed after
logout or after `hpf users disable` opens nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, delete, insert, select

from db.tables import users, web_sessions
from schemas.roles import Role


class Session(NamedTuple):
    user: str
    role: Role
    csrf: str
    expires_at: datetime


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(conn: Connection, token: str, user: str, csrf: str, expires_at: datetime) -> None:
    conn.execute(
        insert(web_sessions).values(token_sha256=_key(token), user_name=user, csrf=csrf, expires_at=expires_at)
    )


def find(conn: Connection, token: str, now: datetime) -> Session | None:
    """The session of a cookie's token, if it is still valid at `now`."""
    row = conn.execute(
        select(users.c.name, users.c.role, web_sessions.c.csrf, web_sessions.c.expires_at)
        .join(users, users.c.name == web_sessions.c.user_name)
        .where(web_sessions.c.token_sha256 == _key(token), users.c.disabled_at.is_(None))
    ).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=now.tzinfo)
    if expires <= now:
        return None
    return Session(row.name, Role(row.role), row.csrf, expires)


def close(conn: Connection, token: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.token_sha256 == _key(token)))


def close_all(conn: Connection, user: str) -> int:
    """End every session of a user (it was disabled); how many there were."""
    return conn.execute(delete(web_sessions).where(web_sessions.c.user_name == user)).rowcount


def drop_expired(conn: Connection, now: datetime) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
