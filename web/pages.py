"""The console's pages (SPEC §10): each reads through `jobs.operate` or `db`, each change calls `jobs.operate`.

A page that changes something takes its user from `allowed(action)`, which
checks the session, the CSRF token and the role on the server; the buttons a
role may not use are not shown, but hiding them is not what protects them.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from batch.masking import mask_ids_in, masked_id
from db import audit
from db.sessions import Session
from db.store import Store
from jobs import operate
from jobs.settings import Settings
from schemas.errors import HpfError
from schemas.roles import Action, may, sees_id_numbers
from schemas.statuses import STATUS_LABELS, BatchStatus
from web.security import (
    COOKIE,
    CSRF_FIELD,
    LOGIN_COOKIE,
    Refused,
    allowed,
    csrf_checked,
    log_in,
    log_out,
    new_token,
    reading,
    same,
    session_of,
    viewer,
)

router = APIRouter()
PAGE = 50
"""Rows per page of every long table: a month has tens of thousands of batches."""

Viewer = Annotated[Session, Depends(viewer)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings.as_of_now()


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _engine(request: Request) -> Engine:
    return _store(request).engine


def page(request: Request, template: str, *, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A template with what every page shows: the user, their role's rights, the CSRF token."""
    session: Session | None = getattr(request.state, "session", None) or session_of(request)
    html = request.app.state.templates.get_template(template).render(
        request=request, session=session, csrf=session.csrf if session else "",
        may=(lambda action: session is not None and may(session.role, Action(action))),
        path=request.url.path, **values,
    )  # fmt: skip
    return HTMLResponse(html, status_code=status_code)


def _page_no(value: int | None) -> int:
    return max(1, value or 1)


