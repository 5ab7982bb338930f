"""Validation: every row-level reason code of SPEC §4, and all of them at once."""

from __future__ import annotations

import polars as pl
import pytest

from tests.support.rows import ID_LI, ID_ZHANG, LI, ZHANG
from tests.support.validation import (
    ID_BAD_CHECK,
    ID_PERMIT,
    OTHER,
    UNIT,
    MemberRow,
    csv_file,
    employer,
    file_codes,
    lookups,
    only_row_code,
    row,
    row_codes,
    run,
)

# ----------------------------------------------------------------- row-level codes


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
