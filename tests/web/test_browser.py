"""The console in a real headless Chromium (Debian's, driven by Playwright), on SQLite and PostgreSQL.

What operators and finance staff do in it: rerun a failed batch, reverse with a
reason and a confirmation, assign an unidentified credit, download the 对账 page
as XLSX. Every page loads with no console error under the strict CSP, and each
test leaves a screenshot of its pages in docs/screenshots/ for reviewers.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from tests.support.console import PASSWORD, SCREENSHOTS, A, B, Console, Month, unblock_archive
from tests.support.environments import Job

pytestmark = pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)

PAGES = {
    "attention": "/",
    "batches": "/batches",
    "batch": "/batches/{a}",
    "rows": "/batches/{a}/rows",
    "units": "/units",
    "funds": "/funds",
    "reconcile": "/reconcile?month=202611",
    "member": "/members?account=100123000001",
    "audit": "/audit",
}


@pytest.fixture
def pages(browser: Any, console: Console) -> Iterator[Any]:
    """A fresh browser context per test (its own cookies), and every console message it logs."""
    context = browser.new_context(base_url=console.url, locale="zh-CN", viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)  # fmt: skip
    context.messages = []

    def watch(page: Any) -> None:
        page.on("console", lambda m: context.messages.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: context.messages.append(f"pageerror: {e}"))

    context.on("page", watch)
    yield context
    context.close()


def log_in(context: Any, name: str) -> Any:
    page = context.new_page()
    page.goto("/")
    assert page.url.endswith("/login?next=%2F")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    assert page.locator("header .who").inner_text().startswith(name)
    return page


def done_task(page: Any) -> str:
    """Wait for the background task the page polls (htmx, every second) and return what it says."""
    page.wait_for_selector("#task-done", timeout=30_000)
    return str(page.locator("#task").inner_text())


def test_every_page_loads_in_chinese_with_no_console_error(pages: Any, db_url: str, month: Month) -> None:
    page = log_in(pages, "fin")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    for name, path in PAGES.items():
        response = page.goto(path.format(a=month.a_batch))
        assert response.status == 200, path
        assert page.locator("h1").inner_text(), path
        if name == "reconcile":  # the 12-month chart, drawn on the server
            assert page.locator("svg.chart rect.due").count() >= 1
        if db_url.startswith("sqlite"):  # one set of pictures is enough
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert pages.messages == []


def test_an_operator_reruns_a_failed_batch_and_sees_it_done_and_audited(pages: Any, job: Job, month: Month) -> None:
    page = log_in(pages, "ops")
    page.goto("/")
    assert page.locator(f"a[href='/batches/{month.a_batch}']").count() >= 1  # 需要处理 lists it
    unblock_archive(job)  # the operator fixed the server's folder; now the rerun can archive
    page.goto(f"/batches/{month.a_batch}")
    page.click("#rerun")
    assert "已完成" in done_task(page) and "未成功" not in done_task(page)
    page.goto(f"/batches/{month.a_batch}")
    assert "已入账" in page.locator("dl.facts").inner_text()
    assert "最近错误" not in page.locator("dl.facts").inner_text()
    assert "archived" not in page.content() or "已归档" in page.content()
    assert (job.env.root / A / "archive" / f"{A}_202611.csv").exists()
    page.goto("/audit?action=rerun")
    rows = page.locator("#audit tbody tr")
    assert rows.count() == 1 and "ops" in rows.first.inner_text() and "控制台" in rows.first.inner_text()
    assert pages.messages == []


def test_bulk_rerun_after_an_outage_reruns_the_ticked_batches_in_the_background(
    pages: Any, job: Job, month: Month
) -> None:
    page = log_in(pages, "ops")
    assert "上一轮" in page.locator("main").inner_text()  # the last cycle's time, as run-once recorded it
    unblock_archive(job)
    page.goto("/batches?status=FAILED")  # the filter is kept in the URL
    boxes = page.locator("input[name=ids]")
    assert boxes.count() == 1
    boxes.first.check()
    page.click("#rerun-selected")
    text = done_task(page)
    assert "1/1" in text and f"批次{month.a_batch}" in text and "未成功" not in text
    page.goto("/batches?status=FAILED")
    assert page.locator("input[name=ids]").count() == 0
    assert (job.env.root / A / "archive" / f"{A}_202611.csv").exists()


def test_a_viewer_sees_no_action_and_is_refused_when_posting_one_by_hand(pages: Any, month: Month) -> None:
    page = log_in(pages, "look")
    page.goto(f"/batches/{month.a_batch}")
    assert page.locator("#rerun").count() == 0 and page.locator("#reverse").count() == 0
    page.goto("/batches")
    assert page.locator("input[name=ids]").count() == 0
    page.goto("/funds")
    assert page.locator("form[action='/funds/assign']").count() == 0
    csrf = page.locator("form.who input[name=csrf_token]").get_attribute("value")
    refused = page.request.post(f"/batches/{month.a_batch}/rerun", form={"csrf_token": csrf})
    assert refused.status == 403 and "无权" in refused.text()
    no_token = page.request.post(f"/batches/{month.a_batch}/rerun")
    assert no_token.status == 403 and "CSRF" in no_token.text()


def test_a_reverse_needs_a_reason_and_a_confirmation(pages: Any, job: Job, month: Month) -> None:
    page = log_in(pages, "ops")
    page.goto(f"/batches/{month.a_batch}")
    page.click("#reverse")  # no reason: the browser does not send the form
    assert page.url.endswith(f"/batches/{month.a_batch}")
    csrf = page.locator("form.who input[name=csrf_token]").get_attribute("value")
    empty = page.request.post(f"/batches/{month.a_batch}/reverse", form={"csrf_token": csrf, "reason": " ",
                                                                         "confirmed": "yes"})  # fmt: skip
    assert empty.status == 400
    page.fill("input[name=reason]", "<b>单位多报</b>")
    page.click("#reverse")
    assert "确认冲销" in page.locator("h1").inner_text()
    assert "<b>单位多报</b>" in page.locator("main").inner_text()  # the reason shown as typed, as text
    page.goto(f"/batches/{month.a_batch}")
    assert "已入账" in page.locator("dl.facts").inner_text()  # not confirmed: nothing happened
    page.fill("input[name=reason]", "单位多报")
    page.click("#reverse")
    page.click("#confirm")
    done_task(page)
    page.goto(f"/batches/{month.a_batch}")
    assert "已冲销" in page.locator("dl.facts").inner_text()
    assert job.run("verify").exit_code == 0
    page.goto("/audit?action=reverse")
    assert "单位多报" in page.locator("#audit tbody tr").first.inner_text()
    assert pages.messages == []


def test_finance_assigns_an_unidentified_credit_and_the_awaiting_list_posts(pages: Any, job: Job, month: Month) -> None:
    page = log_in(pages, "fin")
    page.goto(f"/batches/{month.b_batch}")
    assert "待到账" in page.locator("dl.facts").inner_text()
    page.goto("/reconcile?month=202611")  # the month's report, computed and kept before the money moves
    assert "待到账" in page.locator("#lines tbody tr", has_text=B).inner_text()
    page.goto("/funds?unidentified=1")
    form = page.locator("form[action='/funds/assign']")
    assert form.count() == 1
    form.locator("input[name=unit]").fill(B)
    form.locator("input[name=reason]").fill("电话确认为该单位缴款")
    form.locator("button").click()
    assert "入账1个清册" in page.locator("main p.ok").inner_text()
    page.goto(f"/batches/{month.b_batch}")
    assert "已入账" in page.locator("dl.facts").inner_text()
    page.goto("/reconcile?month=202611")  # the kept report is not shown again: the posting changed the stamp
    assert "已入账" in page.locator("#lines tbody tr", has_text=B).inner_text()
    assert job.run("verify").exit_code == 0
    page.goto("/audit?action=assign")
    assert "fin" in page.locator("#audit tbody tr").first.inner_text()
    assert pages.messages == []


def test_the_reconcile_download_is_exactly_what_the_page_shows(pages: Any, month: Month) -> None:
    page = log_in(pages, "fin")
    page.goto("/reconcile?month=202611&status=AWAITING_FUNDS")
    shown = [[c.strip() for c in row.locator("td").all_inner_texts()] for row in page.locator("#lines tbody tr").all()]
    assert [r[0] for r in shown] == [B]
    with page.expect_download() as download:
        page.click("#xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    header_row = next(i for i, row in enumerate(sheet.iter_rows(values_only=True), 1) if row and row[0] == "单位账号")
    lines = []
    for row in sheet.iter_rows(min_row=header_row + 1, values_only=True):
        if not row or not row[0] or not str(row[0]).isdigit():
            break
        lines.append(row)
    assert [str(r[0]) for r in lines] == [r[0] for r in shown]
    for got, want in zip(lines, shown, strict=True):
        assert str(got[1]) == want[1] and [str(v) for v in got[3:7]] == want[3:7]
        money = [f"{Decimal(str(v)):.2f}" if isinstance(v, float | int) else "" for v in got[7:12]]
        assert money == want[7:12]
    page.goto("/reconcile?month=202611")
    every = page.locator("#lines tbody tr td:first-child").all_inner_texts()  # every employer when no status is chosen
    assert {A, B} <= set(every) and len(every) > 2
