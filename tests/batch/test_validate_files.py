"""Validation: valid files, and every file-level reason code of SPEC §4."""

from __future__ import annotations

import hashlib
import io

import pytest
import xlsxwriter

from batch.validate import ValidationOptions
from tests.support.rows import ID_LI, ID_ZHANG, LI, ZHANG
from tests.support.validation import (
    CHINESE,
    COLUMNS,
    ID_PERMIT,
    OPTIONS,
    OTHER,
    TODAY,
    UNIT,
    MemberRow,
    csv_file,
    employer,
    file_codes,
    lookups,
    row,
    run,
)

# ----------------------------------------------------------------- valid files


def test_valid_file() -> None:
    report = run(ZHANG, LI)
    assert report.ok
    assert report.problems() == []
    assert (report.unit_account, report.month) == (UNIT, 202611)
    assert report.rows["row_no"].to_list() == [2, 3]
    assert report.rows["base_fen"].to_list() == [500_000, 233_000]
    assert report.rows["employer_rate_bp"].to_list() == [1200, 1200]
    assert report.total_fen == 176_000
    assert report.rejected_rows == 0
    assert report.missing.height == 0
    assert report.sha256 == hashlib.sha256(csv_file(ZHANG, LI)).hexdigest()


def test_valid_file_gbk_english_headers_and_lower_case_x() -> None:
    data = csv_file(row(id_number=ID_ZHANG.lower()), LI, header=[c.upper() for c in COLUMNS], encoding="gbk")
    assert run(data=data).ok


def test_valid_xlsx() -> None:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, CHINESE)
    sheet.write_row(1, 0, ["1001", "张三", "01", ID_ZHANG, 5000, 0.12, "12%", 600, 600, 1200, 202611])
    sheet.write_row(2, 0, ["1002", "李四", 1, ID_LI, 2330, 12, 12, 280, 280, 560])  # id type 1 = "01"
    book.close()
    report = run(data=out.getvalue(), name=f"{UNIT}_202611_v2.xlsx")
    assert report.ok, report.problems()
    assert report.total_fen == 176_000


@pytest.mark.parametrize("status", ["01", "02", "03"])
def test_employer_statuses_that_may_file(status: str) -> None:
    look = lookups(employers=[employer(status=status)])
    assert run(ZHANG, LI, look=look).ok


def test_employer_without_paid_through_may_file_any_past_month() -> None:
    look = lookups(employers=[employer(paid=None)])
    for month in (202607, 202611):
        rows = [row(contribution_month=str(month)), LI]
        assert run(*rows, name=f"{UNIT}_{month}.csv", look=look).ok


def test_marker_that_matches() -> None:
    data = csv_file(ZHANG, LI)
    sha = hashlib.sha256(data).hexdigest()
    marker = f"rows=2\ntotal=1760.00\nsha256={sha.upper()}\nsender=payroll\n".encode()
    assert run(data=data, marker=marker).ok
    assert run(data=data, marker=b"").ok


# ----------------------------------------------------------------- file-level codes


def test_f_name() -> None:
    report = run(ZHANG, LI, name="remittance-november.csv")
    assert file_codes(report) == ["F_NAME"]
    assert (report.unit_account, report.month) == (None, None)


@pytest.mark.parametrize(
    "name",
    [f"{UNIT}_202613.csv", f"{UNIT}_2026-11.csv", f"{UNIT}_202611.txt", f"{UNIT}.csv", f"{UNIT}_202611_bad tag.csv"],
)
def test_f_name_variants(name: str) -> None:
    assert "F_NAME" in file_codes(run(ZHANG, LI, name=name))


def test_f_unit_mismatch() -> None:
    report = run(ZHANG, LI, inbox=OTHER)
    assert file_codes(report) == ["F_UNIT_MISMATCH"]
    assert run(ZHANG, LI, inbox=UNIT).ok


def test_f_employer_unknown() -> None:
    report = run(ZHANG, LI, name="0101000888_202611.csv")
    assert file_codes(report) == ["F_EMPLOYER_UNKNOWN"]
    assert report.row_problems.height == 0


@pytest.mark.parametrize("status", ["04", "05"])
def test_f_employer_status(status: str) -> None:
    look = lookups(employers=[employer(status=status)])
    assert file_codes(run(ZHANG, LI, look=look)) == ["F_EMPLOYER_STATUS"]


def test_f_encoding() -> None:
    data = csv_file(ZHANG, LI).replace("张三".encode(), b"\xff\xfe\x80")
    report = run(data=data)
    assert file_codes(report) == ["F_ENCODING"]
    assert report.rows.height == 0


@pytest.mark.parametrize("data", [b"", csv_file(), b"\n\n", csv_file(ZHANG).replace(b"1001", b"1\x00")])
def test_f_format(data: bytes) -> None:
    assert file_codes(run(data=data)) == ["F_FORMAT"]


