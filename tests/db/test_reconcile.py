"""The monthly reconciliation (SPEC §7 `hpf report reconcile`): figures, CSV, XLSX, and the report job.

The figures are checked on SQLite and PostgreSQL, after real cycles (`hpf run-once`
over the embedded SFTP server) and on hand-made batches; the file formats are
checked on a hand-made Reconciliation, read back with the csv module and openpyxl.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from sqlalchemy import event, func, insert, select, update

from batch.master_files import parse_employers, parse_members
from batch.reconcile import XLSX_HEADERS, Reconciliation, build, reconciliation_csv, reconciliation_xlsx
from db import tables
from db.engine import make_engine
from db.reconcile import reconcile, snapshot
from db.store import ImportCounts, Store
from jobs.report import reconcile_report
from jobs.settings import load_settings
from schemas.frames import RECONCILIATION_CSV_COLUMNS as CSV_COLUMNS
from schemas.frames import RECONCILIATION_LINE as LINE_SCHEMA
from tests.support.environments import Job, SftpEnv
from tests.support.samples import SAMPLES

A, B, C, D = "0101000123", "0101000456", "0101000789", "0101000321"
MONTH = 202611
VALID_A = SAMPLES / "valid" / f"{A}_202611.csv"
A_TOTAL = 1623000
"""The fen A's valid November file posts (six members)."""


# ---------------------------------------------------------------- helpers


@pytest.fixture
def job_store(job: Job) -> Iterator[Store]:
    """The job's database, for reading figures directly."""
    engine = make_engine(job.db_url)
    yield Store(engine)
    engine.dispose()


IMMEDIATE = {"amount_due_fen": None, "amount_received_fen": None, "suspense_opening_fen": None,
             "suspense_closing_fen": None}  # fmt: skip
"""In immediate mode the money columns other than amount_posted are empty (SPEC §7)."""


def _reconcile(store: Store, month: int = MONTH) -> Reconciliation:
    with store.engine.connect() as conn:
        return reconcile(conn, month)


def _lines(r: Reconciliation) -> dict[str, dict[str, Any]]:
    return {row["unit_account"]: row for row in r.lines.iter_rows(named=True)}


def _ledger(store: Store, month: int = MONTH) -> tuple[int, int, int]:
    """Straight from the tables: the month's standing deposits, member balances, minus CONTROL."""
    d = tables.deposits.c
    with store.engine.connect() as conn:
        month_entries = conn.execute(
            select(func.coalesce(func.sum(d.employer_fen + d.employee_fen), 0)).where(
                d.month == month, d.reversed.is_(False)
            )
        ).scalar_one()
        balances = conn.execute(select(func.coalesce(func.sum(tables.members.c.balance_fen), 0))).scalar_one()
        control = conn.execute(select(tables.control_accounts.c.balance_fen)).scalar_one()
    return int(month_entries), int(balances), -int(control)


def _cycle(job: Job) -> None:
    result = job.run("run-once")
    assert result.exit_code == 0, result.output


def _header_only(job: Job, unit: str) -> Path:
    """A file that is rejected: the header and no data rows (F_FORMAT)."""
    path = job.home / f"{unit}_202611.csv"
    path.write_text(
        "个人账号,姓名,证件号码,缴存基数,单位缴存比例,个人缴存比例,单位月缴存额,个人月缴存额,月缴存额合计\n", "utf-8"
    )
    return path


def _posted_batch(store: Store, unit: str) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(tables.batches.c.id).where(
                    tables.batches.c.unit_account == unit, tables.batches.c.status == "POSTED"
                )
            ).scalar_one()
        )


