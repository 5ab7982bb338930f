"""Who is asking, and whether they may: server-side sessions, CSRF tokens, roles, login throttling.

A session is a random token in an HttpOnly, SameSite=Strict cookie whose hash
is a row in `web_sessions` (`db.sessions`): logout and `hpf users disable`
delete the row, so a copied cookie stops working at once. Every changing
request carries the session's CSRF token (a form field or the `X-CSRF-Token`
header htmx sends); a dependency checks it, after FastAPI has read the form.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from db import audit, sessions, users
from db.sessions import Session
from schemas.roles import Action, may

COOKIE = "hpf_session"
LOGIN_COOKIE = "hpf_login"
"""Before a session exists, the login form's CSRF token is doubled in this cookie."""
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class NotLoggedIn(Exception):
    """No valid session: pages redirect to the login, other requests get 401."""


class Refused(Exception):
    """A logged-in user asked for what their role does not allow, or sent no valid CSRF token (403)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def now() -> datetime:
    return datetime.now(UTC)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


@dataclass
class Throttle:
    """Failed logins slow the next attempt down, per user name and per client address.

    After `free` failures each further attempt must wait twice as long as the last
    (2 s, 4 s, … at most `longest`); a success clears the name's record. Kept in
    memory: a restart forgets, which costs an attacker nothing they could not
    already do slowly, and keeps the login free of a database write per guess.
    """

    free: int = 3
    longest: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, *keys: str) -> float:
        """Seconds still to wait before any of `keys` may try again (0: go ahead)."""
        with self._lock:
            waits = [self._wait(k) for k in keys]
        return max(waits, default=0.0)

    def _wait(self, key: str) -> float:
        count, last = self._failures.get(key, (0, 0.0))
        if count < self.free:
            return 0.0
        delay = min(self.longest, 2.0 ** (count - self.free + 1))
        return max(0.0, last + delay - self.clock())

    def failed(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                count, _ = self._failures.get(k, (0, 0.0))
                self._failures[k] = (count + 1, self.clock())
            if len(self._failures) > 100_000:  # a flood of made-up names: forget the oldest
                for k in sorted(self._failures, key=lambda k: self._failures[k][1])[:50_000]:
                    del self._failures[k]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def log_in(engine: Engine, name: str, password: str, hours: int, client: str) -> tuple[str, Session] | None:
    """Check the password; on success a new session (a fresh token: no fixation) and its audit line."""
    from batch.credentials import verified

    with engine.begin() as conn:
        found = users.password_hash(conn, name)
        if found is None or not verified(found[1], password):
            audit.record(conn, name[:64] or "—", "login-failed", target=client[:64], via=audit.WEB)
            return None
        role, _ = found
        token, csrf = new_token(), new_token()
        expires = now() + timedelta(hours=hours)
        sessions.drop_expired(conn, now())
        sessions.open_session(conn, token, name, csrf, expires)
        audit.record(conn, name, "login", target=client[:64], via=audit.WEB)
    return token, Session(name, role, csrf, expires)


def log_out(engine: Engine, token: str, user: str) -> None:
    with engine.begin() as conn:
        sessions.close(conn, token)
        audit.record(conn, user, "logout", via=audit.WEB)


def session_of(request: Request) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        return sessions.find(conn, token, now())


def viewer(request: Request) -> Session:
    """Any logged-in user (every role reads every page)."""
    found = session_of(request)
    if found is None:
        raise NotLoggedIn
    request.state.session = found
    return found


async def csrf_checked(request: Request, session: Annotated[Session, Depends(viewer)]) -> Session:
    """A changing request of a logged-in user, with its session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()  # Starlette keeps the parsed form: the endpoint reads it again
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not same(sent, session.csrf):
        raise Refused("请求缺少有效的CSRF令牌（页面可能已过期），请刷新页面后重试")
    return session


def allowed(action: Action) -> Callable[..., Session]:
    """A dependency: a logged-in user whose role grants `action`, with a valid CSRF token."""

    def check(session: Annotated[Session, Depends(csrf_checked)]) -> Session:
        if not may(session.role, action):
            raise Refused(f"您的角色（{session.role}）无权执行此操作")
        return session

    return check


def reading(action: Action) -> Callable[..., Session]:
    """A dependency for a download only some roles may have (reports, statements): no CSRF, it changes nothing."""

    def check(session: Annotated[Session, Depends(viewer)]) -> Session:
        if not may(session.role, action):
            raise Refused(f"您的角色（{session.role}）无权下载")
        return session

    return check