def _pages(total: int, number: int, request: Request) -> dict[str, Any]:
    """Paging links that keep the page's other filters in the URL."""
    last = max(1, (total + PAGE - 1) // PAGE)
    kept = {k: v for k, v in request.query_params.items() if k != "page" and v}

    def link(n: int) -> str:
        return f"{request.url.path}?{urlencode({**kept, 'page': n})}"

    return {"total": total, "number": number, "last": last, "previous": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < last else None}  # fmt: skip


def _month(value: str | None, today: date) -> int:
    if value and value.isdigit() and len(value) == 6 and 1 <= int(value[4:]) <= 12:
        return int(value)
    return today.year * 100 + today.month


def _months_back(month: int, n: int) -> list[int]:
    year, m = divmod(month, 100)
    out = []
    for _ in range(n):
        out.append(year * 100 + m)
        year, m = (year - 1, 12) if m == 1 else (year, m - 1)
    return out[::-1]


def _masked(session: Session, text: str | None) -> str | None:
    return text if text is None or sees_id_numbers(session.role) else mask_ids_in(text)


# ---------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    token = new_token()
    response = page(request, "login.html", title="登录", login_token=token, next=_safe_next(next), message=None)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


def _safe_next(target: str) -> str:
    """Only a path of this site: never `//other.host` or a scheme."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not same(csrf_token, request.cookies.get(LOGIN_COOKIE)):
        raise Refused("登录表单已过期，请刷新页面后重新登录")
    client = request.client.host if request.client else "?"
    throttle = request.app.state.throttle
    wait = throttle.wait(f"user:{name}", f"addr:{client}")
    if wait > 0:
        return _login_again(request, next, f"登录失败次数过多，请{int(wait) + 1}秒后再试", 429)
    opened = log_in(_engine(request), name, password, _settings(request).web.session_hours, client)
    if opened is None:
        throttle.failed(f"user:{name}", f"addr:{client}")
        return _login_again(request, next, "用户名或密码不正确（或用户已停用）", 401)
    throttle.succeeded(f"user:{name}")
    token, _ = opened
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https", max_age=_settings(request).web.session_hours * 3600)  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _login_again(request: Request, next: str, message: str, status: int) -> Response:
    token = new_token()
    response = page(request, "login.html", status_code=status, title="登录", login_token=token, next=_safe_next(next),
                    message=message)  # fmt: skip
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.post("/logout")
def logout(request: Request, session: Annotated[Session, Depends(csrf_checked)]) -> Response:
    log_out(_engine(request), request.cookies.get(COOKIE, ""), session.user)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# ---------------------------------------------------------------- 需要处理


@router.get("/", response_class=HTMLResponse)
def attention(request: Request, session: Viewer) -> Response:
    from db import cycles, funds, register

    settings = _settings(request)
    zone = settings.schedule.zone
    failed = operate.list_batches(_engine(request), attention_only=True, limit=PAGE, zone=zone,
                                  max_attempts=settings.schedule.max_attempts)  # fmt: skip
    with _engine(request).connect() as conn:
        failed_total = register.counted(conn, attention=True)
        last = cycles.last(conn)
        expiring = []
        if settings.funds.arrival:
            horizon = settings.today + timedelta(days=settings.funds.pay_days)
            expiring = funds.expiring(conn, horizon, settings.funds.expire_days)
    money = operate.funds_attention(settings, _store(request))
    return page(
        request, "attention.html", title="需要处理", failed=failed, failed_total=failed_total,
        inbox=operate.inbox_problems(_engine(request), zone=zone), money=money, expiring=expiring,
        expire_days=settings.funds.expire_days, arrival=settings.funds.arrival,
        last_cycle=last and {**last, "at": operate.local_time(last["finished_at"], zone)},
    )  # fmt: skip


# ---------------------------------------------------------------- 批次


@router.get("/batches", response_class=HTMLResponse)
def batches(
    request: Request,
    session: Viewer,
    status: str | None = None,
    unit: str | None = None,
    month: str | None = None,
    page_no: Annotated[int | None, Query(alias="page")] = None,
) -> Response:
    from db import register

    settings = _settings(request)
    wanted = next((s for s in BatchStatus if s == status), None)
    month_no = int(month) if month and month.isdigit() else None
    number = _page_no(page_no)
    with _engine(request).connect() as conn:
        total = register.counted(conn, wanted, unit=unit or None, month=month_no)
        found = register.listing(conn, wanted, PAGE, unit=unit or None, month=month_no, offset=(number - 1) * PAGE)
    rows = [operate._batch_dict(b, settings.schedule.zone, settings.schedule.max_attempts) for b in found]
    return page(
        request, "batches.html", title="批次", rows=rows, pages=_pages(total, number, request),
        statuses=[(s.value, STATUS_LABELS.get(s, s)) for s in BatchStatus],
        filters={"status": wanted or "", "unit": unit or "", "month": month or ""},
    )  # fmt: skip


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch(request: Request, batch_id: int, session: Viewer) -> Response:
    settings = _settings(request)
    try:
        shown = operate.show_batch(_engine(request), batch_id, settings.schedule.zone)
    except operate.OperationError as missing:
        return page(request, "error.html", status_code=404, title="没有此批次", message=str(missing))
    errors = shown["errors"]
    for error in errors:
        error["message"] = _masked(session, error.get("message"))
    return page(request, "batch.html", title=f"批次 {batch_id}", b=shown, errors=errors[:500],
                more_errors=max(0, len(errors) - 500),
                retryable=shown["status"] == BatchStatus.FAILED or bool(shown["last_error"]))  # fmt: skip


@router.get("/batches/{batch_id}/rows", response_class=HTMLResponse)
def batch_rows(
    request: Request, batch_id: int, session: Viewer, page_no: Annotated[int | None, Query(alias="page")] = None
) -> Response:
    """The rows of a batch, as its result CSV tells them (each row's outcome and reason)."""
    from db import register

    with _engine(request).connect() as conn:
        files = register.results(conn, batch_id, suffix=".csv")
    if not files:
        return page(request, "error.html", status_code=404, title="没有明细", message=f"批次{batch_id}没有结果明细")
    name, data = next(iter(files.items()))
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body = (lines[0], lines[1:]) if lines else ([], [])
    number = _page_no(page_no)
    shown = [[_masked(session, cell) or "" for cell in row] for row in body[(number - 1) * PAGE : number * PAGE]]
    return page(request, "rows.html", title=f"批次 {batch_id} 明细", batch_id=batch_id, name=name, header=header,
                rows=shown, pages=_pages(len(body), number, request))  # fmt: skip


_MEDIA = {".json": "application/json", ".csv": "text/csv; charset=utf-8",
          ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip


@router.get("/batches/{batch_id}/files/{name:path}")
def result_file(request: Request, batch_id: int, name: str, session: Viewer) -> Response:
    """One of the batch's own result files, looked up by its exact stored name (never a path on disk)."""
    from db import register

    with _engine(request).connect() as conn:
        names = register.result_names(conn, batch_id)
        if name not in names:
            return page(request, "error.html", status_code=404, title="没有此文件", message="该批次没有这个结果文件")
        data = register.results(conn, batch_id, suffix=name)
    content = data.get(name)
    if content is None:
        return page(request, "error.html", status_code=404, title="没有此文件", message="该批次没有这个结果文件")
    suffix = "." + name.rsplit(".", 1)[-1]
    return Response(content, media_type=_MEDIA.get(suffix, "application/octet-stream"),
                    headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"})  # fmt: skip


def _rerun_steps(request: Request, ids: list[int], by: str) -> list[tuple[str, Any]]:
    settings, store = _settings(request), _store(request)

    def rerun(batch_id: int) -> str:
        outcome = operate.rerun_batch(settings, store, batch_id, by=by, via=audit.WEB)
        return STATUS_LABELS.get(outcome, outcome)

    return [(f"批次{i}", functools.partial(rerun, i)) for i in ids]


@router.post("/batches/{batch_id}/rerun")
def rerun_one(request: Request, batch_id: int, session: Annotated[Session, Depends(allowed(Action.RERUN))]) -> Response:
    task = request.app.state.tasks.start(
        f"重试批次{batch_id}", session.user, _rerun_steps(request, [batch_id], session.user)
    )
    return RedirectResponse(f"/tasks/{task.id}", status_code=303)


@router.post("/batches/rerun")
def rerun_many(
    request: Request,
    session: Annotated[Session, Depends(allowed(Action.RERUN))],
    ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Bulk rerun after an outage: the failed batches ticked on the page, one after another in the background."""
    chosen = sorted(set(ids or []))
    if not chosen:
        return page(request, "error.html", status_code=400, title="没有选择批次", message="请先勾选要重试的失败批次")
    task = request.app.state.tasks.start(f"批量重试{len(chosen)}个批次", session.user,
                                         _rerun_steps(request, chosen, session.user))  # fmt: skip
    return RedirectResponse(f"/tasks/{task.id}", status_code=303)


@router.post("/batches/{batch_id}/reverse", response_class=HTMLResponse)
def reverse(
    request: Request,
    batch_id: int,
    session: Annotated[Session, Depends(allowed(Action.REVERSE))],
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """A reason first, then a confirmation page that repeats what will happen; only the confirmed form reverses."""
    settings = _settings(request)
    shown = operate.show_batch(_engine(request), batch_id, settings.schedule.zone)
    if not reason.strip():
        return page(request, "error.html", status_code=400, title="需要原因", message="冲销必须填写原因")
    if confirmed != "yes":
        return page(request, "reverse_confirm.html", title=f"确认冲销批次 {batch_id}", b=shown, reason=reason.strip())
    try:
        done = operate.reverse_batch(_store(request), batch_id, reason, by=session.user, via=audit.WEB,
                                     xlsx_detail_rows=settings.limits.xlsx_detail_rows, today=settings.today)  # fmt: skip
    except HpfError as e:
        return page(request, "error.html", status_code=409, title="未能冲销", message=str(e))
    task = request.app.state.tasks.start(
        f"冲销批次{batch_id}后重新上传结果", session.user,
        [(f"批次{batch_id}已冲销{done['rows']}行", lambda: operate.republish(settings, _store(request)))],
    )  # fmt: skip
    return RedirectResponse(f"/tasks/{task.id}", status_code=303)


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task(request: Request, task_id: str, session: Viewer) -> Response:
    found = request.app.state.tasks.get(task_id)
    if found is None:
        return page(request, "error.html", status_code=404, title="没有此任务", message="任务不存在或已过期")
    template = "task_fragment.html" if "hx-request" in request.headers else "task.html"
    return page(request, template, title=found.title, task=found)


# ---------------------------------------------------------------- 单位


@router.get("/units", response_class=HTMLResponse)
def units(
    request: Request, session: Viewer, q: str | None = None,
    page_no: Annotated[int | None, Query(alias="page")] = None,
) -> Response:  # fmt: skip
    from db import overview

    settings = _settings(request)
    months = _months_back(_month(None, settings.today), 6)
    number = _page_no(page_no)
    with _engine(request).connect() as conn:
        total, rows = overview.employer_page(conn, (q or "").strip() or None, (number - 1) * PAGE, PAGE)
        filed = overview.filings(conn, [r["unit_account"] for r in rows], months)
    return page(request, "units.html", title="单位", rows=rows, months=months, filed=filed, q=q or "",
                pages=_pages(total, number, request))  # fmt: skip


# ---------------------------------------------------------------- 资金


@router.get("/funds", response_class=HTMLResponse)
def funds_page(
    request: Request, session: Viewer, unit: str | None = None, unidentified: str | None = None,
    page_no: Annotated[int | None, Query(alias="page")] = None, message: str | None = None,
) -> Response:  # fmt: skip
    settings = _settings(request)
    if not settings.funds.arrival:
        return page(
            request,
            "error.html",
            title="资金",
            message="本中心按“立即入账”方式运行（funds.mode = immediate），不登记银行到账",
        )
    number = _page_no(page_no)
    view = operate.funds_view(settings, _store(request), unit=unit or None, unidentified=bool(unidentified),
                              limit=PAGE + 1, offset=(number - 1) * PAGE)  # fmt: skip
    more = len(view["credits"]) > PAGE
    pages: dict[str, Any] = {"number": number, "previous": None, "next": None}
    kept = {k: v for k, v in request.query_params.items() if k not in ("page", "message") and v}
    if number > 1:
        pages["previous"] = f"/funds?{urlencode({**kept, 'page': number - 1})}"
    if more:
        pages["next"] = f"/funds?{urlencode({**kept, 'page': number + 1})}"
    return page(request, "funds.html", title="资金", credits=view["credits"][:PAGE], suspense=view["suspense"],
                unidentified_fen=view["unidentified_fen"], exceptions_fen=view["exceptions_fen"], pages=pages,
                filters={"unit": unit or "", "unidentified": unidentified or ""}, message=message)  # fmt: skip


@router.post("/funds/assign")
def assign(
    request: Request,
    session: Annotated[Session, Depends(allowed(Action.ASSIGN))],
    credit: Annotated[int, Form()],
    unit: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        done = operate.assign_credit(_settings(request), _store(request), credit, unit.strip(), reason,
                                     by=session.user, via=audit.WEB)  # fmt: skip
    except HpfError as e:
        return page(request, "error.html", status_code=409, title="未能分摊", message=str(e))
    message = f"到账{credit}已分摊给单位{done['unit_account']}，入账{done['posted']}个清册"
    return RedirectResponse(f"/funds?{urlencode({'message': message})}", status_code=303)


@router.post("/funds/transfer")
def transfer(
    request: Request,
    session: Annotated[Session, Depends(allowed(Action.TRANSFER))],
    source: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        done = operate.transfer_suspense(_settings(request), _store(request), source.strip(), target.strip(),
                                         amount.strip(), reason, by=session.user, via=audit.WEB)  # fmt: skip
    except HpfError as e:
        return page(request, "error.html", status_code=409, title="未能转移", message=str(e))
    message = f"已从单位{done['from']}转移暂收款到单位{done['to']}，入账{done['posted']}个清册"
    return RedirectResponse(f"/funds?{urlencode({'message': message})}", status_code=303)


# ---------------------------------------------------------------- 对账


def _reconciliation(request: Request, month: int, status: str | None) -> Any:
    """The month's report, its lines narrowed to one status when asked: what the page shows and the download gives."""
    import polars as pl

    r = kept_report(request.app, month)
    if status:
        r = dataclasses.replace(r, lines=r.lines.filter(pl.col("status") == status))
    return r


def kept_report(app: Any, month: int) -> Any:
    """The month's reconciliation, kept by month and the database's stamp (`db.reconcile.stamp`).

    The stamp is read in the report's own snapshot, so a kept report is exactly what a fresh
    read would give: paging, filtering and downloading a month that did not change read it once.
    One report is computed at a time: a request that arrives while the warmer computes the same
    month waits for it instead of computing it a second time beside it.
    """
    from db.reconcile import reconcile, snapshot, stamp

    arrival = app.state.settings.funds.arrival
    kept: dict[tuple[Any, ...], Any] = app.state.reports
    with app.state.reporting, snapshot(app.state.engine) as conn:
        key = (month, arrival, *stamp(conn))
        r = kept.get(key)
        if r is None:
            r = reconcile(conn, month, arrival=arrival)
            if not _changed_lately(key[-2:]):  # master data times are to the second: keep only a settled one
                kept[key] = r
                while len(kept) > 12:
                    del kept[next(iter(kept))]
    return r


def _changed_lately(times: tuple[Any, ...]) -> bool:
    """Whether a master-data change is within the last 2 s (SQLite keeps such times to the second)."""
    from datetime import UTC

    now = datetime.now(UTC)
    for t in times:
        if isinstance(t, str):
            t = datetime.fromisoformat(t)
        if isinstance(t, datetime) and now - (t if t.tzinfo else t.replace(tzinfo=UTC)) < timedelta(seconds=2):
            return True
    return False


@router.get("/reconcile", response_class=HTMLResponse)
def reconcile_page(
    request: Request, session: Viewer, month: str | None = None, status: str | None = None,
    page_no: Annotated[int | None, Query(alias="page")] = None,
) -> Response:  # fmt: skip
    from batch.reconcile import STATUS_LABELS as LINE_LABELS
    from db import overview
    from web.charts import monthly_bars

    settings = _settings(request)
    month_no = _month(month, settings.today)
    r = _reconciliation(request, month_no, status or None)
    number = _page_no(page_no)
    lines = r.lines.slice((number - 1) * PAGE, PAGE).to_dicts()
    months = _months_back(month_no, 12)
    with _engine(request).connect() as conn:
        figures = overview.monthly(conn, months)
    chart = monthly_bars([(f"{m % 100}月", figures[m]) for m in months])
    query = urlencode({k: v for k, v in (("month", month_no), ("status", status or "")) if v})
    return page(
        request, "reconcile.html", title=f"对账 {month_no}", month=month_no, r=r, lines=lines,
        pages=_pages(r.lines.height, number, request), status=status or "", statuses=LINE_LABELS,
        chart=chart, download_query=query, arrival=settings.funds.arrival,
    )  # fmt: skip


@router.get("/reconcile/download")
def reconcile_download(
    request: Request, session: Annotated[Session, Depends(reading(Action.DOWNLOAD))], month: str | None = None,
    status: str | None = None, format: str = "xlsx",
) -> Response:  # fmt: skip
    from batch.reconcile import file_names, reconciliation_csv, reconciliation_xlsx

    month_no = _month(month, _settings(request).today)
    r = _reconciliation(request, month_no, status or None)
    csv_name, xlsx_name = file_names(month_no)
    if format == "csv":
        data, name, media = reconciliation_csv(r), csv_name, _MEDIA[".csv"]
    else:
        data, name, media = reconciliation_xlsx(r), xlsx_name, _MEDIA[".xlsx"]
    if status:
        name = name.replace(f"_{month_no}", f"_{month_no}_{status}")
    with _engine(request).begin() as conn:
        audit.record(conn, session.user, "download", target=name, detail=f"{r.lines.height}行", via=audit.WEB)
    return Response(
        data, media_type=media, headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    )


# ---------------------------------------------------------------- 职工


@router.get("/members", response_class=HTMLResponse)
def member(request: Request, session: Viewer, account: str | None = None) -> Response:
    if not account:
        return page(request, "member.html", title="职工", m=None, account="", by_month=[], message=None)
    try:
        view = operate.member_view(_engine(request), account.strip(), with_id=True)
    except operate.OperationError as e:
        return page(request, "member.html", title="职工", m=None, account=account, by_month=[], message=str(e))
    if not sees_id_numbers(session.role):
        view["id_number"] = masked_id(view["id_number"])
    return page(request, "member.html", title=f"职工 {view['member_account']}", m=view, account=account,
                by_month=_by_month(view["entries"]), message=None)  # fmt: skip


def _by_month(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A statement's deposits by month: employer part, employee part and their total (reversals net)."""
    months: dict[int, dict[str, Any]] = {}
    for e in entries:
        line = months.setdefault(e["month"], {"month": e["month"], "employer": 0, "employee": 0, "total": 0})
        key = "employer" if e["part"] == "employer" else "employee"
        line[key] += e["amount_fen"]
        line["total"] += e["amount_fen"]
    return [months[m] for m in sorted(months, reverse=True)]


@router.get("/members/{account}/statement.csv")
def statement(
    request: Request, account: str, session: Annotated[Session, Depends(reading(Action.DOWNLOAD))]
) -> Response:
    from batch.money import format_yuan
    from batch.results import guard_text

    try:
        view = operate.member_view(_engine(request), account, limit=10_000)
    except operate.OperationError as missing:
        return page(request, "error.html", status_code=404, title="没有此职工", message=str(missing))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        ("member_account", "name", "unit_account", "month", "kind", "part", "amount", "batch_id", "booked_on")
    )
    for e in view["entries"]:
        writer.writerow((view["member_account"], guard_text(view["name"] or ""), view["unit_account"], e["month"],
                         e["kind"], e["part"], format_yuan(e["amount_fen"]), e["batch_id"], e["booked_on"]))  # fmt: skip
    name = f"statement_{view['member_account']}.csv"
    with _engine(request).begin() as conn:
        audit.record(conn, session.user, "download", target=name, detail=f"{len(view['entries'])}行", via=audit.WEB)
    return Response(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"), media_type=_MEDIA[".csv"],
                    headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"})  # fmt: skip


# ---------------------------------------------------------------- 审计


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, session: Viewer, actor: str | None = None, action: str | None = None,
    since: str | None = None, page_no: Annotated[int | None, Query(alias="page")] = None,
) -> Response:  # fmt: skip
    zone = _settings(request).schedule.zone
    moment = None
    if since:
        try:
            moment = datetime.combine(date.fromisoformat(since), time(), zone)
        except ValueError:
            since = ""
    number = _page_no(page_no)
    with _engine(request).connect() as conn:
        total = audit.counted(conn, moment, actor=actor or None, action=action or None)
        rows = audit.since(conn, moment, PAGE, actor=actor or None, action=action or None, offset=(number - 1) * PAGE)
    for r in rows:
        r["at"] = operate.local_time(r["at"], zone)
        r["detail"] = _masked(session, r["detail"])
        r["reason"] = _masked(session, r["reason"])
    return page(request, "audit.html", title="审计", rows=rows, pages=_pages(total, number, request),
                filters={"actor": actor or "", "action": action or "", "since": since or ""})  # fmt: skip


# The form field the templates name: one constant for the token's name.
__all__ = ["CSRF_FIELD", "page", "router"]