# ------------------------------------------------------- after real cycles


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_a_cycle_gives_posted_rejected_and_not_filed_lines(sftp_env: SftpEnv, job: Job, job_store: Store) -> None:
    job.upload(A, VALID_A, mtime=1_790_000_000)
    job.upload(A, VALID_A, name=f"{A}_202611_copy.csv", mtime=1_790_000_100)  # a DUPLICATE arrival
    job.upload(D, _header_only(job, D))
    job.upload(C, SAMPLES / "invalid" / "f_employer_status" / f"{C}_202611.csv")  # closed (04): refused
    _cycle(job)

    r = _reconcile(job_store)
    assert r.lines.schema == LINE_SCHEMA
    # A, D, B may file; C is closed (04) but sent a file for the month, so it has a line too.
    assert r.lines["unit_account"].to_list() == [A, D, B, C]
    lines = _lines(r)
    assert lines[A] == {
        "unit_account": A,
        "employer_name": "成都锦城云数科技有限公司",
        "status": "POSTED",
        "files": 2,  # every arrival, the duplicate included
        "rows_received": 6,  # a duplicate is not read: it adds no rows
        "rows_posted": 6,
        "members_active": 6,  # one sealed, one closed member are not active
        "amount_posted_fen": A_TOTAL,
        **IMMEDIATE,
    }
    assert lines[D] == {
        "unit_account": D,
        "employer_name": "成都少城文化传播有限公司",
        "status": "REJECTED",
        "files": 1,
        "rows_received": 0,
        "rows_posted": 0,
        "members_active": 4,
        "amount_posted_fen": 0,
        **IMMEDIATE,
    }
    assert lines[B] == {
        "unit_account": B,
        "employer_name": "都江堰市青城山茶业有限公司",
        "status": "NOT_FILED",
        "files": 0,
        "rows_received": 0,
        "rows_posted": 0,
        "members_active": 4,
        "amount_posted_fen": 0,
        **IMMEDIATE,
    }
    assert (lines[C]["status"], lines[C]["files"], lines[C]["rows_received"], lines[C]["rows_posted"]) == (
        "REJECTED",
        1,
        2,
        0,
    )
    assert lines[C]["members_active"] == 2 and lines[C]["amount_posted_fen"] == 0

    month_entries, balances, control = _ledger(job_store)
    assert r.posted_this_month_fen == r.ledger_month_fen == month_entries == A_TOTAL
    assert r.member_balances_fen == balances == sum(job.balances().values()) == A_TOTAL
    assert r.control_fen == control == A_TOTAL
    assert r.problems == () and r.agree
    # Another month has no batches: every employer that may file is NOT_FILED, totals still agree.
    december = _reconcile(job_store, 202612)
    assert december.lines["unit_account"].to_list() == [A, D, B]
    assert set(december.lines["status"]) == {"NOT_FILED"} and december.posted_this_month_fen == 0
    assert december.ledger_month_fen == 0 and december.member_balances_fen == A_TOTAL and december.problems == ()


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_a_reversed_month_is_not_filed_until_it_is_filed_again(sftp_env: SftpEnv, job: Job, job_store: Store) -> None:
    job.upload(A, VALID_A)
    _cycle(job)
    batch = _posted_batch(job_store, A)
    reversed_ = job.run("batches", "reverse", str(batch), "--reason", "单位多报", "--yes")
    assert reversed_.exit_code == 0, reversed_.output

    r = _reconcile(job_store)
    line = _lines(r)[A]
    # The reversal made the month due again: the employer is among those still to file, not
    # among those whose file was refused; the arrival still shows in files and rows_received.
    assert (line["status"], line["files"], line["rows_received"], line["rows_posted"], line["amount_posted_fen"]) == (
        "NOT_FILED",
        1,
        6,
        0,
        0,
    )
    assert (r.posted_this_month_fen, r.ledger_month_fen, r.member_balances_fen, r.control_fen) == (0, 0, 0, 0)
    assert r.problems == ()

    # The employer files the month again (different bytes, or it would be a duplicate): POSTED once.
    again = job.home / f"{A}_202611.csv"
    again.write_bytes(VALID_A.read_bytes() + b"\n")
    job.upload(A, again, mtime=1_790_000_500)
    _cycle(job)
    r = _reconcile(job_store)
    line = _lines(r)[A]
    assert (line["status"], line["files"], line["rows_received"], line["rows_posted"], line["amount_posted_fen"]) == (
        "POSTED",
        2,
        12,
        6,
        A_TOTAL,
    )
    assert r.posted_this_month_fen == r.ledger_month_fen == r.member_balances_fen == r.control_fen == A_TOTAL
    assert r.problems == ()


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_a_rejection_and_a_reversal_make_rejected(sftp_env: SftpEnv, job: Job, job_store: Store) -> None:
    """A refused file that still stands beside a reversed one: the employer tried and was refused."""
    job.upload(A, VALID_A)
    _cycle(job)
    assert (
        job.run("batches", "reverse", str(_posted_batch(job_store, A)), "--reason", "基数有误", "--yes").exit_code == 0
    )
    job.upload(A, _header_only(job, A), mtime=1_790_000_900)
    _cycle(job)
    line = _lines(_reconcile(job_store))[A]
    assert (line["status"], line["files"], line["amount_posted_fen"]) == ("REJECTED", 2, 0)


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_a_hand_made_inconsistency_is_a_problem_and_the_files_are_still_written(
    sftp_env: SftpEnv, job: Job, job_store: Store, tmp_path: Path
) -> None:
    job.upload(A, VALID_A)
    _cycle(job)
    with job_store.engine.begin() as conn:
        conn.execute(update(tables.control_accounts).values(balance_fen=tables.control_accounts.c.balance_fen - 500))
        conn.execute(
            update(tables.members).where(tables.members.c.member_account == "100123000001").values(balance_fen=7)
        )  # was 210400
    r = _reconcile(job_store)
    assert r.posted_this_month_fen == r.ledger_month_fen == A_TOTAL  # the month itself still agrees
    assert r.control_fen == A_TOTAL + 500 and r.member_balances_fen == A_TOTAL - 210400 + 7
    (problem,) = r.problems
    assert problem.code == "L_CONTROL"
    assert problem.message == "控制账户余额16235.00元与个人账户余额合计14126.07元不一致，相差2108.93元"

    with job_store.engine.begin() as conn:  # one fen more taken from CONTROL than the members got
        first = conn.execute(
            select(func.min(tables.entries.c.id)).where(tables.entries.c.account == tables.CONTROL)
        ).scalar_one()
        conn.execute(
            update(tables.entries)
            .where(tables.entries.c.id == first)
            .values(amount_fen=tables.entries.c.amount_fen - 1)
        )
    r = _reconcile(job_store)
    assert len(r.problems) == 2
    assert r.problems[0].message == (
        "本月入账合计16230.01元（202611记账的入账减冲销，各单位合计）与账本中202611记账的个人账户净入账16230.00元"
        "（缴存减冲销）不一致，相差0.01元"
    )

    settings = load_settings(job.home / "hpf.toml", job.environ)
    outcome = reconcile_report(settings.sftp, job_store, MONTH, tmp_path / "out", upload=False)
    assert not outcome.agree and outcome.uploaded is None and outcome.not_uploaded
    text = outcome.csv_path.read_bytes().decode("utf-8-sig")
    assert "control_account,控制账户余额,,,,,,,,16235.00,,\r\n" in text
    assert "posted_this_month,本月入账合计,,,,,,,,16230.01,,\r\n" in text
    sheet = openpyxl.load_workbook(outcome.xlsx_path)["对账"]
    verdict = [row for row in sheet.iter_rows(values_only=True) if row[0] == "核对结果"]
    assert verdict and str(verdict[0][1]).startswith("不一致：本月入账合计16230.01元")


