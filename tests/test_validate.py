"""`batch.validate.validate`: every reason code of SPEC §4, all errors at once, never a crash.

Master data is an in-memory stand-in for the database (`Lookups`): one
employer 0101000123 with two active members, due for 202611 on 2026-11-22.
Each test changes one thing and checks the codes, rows and columns reported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.checks import schema_problems
from batch.codes import FILE_CODES, ROW_CODES
from batch.masterdata import MEMBER_SCHEMA, Employer
from batch.parse import parse_rows
from batch.policy import Policy, profile_periods
from batch.validate import Report, Rules, Submission, validate
from schemas.columns import BY_NAME, LABEL
from schemas.remittance import RemittanceRow

UNIT = "0101000123"
OTHER = "0101000999"
FILE = f"{UNIT}_202611.csv"
TODAY = date(2026, 11, 22)
RULES = Rules(Policy(profile_periods("chengdu"), "yuan_up"), TODAY, 200 << 20, 2_000_000)

ID_ZHANG = "11010519491231002X"
ID_LI = "440524188001010014"
ID_PERMIT = "810000199408230021"
ID_BAD_CHECK = "110105194912310021"

COLUMNS = list(BY_NAME)
CHINESE = [LABEL[c] for c in COLUMNS]


def employer(
    unit: str = UNIT,
    *,
    status: str = "01",
    rate: int = 1200,
    tier: int = 1,
    rounding: str | None = None,
    paid: int | None = 202610,
) -> Employer:
    return Employer(unit, f"单位{unit}", status, rate, rate, tier, rounding, paid)


MemberRow = tuple[str, str, str, str, str, int, str]

MEMBERS: list[MemberRow] = [
    ("1001", UNIT, "张三", "01", ID_ZHANG, 500_000, "normal"),
    ("1002", UNIT, "李四", "01", ID_LI, 233_000, "normal"),
    ("1004", UNIT, "封存", "01", ID_PERMIT, 300_000, "sealed"),
    ("1005", UNIT, "销户", "01", ID_PERMIT, 300_000, "closed"),
    ("2001", OTHER, "赵六", "01", ID_ZHANG, 300_000, "normal"),
]


class Lookups:
    """Master data in memory, answering as `batch.store.Store` does."""

    def __init__(
        self, employers: Iterable[Employer] = (), members: Iterable[MemberRow] = (), earlier: int | None = None
    ) -> None:
        self.employers = {e.unit_account: e for e in employers}
        self.frame = pl.DataFrame(list(members), schema=MEMBER_SCHEMA, orient="row")
        self.earlier = earlier
        self.calls: list[str] = []

    def employer(self, unit_account: str) -> Employer | None:
        self.calls.append("employer")
        return self.employers.get(unit_account)

    def members(self, unit_account: str, accounts: pl.Series | Sequence[str]) -> pl.DataFrame:
        self.calls.append("members")
        wanted = pl.Series(list(accounts), dtype=pl.String).implode()
        return self.frame.filter((pl.col("unit_account") == unit_account) | pl.col("member_account").is_in(wanted))

    def earlier_batch(self, sha256: str) -> int | None:
        self.calls.append("earlier_batch")
        return self.earlier


def lookups(
    *, employers: Iterable[Employer] = (), members: Iterable[MemberRow] = (), earlier: int | None = None
) -> Lookups:
    base_employers = [employer(), employer(OTHER, rate=500, tier=2, paid=None)]
    return Lookups([*base_employers, *employers], [*MEMBERS, *members], earlier)


ZHANG = {
    "member_account": "1001",
    "name": "张三",
    "id_type": "01",
    "id_number": ID_ZHANG,
    "base": "5,000.00",
    "employer_rate": "12%",
    "employee_rate": "12",
    "employer_amount": "600.00",
    "employee_amount": "600",
    "total_amount": "1200",
    "contribution_month": "202611",
}
# 2330 × 12% = 279.60 -> 见角进元 -> 280
LI = {
    "member_account": "1002",
    "name": "李四",
    "id_type": "01",
    "id_number": ID_LI,
    "base": "2330",
    "employer_rate": "0.12",
    "employee_rate": "12%",
    "employer_amount": "280",
    "employee_amount": "280",
    "total_amount": "560",
    "contribution_month": "",
}


def row(template: dict[str, str] | None = None, /, **changes: str) -> dict[str, str]:
    return {**(template or ZHANG), **changes}


def csv_file(*rows: dict[str, str], header: Sequence[str] = CHINESE, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(c, "") for c in COLUMNS])
    return out.getvalue().encode(encoding)


def run(
    *rows: dict[str, str],
    name: str = FILE,
    look: Lookups | None = None,
    rules: Rules = RULES,
    inbox: str | None = None,
    marker: bytes | None = None,
    data: bytes | None = None,
    strict_ids: bool = True,
) -> Report:
    body = csv_file(*rows) if data is None else data
    look = look or lookups()
    report = validate(Submission(name, body, inbox_unit=inbox, marker=marker), rules, look)
    check_messages(report)
    check_masked(report, look, strict_ids)
    return report


def file_codes(report: Report) -> list[str]:
    return sorted(p.code for p in report.file_problems)


def row_codes(report: Report) -> list[tuple[int, str, str]]:
    return [(r["row_no"], r["code"], r["column"]) for r in report.row_problems.iter_rows(named=True)]


_HAN = re.compile(r"[\u4e00-\u9fff]")


def check_messages(report: Report) -> None:
    """Every message is Chinese and shows no whole ID number; codes are known; ok iff nothing found."""
    problems = report.problems()
    for p in problems:
        assert p.code in FILE_CODES or p.code in ROW_CODES
        assert p.message and _HAN.search(p.message), p
        if p.code in ROW_CODES:
            assert p.row_no is not None and p.column in BY_NAME
        else:
            assert p.row_no is None
    assert report.ok is (not problems)
    has_rows = report.row_problems.height > 0
    assert ("F_ROW_ERRORS" in {p.code for p in report.file_problems}) is has_rows


def check_masked(report: Report, look: Lookups, strict: bool) -> None:
    """No message shows a whole ID number (SPEC §6 shows the first 6 and last 4 characters).

    Strict: no message anywhere holds any ID number of the file or the register. Otherwise
    (random cells, where an ID-like text may legitimately be echoed as an account or amount):
    the messages about a row's ID do not hold that row's number.
    """
    ids = {n.upper() for n in report.rows["id_number"].drop_nulls() if len(n) > 10}
    ids |= {n.upper() for n in look.frame["id_number"] if len(n) > 10}
    if strict:
        for p in report.problems():
            assert not any(n in p.message.upper() for n in ids), p.message
        return
    about_ids = report.row_problems.filter(pl.col("column").is_in(["id_type", "id_number"]))
    numbers = dict(zip(report.rows["row_no"], report.rows["id_number"], strict=True))
    for row_no, message in about_ids.select("row_no", "message").iter_rows():
        number = numbers.get(row_no)
        if number is not None and len(number) > 10:
            assert number.upper() not in message.upper(), message


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
    small = Rules(RULES.policy, TODAY, len(data) - 1, 2_000_000)
    look = lookups()
    report = run(data=data, rules=small, look=look, name="not even a good name")
    assert file_codes(report) == ["F_TOO_LARGE"]
    assert "employer" not in look.calls  # nothing else was looked at
    exact = Rules(RULES.policy, TODAY, len(data), 2_000_000)
    assert run(data=data, rules=exact).ok


def test_f_too_large_by_rows() -> None:
    rules = Rules(RULES.policy, TODAY, 200 << 20, 1)
    assert file_codes(run(ZHANG, LI, rules=rules)) == ["F_TOO_LARGE"]


def test_f_duplicate_file_short_circuits() -> None:
    look = lookups(earlier=7)
    report = run(data=b"\x00garbage", name="bad name.exe", inbox=OTHER, marker=b"rows=99", look=look)
    assert [p.code for p in report.problems()] == ["F_DUPLICATE_FILE"]
    assert report.duplicate_of == 7
    assert "7" in report.file_problems[0].message
    assert look.calls == ["earlier_batch"]  # checked first, nothing else looked up
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


# ----------------------------------------------------------------- row-level codes


def only_row_code(report: Report) -> list[tuple[int, str, str]]:
    assert file_codes(report) == ["F_ROW_ERRORS"]
    assert not report.ok
    return row_codes(report)


@pytest.mark.parametrize("column", ["name", "id_number", "base", "employer_rate", "total_amount"])
def test_r_required(column: str) -> None:
    report = run(row(**{column: ""}), LI)
    assert only_row_code(report) == [(2, "R_REQUIRED", column)]


def test_r_required_blank_cell() -> None:
    assert only_row_code(run(ZHANG, row(LI, name="   "))) == [(3, "R_REQUIRED", "name")]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("base", "5000.005"),
        ("base", "-5000"),
        ("base", "五千"),
        ("base", "5000元"),
        ("employer_rate", "12.5.1"),
        ("employee_rate", "-12%"),
        ("employer_amount", "1e3"),
        ("total_amount", "１２００"),
    ],
)
def test_r_number(column: str, value: str) -> None:
    report = run(row(**{column: value}), LI)
    assert only_row_code(report) == [(2, "R_NUMBER", column)]


def test_r_account_format() -> None:
    report = run(ZHANG, LI, row(member_account="10O1"))
    assert only_row_code(report) == [(4, "R_ACCOUNT_FORMAT", "member_account")]
    assert report.row_problems["member_account"].to_list() == ["10O1"]


@pytest.mark.parametrize("account", ["１００３", "1" * 21, "-1", "1001 1"])
def test_r_account_format_variants(account: str) -> None:
    assert only_row_code(run(ZHANG, LI, row(member_account=account))) == [(4, "R_ACCOUNT_FORMAT", "member_account")]


def test_r_account_unknown() -> None:
    report = run(ZHANG, LI, row(member_account="9999"))
    assert only_row_code(report) == [(4, "R_ACCOUNT_UNKNOWN", "member_account")]


def test_r_account_other_employer() -> None:
    report = run(
        ZHANG,
        LI,
        row(
            member_account="2001",
            name="赵六",
            base="3000",
            employer_amount="360",
            employee_amount="360",
            total_amount="720",
        ),
    )
    assert only_row_code(report) == [(4, "R_ACCOUNT_OTHER_EMPLOYER", "member_account")]


def test_r_account_sealed() -> None:
    sealed = row(
        member_account="1004",
        name="封存",
        id_number=ID_PERMIT,
        base="3000",
        employer_amount="360",
        employee_amount="360",
        total_amount="720",
    )
    assert only_row_code(run(ZHANG, LI, sealed)) == [(4, "R_ACCOUNT_SEALED", "member_account")]


def test_r_account_closed() -> None:
    closed = row(
        member_account="1005",
        name="销户",
        id_number=ID_PERMIT,
        base="3000",
        employer_amount="360",
        employee_amount="360",
        total_amount="720",
    )
    assert only_row_code(run(ZHANG, LI, closed)) == [(4, "R_ACCOUNT_CLOSED", "member_account")]


def test_r_name_mismatch() -> None:
    assert only_row_code(run(row(name="张山"), LI)) == [(2, "R_NAME_MISMATCH", "name")]
    assert run(row(name="  张三 "), LI).ok  # surrounding blanks are ignored


def test_r_id_type() -> None:
    # Master data migrated from a system that wrote 05 for 其他: the row agrees with it, but 05 is not a code.
    legacy: MemberRow = ("1003", UNIT, "王五", "05", "A1234567", 300_000, "normal")
    wang = row(
        member_account="1003",
        name="王五",
        id_type="05",
        id_number="A1234567",
        base="3000",
        employer_amount="360",
        employee_amount="360",
        total_amount="720",
    )
    report = run(ZHANG, LI, wang, look=lookups(members=[legacy]))
    assert only_row_code(report) == [(4, "R_ID_TYPE", "id_type")]


def test_an_id_number_in_the_id_type_column_is_masked_in_its_message() -> None:
    # Found by the hypothesis test: columns swapped by a clerk echoed the whole ID number back.
    report = run(row(ZHANG, id_type=ID_ZHANG), LI)
    (message,) = report.row_problems.filter(pl.col("code") == "R_ID_TYPE")["message"]
    assert ID_ZHANG not in message and ID_ZHANG[:6] in message and ID_ZHANG[-4:] in message


def test_other_id_types_are_not_checked_as_resident_ids() -> None:
    passport: MemberRow = ("1003", UNIT, "王五", "03", "E12345678", 300_000, "normal")
    wang = row(
        member_account="1003",
        name="王五",
        id_type="3",
        id_number="E12345678",
        base="3000",
        employer_amount="360",
        employee_amount="360",
        total_amount="720",
    )
    assert run(ZHANG, LI, wang, look=lookups(members=[passport])).ok


@pytest.mark.parametrize("number", [ID_BAD_CHECK, "110105194902300021", "1101051949123100", "11010519491231002Y"])
def test_r_id_invalid(number: str) -> None:
    # Legacy master data holds the same malformed number, so only the form is wrong.
    legacy: MemberRow = ("1003", UNIT, "王五", "01", number, 300_000, "normal")
    wang = row(
        member_account="1003",
        name="王五",
        id_number=number,
        base="3000",
        employer_amount="360",
        employee_amount="360",
        total_amount="720",
    )
    report = run(ZHANG, LI, wang, look=lookups(members=[legacy]))
    assert only_row_code(report) == [(4, "R_ID_INVALID", "id_number")]


def test_r_id_mismatch() -> None:
    report = run(row(id_number=ID_LI), LI)
    assert only_row_code(report) == [(2, "R_ID_MISMATCH", "id_number")]
    message = report.row_problems["message"].item()
    assert "440524" in message and "0014" in message  # masked, first 6 and last 4 shown


def test_r_base_range() -> None:
    # Registered below the floor (2330 for tier 1): the row agrees with the register but not the policy.
    low: MemberRow = ("1003", UNIT, "王五", "01", ID_PERMIT, 200_000, "normal")
    wang = row(
        member_account="1003",
        name="王五",
        id_number=ID_PERMIT,
        base="2000",
        employer_amount="240",
        employee_amount="240",
        total_amount="480",
    )
    report = run(ZHANG, LI, wang, look=lookups(members=[low]))
    assert only_row_code(report) == [(4, "R_BASE_RANGE", "base")]


def test_r_base_range_above_cap() -> None:
    high: MemberRow = ("1003", UNIT, "王五", "01", ID_PERMIT, 3_297_000, "normal")
    # 32970 × 12% = 3956.40 -> 3957
    wang = row(
        member_account="1003",
        name="王五",
        id_number=ID_PERMIT,
        base="32970",
        employer_amount="3957",
        employee_amount="3957",
        total_amount="7914",
    )
    report = run(ZHANG, LI, wang, look=lookups(members=[high]))
    assert only_row_code(report) == [(4, "R_BASE_RANGE", "base")]


def test_base_bounds_are_inclusive_and_by_tier() -> None:
    at_cap: MemberRow = ("1003", UNIT, "王五", "01", ID_PERMIT, 3_296_900, "normal")
    wang = row(
        member_account="1003",
        name="王五",
        id_number=ID_PERMIT,
        base="32969",
        employer_amount="3957",
        employee_amount="3957",
        total_amount="7914",
    )
    assert run(ZHANG, LI, wang, look=lookups(members=[at_cap])).ok
    # 2200 is under the tier-1 floor but is the tier-2 floor: 2200 × 12% = 264
    tier2 = lookups(employers=[employer(tier=2)], members=[("1003", UNIT, "王五", "01", ID_PERMIT, 220_000, "normal")])
    wang2 = row(
        member_account="1003",
        name="王五",
        id_number=ID_PERMIT,
        base="2200",
        employer_amount="264",
        employee_amount="264",
        total_amount="528",
    )
    assert run(ZHANG, LI, wang2, look=tier2).ok


def test_r_base_mismatch() -> None:
    report = run(row(base="6000", employer_amount="720", employee_amount="720", total_amount="1440"), LI)
    assert only_row_code(report) == [(2, "R_BASE_MISMATCH", "base")]


def test_r_rate_range() -> None:
    # An employer registered at 12.5% when the policy wants whole percents.
    look = lookups(employers=[employer(rate=1250)])
    # 5000 × 12.5% = 625; 2330 × 12.5% = 291.25 -> 见角进元 292
    rows = [
        row(
            employer_rate="12.5%",
            employee_rate="0.125",
            employer_amount="625",
            employee_amount="625",
            total_amount="1250",
        ),
        row(
            LI,
            employer_rate="12.5",
            employee_rate="12.5%",
            employer_amount="292",
            employee_amount="292",
            total_amount="584",
        ),
    ]
    report = run(*rows, look=look)
    assert only_row_code(report) == [
        (2, "R_RATE_RANGE", "employer_rate"),
        (2, "R_RATE_RANGE", "employee_rate"),
        (3, "R_RATE_RANGE", "employer_rate"),
        (3, "R_RATE_RANGE", "employee_rate"),
    ]


def test_r_rate_range_above_max() -> None:
    look = lookups(employers=[employer(rate=1300)])
    rows = [
        row(
            employer_rate="13%", employee_rate="13%", employer_amount="650", employee_amount="650", total_amount="1300"
        ),
        row(
            LI,
            employer_rate="13%",
            employee_rate="13%",
            employer_amount="303",
            employee_amount="303",
            total_amount="606",
        ),
    ]
    codes = {c for _, c, _ in only_row_code(run(*rows, look=look))}
    assert codes == {"R_RATE_RANGE"}


def test_r_rate_mismatch() -> None:
    # 11% is inside 5%-12% but not the employer's 12%. 5000 × 11% = 550.
    report = run(row(employee_rate="11%", employee_amount="550", total_amount="1150"), LI)
    assert only_row_code(report) == [(2, "R_RATE_MISMATCH", "employee_rate")]


@pytest.mark.parametrize(
    ("column", "value", "total"),
    [
        ("employer_amount", "601", "1201"),
        ("employee_amount", "599.99", "1199.99"),
        ("employer_amount", "600.28", "1200.28"),
    ],
)
def test_r_amount(column: str, value: str, total: str) -> None:
    report = run(row(**{column: value, "total_amount": total}), LI)
    assert only_row_code(report) == [(2, "R_AMOUNT", column)]


def test_r_amount_uses_the_rounding_method() -> None:
    # 李四: 2330 × 12% = 279.60. yuan_up (centre default) wants 280; fen_half_up wants 279.60.
    fen = row(LI, employer_amount="279.60", employee_amount="279.60", total_amount="559.20")
    report = run(ZHANG, fen)
    assert only_row_code(report) == [(3, "R_AMOUNT", "employer_amount"), (3, "R_AMOUNT", "employee_amount")]
    assert run(ZHANG, fen, look=lookups(employers=[employer(rounding="fen_half_up")])).ok
    # yuan_half_up would give 280 as well; yuan_down 279.
    assert run(ZHANG, LI, look=lookups(employers=[employer(rounding="yuan_half_up")])).ok
    assert not run(ZHANG, LI, look=lookups(employers=[employer(rounding="yuan_down")])).ok


def test_r_total() -> None:
    report = run(row(total_amount="1201"), LI)
    assert only_row_code(report) == [(2, "R_TOTAL", "total_amount")]


def test_r_duplicate() -> None:
    report = run(ZHANG, LI, ZHANG)
    assert only_row_code(report) == [(2, "R_DUPLICATE", "member_account"), (4, "R_DUPLICATE", "member_account")]
    assert report.rejected_rows == 2


@pytest.mark.parametrize("month", ["202610", "202612", "2026-11", "11/2026", "202613", "x"])
def test_r_month(month: str) -> None:
    report = run(row(contribution_month=month), LI)
    assert only_row_code(report) == [(2, "R_MONTH", "contribution_month")]


# ----------------------------------------------------------------- all at once


def test_five_row_defects_all_reported() -> None:
    rows = [
        row(name="张山"),  # R_NAME_MISMATCH
        row(LI, total_amount="561"),  # R_TOTAL
        row(member_account="9999"),  # R_ACCOUNT_UNKNOWN
        row(LI, member_account="1003x"),  # R_ACCOUNT_FORMAT
        row(
            LI,
            member_account="2001",
            name="赵六",
            base="3000",
            employer_amount="360",
            employee_amount="360",
            total_amount="720",
            contribution_month="202610",
        ),  # R_ACCOUNT_OTHER_EMPLOYER, R_MONTH
    ]
    report = run(*rows)
    assert file_codes(report) == ["F_ROW_ERRORS"]
    assert row_codes(report) == [
        (2, "R_NAME_MISMATCH", "name"),
        (3, "R_TOTAL", "total_amount"),
        (4, "R_ACCOUNT_UNKNOWN", "member_account"),
        (5, "R_ACCOUNT_FORMAT", "member_account"),
        (6, "R_ACCOUNT_OTHER_EMPLOYER", "member_account"),
        (6, "R_MONTH", "contribution_month"),
    ]
    assert report.rejected_rows == 5
    assert report.row_problems["member_account"].to_list() == ["1001", "1002", "9999", "1003x", "2001", "2001"]


def test_file_and_row_problems_together() -> None:
    marker = b"rows=5\n"
    report = run(row(total_amount="1"), inbox=OTHER, marker=marker)
    assert file_codes(report) == ["F_MANIFEST", "F_ROSTER_MISSING", "F_ROW_ERRORS", "F_UNIT_MISMATCH"]
    assert row_codes(report) == [(2, "R_TOTAL", "total_amount")]
    # file problems first, then rows, in the result order
    assert [p.code for p in report.problems()][-1] == "R_TOTAL"


def test_many_defects_in_one_row() -> None:
    bad = row(name="", id_number=ID_LI, base="6000", employee_rate="13%", total_amount="0", contribution_month="202612")
    report = run(bad, LI)
    codes = [c for _, c, _ in only_row_code(report)]
    for code in (
        "R_REQUIRED",
        "R_ID_MISMATCH",
        "R_BASE_MISMATCH",
        "R_RATE_RANGE",
        "R_RATE_MISMATCH",
        "R_AMOUNT",
        "R_TOTAL",
        "R_MONTH",
    ):
        assert code in codes, code
    assert report.rejected_rows == 1


def test_row_numbers_follow_the_spreadsheet() -> None:
    data = csv_file(ZHANG, LI).replace(b"\n1002", b"\n\n\n1002")  # two blank lines before 李四
    report = run(data=data.replace("李四".encode(), "李斯".encode()))
    assert only_row_code(report) == [(5, "R_NAME_MISMATCH", "name")]


# ----------------------------------------------------------------- pandera model


def _parsed(*rows: dict[str, str]) -> pl.DataFrame:
    frame = pl.DataFrame(
        [{"row_no": i + 2, **r} for i, r in enumerate(rows)],
        schema={"row_no": pl.Int64, **dict.fromkeys(COLUMNS, pl.String)},
    )
    return parse_rows(frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in COLUMNS))


def test_pandera_model_checks_values_with_default_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("PANDERA_")]:
        monkeypatch.delenv(var)
    rows = _parsed(row(member_account="10O1"), LI)
    problems = schema_problems(rows)
    assert problems.select("row_no", "code", "column").rows() == [(2, "R_ACCOUNT_FORMAT", "member_account")]
    from pandera.errors import SchemaErrors

    with pytest.raises(SchemaErrors):
        RemittanceRow.validate(rows, lazy=True)
    RemittanceRow.validate(_parsed(ZHANG, LI), lazy=True)  # a good frame passes


def test_pandera_model_checks_values_in_a_clean_interpreter() -> None:
    # No conftest, no PANDERA_* variables: the data checks must still run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANDERA_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    script = (
        "import polars as pl\n"
        "from batch.parse import parse_rows\n"
        "from batch.checks import schema_problems\n"
        "cols = ['member_account','name','id_type','id_number','base','employer_rate','employee_rate',"
        "'employer_amount','employee_amount','total_amount','contribution_month']\n"
        "vals = ['10O1','张三','01','11010519491231002X','5000','12%','12%','600','600','1200','202611']\n"
        "f = pl.DataFrame({'row_no': [2], **{c: [v] for c, v in zip(cols, vals)}})\n"
        "print(sorted(schema_problems(parse_rows(f))['code'].to_list()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "['R_ACCOUNT_FORMAT']"


# ----------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from([FILE, f"{UNIT}_202611.xlsx", "x.bin", f"{UNIT}_202612.csv"]))
def test_arbitrary_bytes_never_raise(data: bytes, name: str) -> None:
    report = run(data=data, name=name, strict_ids=False)
    assert report.file_problems
    assert not report.ok
    assert report.row_problems.height == 0


_CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "1001",
            "1002",
            "9999",
            "2001",
            "张三",
            "李四",
            "01",
            "1",
            "99",
            "07",
            ID_ZHANG,
            ID_ZHANG.lower(),
            ID_LI,
            ID_BAD_CHECK,
            "2330",
            "5,000.00",
            "5000",
            "-1",
            "1e3",
            "12%",
            "12",
            "0.12",
            "13%",
            "12.5%",
            "280",
            "600",
            "560",
            "1200",
            "202611",
            "202612",
            "2026-11",
            "１２",
            "0",
            "0.005",
            "99999999999999",
            "999,999,999,999.99",
        ]
    ),
    st.text(alphabet='0123456789.,-%Xx 张"\n', max_size=10),
    st.text(max_size=6),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_CELLS, min_size=11, max_size=11), min_size=1, max_size=8))
def test_arbitrary_rows_never_raise_and_report_consistently(cells: list[list[str]]) -> None:
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in cells]
    report = run(*rows, strict_ids=False)  # known codes, Chinese, masked, ok iff no problem
    if report.rows.height:
        data_rows = set(report.rows["row_no"].to_list())
        flagged = set(report.row_problems["row_no"].to_list())
        assert flagged <= data_rows
        assert report.row_problems["code"].is_in(list(ROW_CODES)).all()
        assert report.row_problems["column"].is_in(COLUMNS).all()
        assert report.rejected_rows == len(flagged)
    else:
        assert report.file_problems  # unreadable: said so at file level


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet='0123456789,."\n\r \t%-X张\ufeff\x00', max_size=120),
    st.sampled_from(["utf-8", "gb18030", "utf-8-sig"]),
)
def test_arbitrary_text_under_the_header_never_raises(text: str, encoding: str) -> None:
    data = (",".join(CHINESE) + "\n" + text).encode(encoding)
    report = run(data=data, strict_ids=False)
    if report.rows.height == 0:
        assert report.file_problems


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(COLUMNS), st.booleans())
def test_column_order_never_matters(order: list[str], english: bool) -> None:
    header = list(order) if english else [LABEL[c] for c in order]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in (ZHANG, row(LI, name="李斯")):
        writer.writerow([r[c] for c in order])
    report = run(data=out.getvalue().encode())
    assert row_codes(report) == [(3, "R_NAME_MISMATCH", "name")]