def test_f_columns_missing() -> None:
    header = [h if h != "个人月缴存额" else "个人缴存额" for h in CHINESE]
    report = run(data=csv_file(ZHANG, LI, header=header))
    assert [(p.code, p.column) for p in report.file_problems] == [("F_COLUMNS", "employee_amount")]


def test_f_columns_twice() -> None:
    header = [*CHINESE[:-1], "name"]  # 姓名 and name: the same column twice
    report = run(data=csv_file(ZHANG, LI, header=header))
    assert [(p.code, p.column) for p in report.file_problems] == [("F_COLUMNS", "name")]


@pytest.mark.parametrize(
    "marker",
    [
        b"rows=3\n",
        b"total=1760.01\n",
        b"sha256=" + b"0" * 64 + b"\n",
        b"rows=many\n",
        b"just words\n",
        b"total=12.345\n",
        b"\xff\xfe",
    ],
)
def test_f_manifest(marker: bytes) -> None:
    assert file_codes(run(ZHANG, LI, marker=marker)) == ["F_MANIFEST"]


def test_f_manifest_reports_every_mismatch() -> None:
    report = run(ZHANG, LI, marker=b"rows=1\ntotal=1.00\nsha256=" + b"a" * 64)
    assert file_codes(report) == ["F_MANIFEST"] * 3


def test_f_too_large_by_bytes() -> None:
    data = csv_file(ZHANG, LI)
    small = ValidationOptions(OPTIONS.policy, TODAY, len(data) - 1, 2_000_000)
    look = lookups()
    report = run(data=data, options=small, look=look, name="not even a good name")
    assert file_codes(report) == ["F_TOO_LARGE"]
    assert "employer" not in look.calls  # nothing else was looked at
    exact = ValidationOptions(OPTIONS.policy, TODAY, len(data), 2_000_000)
    assert run(data=data, options=exact).ok


def test_f_too_large_by_rows() -> None:
    options = ValidationOptions(OPTIONS.policy, TODAY, 200 << 20, 1)
    assert file_codes(run(ZHANG, LI, options=options)) == ["F_TOO_LARGE"]


def test_f_duplicate_file_short_circuits() -> None:
    look = lookups(earlier=7)
    report = run(data=b"\x00garbage", inbox=OTHER, marker=b"rows=99", look=look)
    assert [p.code for p in report.problems()] == ["F_DUPLICATE_FILE"]
    assert report.duplicate_of == 7
    assert "批次7" in report.file_problems[0].message and "已入账（POSTED）" in report.file_problems[0].message
    assert (report.unit_account, report.month) == ("0101000123", 202611)  # a duplicate still says whose and when
    assert look.calls == []  # the register said duplicate: nothing else is looked up
    assert report.rows.height == 0 and report.row_problems.height == 0


def test_f_duplicate_file_even_when_valid() -> None:
    report = run(ZHANG, LI, look=lookups(earlier=7))
    assert [p.code for p in report.problems()] == ["F_DUPLICATE_FILE"]
    assert report.duplicate_of == 7
    assert not report.ok


def test_f_month_future() -> None:
    rows = [row(contribution_month=""), LI]
    report = run(*rows, name=f"{UNIT}_202612.csv")
    assert file_codes(report) == ["F_MONTH_FUTURE"]


def test_f_month_not_due() -> None:
    rows = [row(contribution_month="202609"), LI]
    assert file_codes(run(*rows, name=f"{UNIT}_202609.csv")) == ["F_MONTH_NOT_DUE"]


def test_f_no_policy() -> None:
    # Due 202606: before the chengdu 2026 contribution year.
    look = lookups(employers=[employer(paid=202605)])
    rows = [row(contribution_month="202606"), LI]
    assert file_codes(run(*rows, name=f"{UNIT}_202606.csv", look=look)) == ["F_NO_POLICY"]


def test_f_no_policy_for_wage_tier() -> None:
    look = lookups(employers=[employer(tier=3)])
    assert file_codes(run(ZHANG, LI, look=look)) == ["F_NO_POLICY"]


def test_f_roster_missing() -> None:
    report = run(ZHANG)
    assert [(p.code, p.member_account) for p in report.file_problems] == [("F_ROSTER_MISSING", "1002")]
    assert report.missing["member_account"].to_list() == ["1002"]
    assert report.row_problems.height == 0


def test_missing_roster_members_one_problem_each() -> None:
    extra: list[MemberRow] = [
        ("1003", UNIT, "王五", "01", ID_PERMIT, 300_000, "normal"),
        ("1006", UNIT, "孙八", "01", ID_PERMIT, 300_000, "normal"),
    ]
    report = run(LI, look=lookups(members=extra))
    missing = [(p.code, p.member_account) for p in report.file_problems]
    assert missing == [("F_ROSTER_MISSING", "1001"), ("F_ROSTER_MISSING", "1003"), ("F_ROSTER_MISSING", "1006")]
    assert report.missing["member_account"].to_list() == ["1001", "1003", "1006"]
    # sealed 1004 and closed 1005 need no row; another employer's member never does
    assert not {"1004", "1005", "2001"} & set(report.missing["member_account"])
