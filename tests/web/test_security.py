"""The console's security by hand-made requests (SPEC §10): what a browser would never send, an attacker might.

Each test talks HTTP to a real uvicorn over loopback, on SQLite and PostgreSQL:
session fixation, logout and disabling, CSRF, role escalation, XSS through an
employer's name, path traversal in result downloads, login throttling, headers.
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select, update

from db import tables
from tests.support.console import PASSWORD, A, B, Console, Month, disable
from tests.support.environments import Job

pytestmark = pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)


def client(console: Console, **cookies: str) -> httpx.Client:
    return httpx.Client(base_url=console.url, follow_redirects=False, cookies=cookies, timeout=30)


def logged_in(console: Console, name: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """A client with a session, and the session's CSRF token as a page carries it."""
    c = client(console)
    form = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    done = c.post("/login", data={"name": name, "password": password, "csrf_token": token.group(1), "next": "/"})
    assert done.status_code == 303 and done.headers["location"] == "/", done.text
    home = c.get("/")
    assert home.status_code == 200
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', home.text)
    assert csrf
    return c, csrf.group(1)


def audit_actions(job: Job) -> list[tuple[str, str, str]]:
    from db.engine import make_engine

    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(tables.audit_log.c.actor, tables.audit_log.c.action, tables.audit_log.c.via)).all()
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_nothing_is_served_without_a_session(console: Console, month: Month) -> None:
    c = client(console)
    for path in ("/", "/batches", f"/batches/{month.a_batch}", "/reconcile", "/audit",
                 f"/batches/{month.a_batch}/files/{A}_202611.result.csv", "/reconcile/download?month=202611"):  # fmt: skip
        got = c.get(path)
        assert got.status_code == 303 and got.headers["location"].startswith("/login?next="), path
    assert c.post(f"/batches/{month.a_batch}/rerun").status_code == 401
    assert c.post("/funds/assign", data={"credit": month.unidentified, "unit": B, "reason": "x"}).status_code == 401
    # A made-up session token opens nothing either.
    assert client(console, hpf_session="forged-token").get("/").status_code == 303


def test_a_session_token_set_before_login_is_never_adopted(console: Console) -> None:
    c = client(console, hpf_session="attacker-chosen-token")
    form = c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    done = c.post("/login", data={"name": "ops", "password": PASSWORD, "csrf_token": token.group(1)})
    assert done.status_code == 303
    issued = done.cookies.get("hpf_session")
    assert issued and issued != "attacker-chosen-token"
    assert client(console, hpf_session="attacker-chosen-token").get("/").status_code == 303
    assert client(console, hpf_session=issued).get("/").status_code == 200


def test_logout_and_disabling_end_the_session_on_the_server(console: Console, job: Job) -> None:
    c, csrf = logged_in(console, "ops")
    copied = c.cookies["hpf_session"]
    assert c.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert client(console, hpf_session=copied).get("/").status_code == 303  # the replayed cookie is dead

    c, _ = logged_in(console, "look")
    copied = c.cookies["hpf_session"]
    disable(job, "look")
    assert client(console, hpf_session=copied).get("/batches").status_code == 303
    form = client(console)
    page = form.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    refused = form.post("/login", data={"name": "look", "password": PASSWORD, "csrf_token": token.group(1)})
    assert refused.status_code == 401 and "hpf_session" not in refused.cookies
    actions = audit_actions(job)
    assert ("ops", "login", "web") in actions and ("ops", "logout", "web") in actions
    assert ("look", "login-failed", "web") in actions


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(
    console: Console, job: Job, month: Month
) -> None:
    c, csrf = logged_in(console, "ops")
    assert c.post(f"/batches/{month.a_batch}/rerun").status_code == 403
    assert c.post(f"/batches/{month.a_batch}/rerun", data={"csrf_token": "wrong"}).status_code == 403
    assert c.post(f"/batches/{month.a_batch}/rerun", headers={"X-CSRF-Token": "wrong"}).status_code == 403
    other, _ = logged_in(console, "fin")  # another user's token is not this session's
    assert (
        c.post(f"/batches/{month.a_batch}/rerun", data={"csrf_token": other.cookies["hpf_session"]}).status_code == 403
    )
    assert not [a for a in audit_actions(job) if a[1] == "rerun"]
    # The login form has its own token, doubled in a cookie: a cross-site login is refused.
    assert client(console).post("/login", data={"name": "ops", "password": PASSWORD}).status_code == 403
    del csrf


def test_roles_are_checked_on_the_server_whatever_the_request(console: Console, job: Job, month: Month) -> None:
    viewer, v_csrf = logged_in(console, "look")
    operator, o_csrf = logged_in(console, "ops")
    finance, f_csrf = logged_in(console, "fin")
    assign = {"credit": str(month.unidentified), "unit": B, "reason": "手工"}
    assert viewer.post(f"/batches/{month.a_batch}/rerun", data={"csrf_token": v_csrf}).status_code == 403
    assert viewer.post(f"/batches/{month.a_batch}/reverse", data={"csrf_token": v_csrf, "reason": "x",
                                                                  "confirmed": "yes"}).status_code == 403  # fmt: skip
    assert viewer.post("/funds/assign", data={**assign, "csrf_token": v_csrf}).status_code == 403
    assert operator.post("/funds/assign", data={**assign, "csrf_token": o_csrf}).status_code == 403
    assert operator.post("/funds/transfer", data={"source": A, "target": B, "amount": "1", "reason": "x",
                                                  "csrf_token": o_csrf}).status_code == 403  # fmt: skip
    assert finance.post(f"/batches/{month.a_batch}/rerun", data={"csrf_token": f_csrf}).status_code == 403
    assert viewer.get("/reconcile/download?month=202611").status_code == 403
    assert operator.get("/members/100123000001/statement.csv").status_code == 403
    assert finance.get("/reconcile/download?month=202611").status_code == 200
    # Nothing happened: no action in the audit log, B's list still waits.
    assert not [a for a in audit_actions(job) if a[1] in ("rerun", "reverse", "assign", "transfer")]
    assert "待到账" in viewer.get(f"/batches/{month.b_batch}").text
    # The viewer's pages offer no action at all.
    page = viewer.get(f"/batches/{month.a_batch}").text
    assert 'id="rerun"' not in page and 'id="reverse"' not in page
    assert 'id="rerun"' in operator.get(f"/batches/{month.a_batch}").text