# ---------------------------------------------------------- hand-made data

EMPLOYERS = (
    "unit_account,name,credit_code,status,employer_rate,employee_rate,wage_tier,rounding,paid_through\n"
    "0101000001,正常单位,91350100M000101Y4Q,01,12%,12%,1,,202610\n"
    "0101000002,开户单位,91350100M000102Y4E,02,5%,5%,2,,\n"
    "0101000003,缓缴单位,91350100M000103Y44,03,8%,8%,1,,202610\n"
    "0101000004,注销单位,91350100M000104Y4R,04,12%,12%,1,,202610\n"
    '0101000005,"=HYPERLINK(""http://x"")",91350100M000105Y4F,05,12%,12%,1,,202610\n'
)
MEMBERS = (
    "member_account,unit_account,name,id_type,id_number,base,status,paid_through\n"
    "100001,0101000001,张三,01,11010519491231002x,5000.00,normal,202610\n"
    "100002,0101000001,李四,01,440524188001010014,5000,sealed,202610\n"
    "100003,0101000001,王五,03,E12345678,2200,normal,202610\n"
    "200001,0101000002,赵六,03,E12345679,2200,closed,\n"
)


def _load(store: Store) -> None:
    employers = parse_employers(EMPLOYERS.encode(), "employers.csv")
    assert isinstance(employers, pl.DataFrame), employers
    members = parse_members(MEMBERS.encode(), "members.csv", set(employers["unit_account"]), date(2026, 11, 22))
    assert isinstance(members, pl.DataFrame), members
    assert isinstance(store.import_master(employers, members), ImportCounts)


