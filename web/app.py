"""`create_app`: the console over one settings object and one store, with its security headers.

Every response carries a strict Content-Security-Policy (scripts, styles and
images from the app only; no inline script or style; no framing) and the other
headers browsers honour. Pages are Jinja2 templates with autoescaping on:
employer-supplied text (names, file names, messages) is data, shown as text.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.store import Store
from jobs.settings import Settings
from web.security import NotLoggedIn, Refused, Throttle
from web.tasks import Tasks

HERE = Path(__file__).parent

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]


class SecurityHeaders:
    """A pure ASGI middleware (it never reads the body, so forms reach the endpoints whole)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers += HEADERS
                headers.append((b"cache-control", b"public, max-age=3600" if static else b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def templates() -> Environment:
    from batch.money import format_yuan
    from schemas.roles import ROLE_LABELS
    from schemas.statuses import STATUS_LABELS, STEP_LABELS

    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    env.filters["yuan"] = lambda fen: "" if fen is None else format_yuan(int(fen))
    env.filters["status"] = lambda s: STATUS_LABELS.get(s, s) if s else ""
    env.filters["step"] = lambda s: STEP_LABELS.get(s, s) if s else ""
    env.filters["role"] = lambda r: ROLE_LABELS.get(r, r)
    env.filters["q"] = lambda v: quote(str(v), safe="")
    return env


WARM_SECONDS = 5.0


def _warm(app: FastAPI, stop: threading.Event) -> None:
    """Keep the current month's reconciliation ready: computed again within seconds of each change.

    The 对账 page then reads a kept report instead of computing one over every employer while
    finance staff wait. A failure (the database away) is logged and tried again next time.
    """
    from web.pages import kept_report

    while True:
        today = app.state.settings.as_of_now().today
        try:
            kept_report(app, today.year * 100 + today.month)
        except Exception:  # the page will say what is wrong when someone asks
            logging.getLogger("hpf.web").warning("对账预计算失败", exc_info=True)
        if stop.wait(WARM_SECONDS):
            return


def create_app(settings: Settings, store: Store) -> FastAPI:
    from web import pages

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        warming = threading.Thread(target=_warm, args=(app, stop), name="hpf-web-reports", daemon=True)
        warming.start()
        yield
        stop.set()
        warming.join(timeout=30)
        app.state.tasks.shutdown()

    app = FastAPI(title="hpf-batch 控制台", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.engine = store.engine
    app.state.templates = templates()
    app.state.throttle = Throttle()
    app.state.tasks = Tasks()
    app.state.reports = {}  # reconciliations by month and database stamp (web.pages.kept_report)
    app.state.reporting = threading.Lock()  # one computes a month's report; the others wait and read it
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)

    @app.exception_handler(NotLoggedIn)
    async def to_login(request: Request, exc: NotLoggedIn) -> Response:
        if request.method == "GET" and "hx-request" not in request.headers:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return HTMLResponse("未登录或会话已结束，请重新登录", status_code=401)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return pages.page(request, "error.html", status_code=403, title="无权操作", message=exc.message)

    return app