def test_employer_names_are_shown_as_text(console: Console, job: Job, month: Month) -> None:
    from db.engine import make_engine

    hostile = "<script>alert(1)</script>[/]<img src=x onerror=alert(2)>"
    engine = make_engine(job.db_url)
    with engine.begin() as conn:
        conn.execute(update(tables.employers).where(tables.employers.c.unit_account == A).values(name=hostile))
    engine.dispose()
    c, _ = logged_in(console, "look")
    for path in ("/units", "/reconcile?month=202611"):
        page = c.get(path).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;[/]&lt;img src=x onerror=alert(2)&gt;" in page, path
        assert "<script>alert" not in page and "<img src=x" not in page
    assert c.get("/").headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")


def test_result_downloads_serve_only_the_batch_own_files(console: Console, month: Month) -> None:
    c, _ = logged_in(console, "look")
    own = c.get(f"/batches/{month.a_batch}/files/{A}_202611.result.csv")
    assert own.status_code == 200 and own.content.startswith(b"\xef\xbb\xbf")
    for name in ("../../hpf.toml", "..%2F..%2Fhpf.toml", "/etc/passwd", f"{B}_202611.result.csv",
                 f"{A}_202611.result.csv/../../../hpf.toml"):  # fmt: skip
        got = c.get(f"/batches/{month.a_batch}/files/{name}")
        # 404: no such result of this batch; 422: the client folded `..` away and the id is no number.
        assert got.status_code in (404, 422) and "[database]" not in got.text and "root:" not in got.text, name
    assert c.get(f"/batches/{month.b_batch}/files/{B}_202611.result.csv").status_code == 200


def test_failed_logins_are_slowed_down(console: Console, job: Job) -> None:
    c = client(console)
    now = [1000.0]
    console.app.state.throttle.clock = lambda: now[0]  # the throttle's clock, moved by hand

    def attempt(password: str) -> int:
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        return c.post("/login", data={"name": "ops", "password": password, "csrf_token": token.group(1)}).status_code

    assert [attempt("wrong-password-1") for _ in range(3)] == [401, 401, 401]
    assert attempt(PASSWORD) == 429  # then even the right password waits its turn (2 s)
    now[0] += 2.5
    assert attempt("wrong-password-1") == 401  # checked again; the next wait doubles (4 s)
    now[0] += 2.5
    assert attempt(PASSWORD) == 429
    now[0] += 2.0
    assert attempt(PASSWORD) == 303  # a success clears the name's record
    assert sum(a[1] == "login-failed" for a in audit_actions(job)) == 4
    assert sum(a[1] == "login" for a in audit_actions(job)) == 1


def test_viewers_see_id_numbers_masked(console: Console) -> None:
    viewer, _ = logged_in(console, "look")
    finance, _ = logged_in(console, "fin")
    masked = re.search(r'id="id-number">([^<]+)<', viewer.get("/members?account=100123000001").text)
    whole = re.search(r'id="id-number">([^<]+)<', finance.get("/members?account=100123000001").text)
    assert masked and whole
    assert whole.group(1) == "510107197803152713" and masked.group(1) == "510107********2713"


def test_login_never_redirects_off_the_site(console: Console) -> None:
    c = client(console)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login?next=//evil.example/").text)
    assert token
    done = c.post("/login", data={"name": "ops", "password": PASSWORD, "csrf_token": token.group(1),
                                  "next": "//evil.example/"})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/"


def test_the_current_month_report_is_prepared_before_anyone_asks(console: Console) -> None:
    import time

    deadline = time.monotonic() + 20
    while not console.app.state.reports and time.monotonic() < deadline:
        time.sleep(0.1)
    (key,) = console.app.state.reports
    assert key[:2] == (202611, True)  # the current month (HPF_TODAY), in arrival mode


def test_requests_arriving_together_compute_the_month_once(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    import db.reconcile
    from web.pages import kept_report

    deadline = time.monotonic() + 20
    while not console.app.state.reports and time.monotonic() < deadline:  # the master data settled and kept
        time.sleep(0.1)
    assert console.app.state.reports
    console.app.state.reports.clear()
    computed = []
    real = db.reconcile.reconcile

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        computed.append(threading.get_ident())
        time.sleep(0.3)  # long enough for the other requests to arrive while it computes
        return real(*args, **kwargs)

    monkeypatch.setattr(db.reconcile, "reconcile", slow)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(kept_report(console.app, 202611))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(got) == 3 and got[0] is got[1] is got[2]
    assert len(computed) == 1  # the others waited for it and read the kept report