def _batch(store: Store, unit: str, name: str, status: str, month: int | None, rows: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(tables.batches).values(
                unit_account=unit, file_name=name, file_size=rows, file_mtime=0, month=month, status=status,
                step="archived", rows=rows, posted_rows=0, posted_fen=0,
            )
        )  # fmt: skip


def test_which_employers_have_a_line_in_few_statements(store: Store) -> None:
    _load(store)
    _batch(store, "0101000005", "0101000005_202611.csv", "REJECTED", MONTH, 3)  # cancelled (05), filed anyway
    _batch(store, "0109999999", "0109999999_202611.csv", "REJECTED", MONTH, 1)  # an inbox not in master data
    _batch(store, "0101000004", "0101000004_202610.csv", "REJECTED", 202610, 2)  # another month: no line
    # No month recorded with the outcome: the month comes from a name that starts with the inbox's unit.
    _batch(store, "0101000003", "0101000003_202611_a.csv", "RECEIVED", None, 0)  # still being processed
    _batch(store, "0101000002", "0101000002_202611.XLSX", "DUPLICATE", None, 0)  # sent again: refused
    _batch(store, "0101000001", "汇缴清册_0101000001_202611.csv", "REJECTED", None, 6)  # F_NAME: month unknown
    _batch(store, "0101000001", "0101000001_2026110.csv", "REJECTED", None, 6)  # not 202611
    _batch(store, "0101000001", "0101000001_202612.csv", "FAILED", None, 0)  # another month

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        r = _reconcile(store)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(statements) == 3  # the lines, the postings, the totals: never one query per employer

    assert r.lines.rows() == [
        ("0101000001", "正常单位", "NOT_FILED", 0, 0, 0, 2, None, None, 0, None, None),
        ("0101000002", "开户单位", "REJECTED", 1, 0, 0, 0, None, None, 0, None, None),
        ("0101000003", "缓缴单位", "NOT_FILED", 1, 0, 0, 0, None, None, 0, None, None),
        ("0101000005", '=HYPERLINK("http://x")', "REJECTED", 1, 3, 0, 0, None, None, 0, None, None),
        ("0109999999", None, "REJECTED", 1, 1, 0, 0, None, None, 0, None, None),
    ]
    assert r.problems == ()
    text = reconciliation_csv(r).decode("utf-8-sig")
    assert '0101000005,"\'=HYPERLINK(""http://x"")",REJECTED,1,3,0,0,,,0.00,,\r\n' in text
    assert "0109999999,,REJECTED,1,1,0,0,,,0.00,,\r\n" in text


def test_the_report_reads_onesnapshot(store: Store) -> None:
    """A cycle committing while the report reads cannot make its totals disagree."""
    _load(store)
    with snapshot(store.engine) as conn:
        before = reconcile(conn, MONTH)
        with store.engine.begin() as writer:  # another worker posts meanwhile
            writer.execute(update(tables.control_accounts).values(balance_fen=-100))
            writer.execute(
                update(tables.members).where(tables.members.c.member_account == "100001").values(balance_fen=100)
            )
        during = reconcile(conn, MONTH)
    assert (before.control_fen, during.control_fen, during.member_balances_fen) == (0, 0, 0)
    after = _reconcile(store)
    assert (after.control_fen, after.member_balances_fen, after.problems) == (100, 100, ())


def test_a_month_that_is_not_yyyymm_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="YYYYMM"):
        _reconcile(store, 202613)
    with pytest.raises(ValueError, match="YYYYMM"):
        _reconcile(store, 2026)


# ------------------------------------------------------------- the files


def _sample(*, control_fen: int = 1_234_567_89) -> Reconciliation:
    lines = pl.DataFrame(
        [
            (
                "0101000001",
                "成都锦城云数科技有限公司",
                "POSTED",
                2,
                1200,
                1200,
                1180,
                None,
                None,
                1_234_567_89,
                None,
                None,
            ),
            ("0101000002", "=1+2", "REJECTED", 1, 3, 0, 3, None, None, 0, None, None),
            ("0101000003", "@SUM(A1)", "NOT_FILED", 0, 0, 0, 0, None, None, 0, None, None),
            ("0101000004", "-10", "NOT_FILED", 0, 0, 0, 5, None, None, 0, None, None),
            ("0101000005", None, "REJECTED", 1, 1, 0, 0, None, None, 0, None, None),
        ],
        schema=LINE_SCHEMA,
        orient="row",
    )
    return build(MONTH, lines, ledger_month_fen=1_234_567_89, member_balances_fen=1_234_567_89, control_fen=control_fen)


def test_the_csv_reads_back_with_its_control_totals() -> None:
    data = reconciliation_csv(_sample())
    assert data.startswith(b"\xef\xbb\xbf")
    body = data[3:].decode("utf-8")
    assert body.endswith("\r\n") and "\n" not in body.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows == [
        list(CSV_COLUMNS),
        ["0101000001", "成都锦城云数科技有限公司", "POSTED", "2", "1200", "1200", "1180", "", "", "1234567.89", "", ""],
        ["0101000002", "'=1+2", "REJECTED", "1", "3", "0", "3", "", "", "0.00", "", ""],
        ["0101000003", "'@SUM(A1)", "NOT_FILED", "0", "0", "0", "0", "", "", "0.00", "", ""],
        ["0101000004", "'-10", "NOT_FILED", "0", "0", "0", "5", "", "", "0.00", "", ""],
        ["0101000005", "", "REJECTED", "1", "1", "0", "0", "", "", "0.00", "", ""],
        [],
        ["posted_this_month", "本月入账合计", *[""] * 7, "1234567.89", "", ""],
        ["member_balances", "个人账户余额合计", *[""] * 7, "1234567.89", "", ""],
        ["control_account", "控制账户余额", *[""] * 7, "1234567.89", "", ""],
    ]
    assert (
        body.splitlines()[0]
        == "unit_account,employer_name,status,files,rows_received,rows_posted,members_active,amount_due,"
        "amount_received,amount_posted,suspense_opening,suspense_closing"
    )


def test_the_workbook_is_for_people_and_holds_no_formulas() -> None:
    book = openpyxl.load_workbook(io.BytesIO(reconciliation_xlsx(_sample())))
    assert book.sheetnames == ["对账"]
    sheet = book["对账"]
    assert sheet["A1"].value == "住房公积金汇缴对账表 202611"
    assert [c.value for c in sheet[2]] == list(XLSX_HEADERS)
    assert all(c.font.b for c in sheet[2])
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == "A2:L7"

    first = [c.value for c in sheet[3]]
    assert first == ["0101000001", "成都锦城云数科技有限公司", "已入账（POSTED）", 2, 1200, 1200, 1180, None, None,
                     1234567.89, None, None]  # fmt: skip
    assert sheet["J3"].number_format == "#,##0.00"
    assert all(isinstance(sheet.cell(3, col).value, int) for col in range(4, 8))
    assert [sheet.cell(r, 2).value for r in range(4, 8)] == ["'=1+2", "'@SUM(A1)", "'-10", None]
    assert [sheet.cell(r, 3).value for r in range(4, 8)] == [
        "已拒绝（REJECTED）",
        "未申报（NOT_FILED）",
        "未申报（NOT_FILED）",
        "已拒绝（REJECTED）",
    ]
    assert sheet.column_dimensions["B"].width >= 2 * len("成都锦城云数科技有限公司")

    tail = [tuple(v for v in row if v is not None) for row in sheet.iter_rows(min_row=8, values_only=True)]
    assert tail == [
        (),
        ("本月入账合计（元）", 1234567.89),
        ("个人账户余额合计（元）", 1234567.89),
        ("控制账户余额（元）", 1234567.89),
        ("本月入账合计 = 账本中本月个人账户净入账", "1234567.89 / 1234567.89", "一致"),
        ("个人账户余额合计 = 控制账户与暂收入账对应额", "1234567.89 / 1234567.89", "一致"),
        ("核对结果", "一致"),
    ]
    assert sheet["J10"].number_format == "#,##0.00"
    assert sheet["B12"].font.color.rgb.endswith("006100") and sheet["B14"].font.color.rgb.endswith("006100")
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate


def test_the_workbook_says_in_red_what_disagrees() -> None:
    r = _sample(control_fen=1_234_567_00)
    assert [p.message for p in r.problems] == [
        "控制账户余额1234567.00元与个人账户余额合计1234567.89元不一致，相差-0.89元"
    ]
    sheet = openpyxl.load_workbook(io.BytesIO(reconciliation_xlsx(r)))["对账"]
    assert sheet["A14"].value == "核对结果"
    assert sheet["B14"].value == "不一致：" + r.problems[0].message
    assert sheet["B14"].font.color.rgb.endswith("9C0006")
    # The identity that fails, in red with the figures it compared.
    assert (sheet["B13"].value, sheet["C13"].value) == ("1234567.89 / 1234567.00", "不一致")
    assert sheet["B13"].font.color.rgb.endswith("9C0006") and sheet["B12"].font.color.rgb.endswith("006100")
    assert sheet["J11"].value == 1234567.0


# ------------------------------------------------------------- the report job


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_the_report_lands_in_out_dir_and_in_the_finance_outbox(
    sftp_env: SftpEnv, job: Job, job_store: Store, tmp_path: Path
) -> None:
    job.upload(A, VALID_A)
    _cycle(job)
    settings = load_settings(job.home / "hpf.toml", job.environ)
    out = tmp_path / "reports" / "2026"
    outcome = reconcile_report(settings.sftp, job_store, MONTH, out)

    names = ["reconciliation_202611.csv", "reconciliation_202611.xlsx"]
    assert sorted(p.name for p in out.iterdir()) == names  # no temporary files left behind
    assert (outcome.csv_path, outcome.xlsx_path) == (out / names[0], out / names[1])
    assert outcome.agree and outcome.not_uploaded is None
    finance = job.env.root / "_finance" / "outbox"
    assert sorted(p.name for p in finance.iterdir()) == names
    assert outcome.uploaded is not None and [Path(p).name for p in outcome.uploaded] == names
    for name in names:
        assert (finance / name).read_bytes() == (out / name).read_bytes()
    lines = outcome.csv_path.read_bytes().decode("utf-8-sig").splitlines()
    assert f"{A},成都锦城云数科技有限公司,POSTED,1,6,6,6,,,16230.00,," in lines
    assert lines[-3:] == [
        "posted_this_month,本月入账合计,,,,,,,,16230.00,,",
        "member_balances,个人账户余额合计,,,,,,,,16230.00,,",
        "control_account,控制账户余额,,,,,,,,16230.00,,",
    ]
    assert openpyxl.load_workbook(outcome.xlsx_path)["对账"]["C3"].value == "已入账（POSTED）"

    # Run again: the files are replaced in place, locally and remotely.
    again = reconcile_report(settings.sftp, job_store, MONTH, out)
    assert sorted(p.name for p in out.iterdir()) == names and again.uploaded == outcome.uploaded

    # Without [sftp], or when asked not to upload: local files only, and the reason.
    local = reconcile_report(None, job_store, MONTH, tmp_path / "local")
    assert local.uploaded is None and local.not_uploaded and "sftp" in local.not_uploaded
    assert sorted(p.name for p in (tmp_path / "local").iterdir()) == names
