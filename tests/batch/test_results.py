"""`batch.results`: the three files returned to the employer (SPEC §6).

Reports are built by the real validator (`batch.validate.validate`) against
master data in memory: one employer 0101000123 with two active members, due
for 202611 on 2026-11-22 (the same setting as tests/support/validation.py).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date

import openpyxl
import polars as pl
import pytest

from batch import results
from batch.lookups import Employer
from batch.policy import Policy, profile_periods
from batch.results import (
    DETAIL_HEADERS,
    ERROR_HEADERS,
    guard_formula,
    guard_text,
    result_csv,
    result_document,
    result_files,
    result_names,
    result_xlsx,
)
from batch.validate import Earlier, Report, Submission, ValidationOptions, validate
from schemas.columns import BY_NAME, LABEL
from schemas.frames import RESULT_CSV_COLUMNS as CSV_COLUMNS
from schemas.master import MEMBER as MEMBER_SCHEMA
from schemas.statuses import RowStatus
from tests.support.rows import ID_LI, ID_ZHANG, LI, ZHANG

UNIT = "0101000123"
FILE = f"{UNIT}_202611.csv"
OPTIONS = ValidationOptions(Policy(profile_periods("chengdu"), "yuan_up"), date(2026, 11, 22), 200 << 20, 2_000_000)
ID_WANG = "110105194912310038"
ID_OTHER = "440524188001010022"  # valid, but nobody's
ALL_IDS = (ID_ZHANG, ID_LI, ID_WANG, ID_OTHER)
COLUMNS = list(BY_NAME)
BOM = b"\xef\xbb\xbf"
HEADER = list(CSV_COLUMNS)

MemberRow = tuple[str, str, str, str, str, int, str]
MEMBERS: list[MemberRow] = [
    ("1001", UNIT, "张三", "01", ID_ZHANG, 500_000, "normal"),
    ("1002", UNIT, "李四", "01", ID_LI, 233_000, "normal"),
]
WANG: MemberRow = ("1003", UNIT, "王五", "01", ID_WANG, 500_000, "normal")

WANG_ROW = {**ZHANG, "member_account": "1003", "name": "王五", "id_number": ID_WANG}


class Lookups:
    """Master data in memory, answering as `db.store.Store` does; `earlier` stands for the register's duplicate."""

    def __init__(self, members: Iterable[MemberRow] = MEMBERS, earlier: int | None = None) -> None:
        self.frame = pl.DataFrame(list(members), schema=MEMBER_SCHEMA, orient="row")
        self.earlier = earlier

    def employer(self, unit_account: str) -> Employer | None:
        return Employer(UNIT, "单位", "01", 1200, 1200, 1, None, 202610) if unit_account == UNIT else None

    def members(
        self, unit_account: str, accounts: pl.Series | Sequence[str], *, month: int | None = None
    ) -> pl.DataFrame:
        wanted = pl.Series(list(accounts), dtype=pl.String).implode()
        return self.frame.filter((pl.col("unit_account") == unit_account) | pl.col("member_account").is_in(wanted))


def csv_file(*rows: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([LABEL[c] for c in COLUMNS])
    for r in rows:
        writer.writerow([r.get(c, "") for c in COLUMNS])
    return out.getvalue().encode()


def run(*rows: dict[str, str], name: str = FILE, look: Lookups | None = None) -> Report:
    look = look or Lookups()
    return validate(
        Submission(name, csv_file(*rows)),
        OPTIONS,
        look,
        duplicate_of=Earlier(look.earlier, "POSTED") if look.earlier else None,
    )


def csv_lines(data: bytes) -> list[list[str]]:
    """The CSV parsed back: header first."""
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"), newline="")))


def workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def sheet_rows(data: bytes, title: str) -> list[tuple[object, ...]]:
    return list(workbook(data)[title].iter_rows(values_only=True))


def summary(data: bytes) -> dict[object, object]:
    return {r[0]: r[1] for r in sheet_rows(data, "汇总")[1:]}


def xlsx_text(data: bytes) -> str:
    """Every XML part of the workbook, as text."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return "\n".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xml", ".rels")))


def assert_no_whole_id(files: dict[str, bytes]) -> None:
    for name, data in files.items():
        text = xlsx_text(data) if name.endswith(".xlsx") else data.decode("utf-8")
        for number in ALL_IDS:
            assert number not in text.upper(), (name, number)


def assert_no_formula(data: bytes) -> None:
    for sheet in workbook(data):
        for line in sheet.iter_rows():
            for cell in line:
                assert cell.data_type != "f", cell
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), cell.value
    assert "<f>" not in xlsx_text(data)


# ------------------------------------------------------------------- posted


def test_posted_file() -> None:
    report = run(ZHANG, LI)
    assert report.ok
    files = result_files(report, batch_id=41, status="POSTED", xlsx_detail_rows=100)
    assert list(files) == [f"{UNIT}_202611.result.json", f"{UNIT}_202611.result.csv", f"{UNIT}_202611.result.xlsx"]

    doc = json.loads(files[f"{UNIT}_202611.result.json"].decode("utf-8"))
    assert doc == {
        "file": FILE,
        "sha256": report.sha256,
        "unit_account": UNIT,
        "month": "202611",
        "batch_id": 41,
        "status": "POSTED",
        "rows": 2,
        "posted_rows": 2,
        "rejected_rows": 0,
        "total_fen": 176_000,
        "posted_fen": 176_000,
        "errors": [],
    }

    assert csv_lines(files[f"{UNIT}_202611.result.csv"]) == [
        HEADER,
        ["2", "1001", "张三", "110105********002X", "5,000.00", "600.00", "600", "1200", "POSTED", "", ""],
        ["3", "1002", "李四", "440524********0014", "2330", "280", "280", "560", "POSTED", "", ""],
    ]

    xlsx = files[f"{UNIT}_202611.result.xlsx"]
    assert workbook(xlsx).sheetnames == ["汇总", "明细", "错误"]
    detail = sheet_rows(xlsx, "明细")
    assert detail[0] == DETAIL_HEADERS
    # Amounts are numbers that add up (#,##0.00), statuses read in Chinese beside the code.
    assert detail[1] == (2, "1001", "张三", "110105********002X", 5000, 600, 600, 1200, "已入账（POSTED）", None, None)
    assert len(detail) == 3
    amounts = [c for row in workbook(xlsx)["明细"].iter_rows(min_row=2, min_col=5, max_col=8) for c in row]
    assert all(c.number_format == "#,##0.00" and isinstance(c.value, (int, float)) for c in amounts)
    assert sheet_rows(xlsx, "错误") == [ERROR_HEADERS]
    info = summary(xlsx)
    assert info["文件"] == FILE
    assert info["批次号"] == 41
    assert info["汇缴年月"] == "202611"
    assert info["处理结果"] == "已入账（POSTED）"
    assert (info["数据行数"], info["入账行数"], info["错误行数"], info["错误数"]) == (2, 2, 0, 0)
    assert info["月缴存额合计（元）"] == info["入账金额（元）"] == 1760
    assert "说明" not in info
    money = [c for c in workbook(xlsx)["汇总"]["B"] if c.value == 1760]
    assert len(money) == 2 and all(c.number_format == "#,##0.00" for c in money)
    assert_no_whole_id(files)


def test_result_document_keeps_its_old_callers() -> None:
    """`hpf validate --json` passes batch_id and status only: VALID and REJECTED post nothing."""
    report = run(ZHANG, LI)
    valid = result_document(report, batch_id=None, status="VALID")
    assert (valid["posted_rows"], valid["posted_fen"], valid["total_fen"]) == (0, 0, 176_000)
    posted = result_document(report, batch_id=3, status="POSTED")
    assert (posted["posted_rows"], posted["posted_fen"]) == (2, 176_000)
    assert result_document(report, batch_id=3, status="POSTED", posted_rows=1, posted_fen=5)["posted_fen"] == 5


def test_json_is_utf8_and_indented() -> None:
    report = run(ZHANG, {**LI, "base": "abc"})
    data = result_files(report, batch_id=None, status="REJECTED", xlsx_detail_rows=10)[f"{UNIT}_202611.result.json"]
    text = data.decode("utf-8")
    assert "缴存基数" in text and "\\u" not in text
    assert text.startswith('{\n  "file"')
    doc = json.loads(text)
    assert doc["status"] == "REJECTED" and doc["posted_rows"] == 0 and doc["posted_fen"] == 0
    assert doc["errors"][0]["code"] == "F_ROW_ERRORS" and doc["errors"][0]["row_no"] is None


# ----------------------------------------------------------------- rejected


def test_rejected_file_marks_bad_and_good_rows() -> None:
    bad = {**LI, "base": "-5", "id_number": ID_OTHER, "employer_amount": "281"}
    look = Lookups([*MEMBERS, WANG])
    report = run(ZHANG, bad, WANG_ROW, look=look)
    assert not report.ok
    files = result_files(report, batch_id=7, status="REJECTED", xlsx_detail_rows=100)
    lines = csv_lines(files[f"{UNIT}_202611.result.csv"])
    assert lines[0] == HEADER
    assert [(line[0], line[1], line[8]) for line in lines[1:]] == [
        ("2", "1001", "NOT_POSTED"),
        ("3", "1002", "REJECTED"),
        ("4", "1003", "NOT_POSTED"),
    ]
    problems = report.row_problems.filter(pl.col("row_no") == 3)
    assert problems.height >= 2
    rejected = lines[2]
    assert rejected[:8] == ["3", "1002", "李四", "440524********0022", "'-5", "281", "280", "560"]
    assert rejected[9] == ";".join(problems["code"])
    assert rejected[9].split(";")[:2] == ["R_ID_MISMATCH", "R_NUMBER"]
    assert rejected[10] == "；".join(problems["message"])
    for good in (lines[1], lines[3]):
        assert good[9] == ""
        assert good[10].startswith("本行无误") and "其他行有错误" in good[10] and "未入账" in good[10]
    assert {line[8] for line in lines[1:]} <= set(RowStatus)

    doc = json.loads(files[f"{UNIT}_202611.result.json"])
    assert (doc["rows"], doc["posted_rows"], doc["rejected_rows"], doc["posted_fen"]) == (3, 0, 1, 0)

    xlsx = files[f"{UNIT}_202611.result.xlsx"]
    detail = sheet_rows(xlsx, "明细")
    assert [r[8] for r in detail[1:]] == ["未入账（NOT_POSTED）", "有错误（REJECTED）", "未入账（NOT_POSTED）"]
    assert detail[2][9] == rejected[9] and detail[2][4] == "'-5"
    errors = sheet_rows(xlsx, "错误")
    assert errors[0] == ERROR_HEADERS
    assert errors[1][:4] == (None, None, "F_ROW_ERRORS", None)
    assert [(r[0], r[2]) for r in errors[2:]] == list(zip(problems["row_no"], problems["code"], strict=True))
    assert errors[2][1] == "证件号码"  # the column for people, in Chinese
    info = summary(xlsx)
    assert info["处理结果"] == "已退回，未入账（REJECTED）"
    assert (info["数据行数"], info["入账行数"], info["错误行数"]) == (3, 0, 1)
    assert info["错误数"] == 1 + problems.height
    assert_no_whole_id(files)


def test_file_level_error_names_itself_on_good_rows() -> None:
    report = validate(Submission(FILE, csv_file(ZHANG, LI), inbox_unit="0101000999"), OPTIONS, Lookups())
    lines = csv_lines(result_csv(report, status="REJECTED"))
    assert [line[8] for line in lines[1:]] == ["NOT_POSTED", "NOT_POSTED"]
    assert "F_UNIT_MISMATCH" in lines[1][10] and "文件级错误" in lines[1][10]
    assert "其他行" not in lines[1][10]


def test_roster_missing_members_come_after_the_rows() -> None:
    look = Lookups([*MEMBERS, WANG])
    report = run(LI, look=look)
    assert [m for m in report.missing["member_account"]] == ["1001", "1003"]
    files = result_files(report, batch_id=None, status="REJECTED", xlsx_detail_rows=100)
    lines = csv_lines(files[f"{UNIT}_202611.result.csv"])
    assert lines[1][:10] == ["2", "1002", "李四", "440524********0014", "2330", "280", "280", "560", "NOT_POSTED", ""]
    assert "F_ROSTER_MISSING" in lines[1][10]
    assert lines[2:] == [
        [
            "",
            "1001",
            "张三",
            "110105********002X",
            "5000.00",
            "",
            "",
            "",
            "MISSING",
            "F_ROSTER_MISSING",
            next(p.message for p in report.file_problems if p.member_account == "1001"),
        ],
        [
            "",
            "1003",
            "王五",
            "110105********0038",
            "5000.00",
            "",
            "",
            "",
            "MISSING",
            "F_ROSTER_MISSING",
            next(p.message for p in report.file_problems if p.member_account == "1003"),
        ],
    ]
    xlsx = files[f"{UNIT}_202611.result.xlsx"]
    detail = sheet_rows(xlsx, "明细")
    assert [(r[0], r[1], r[8]) for r in detail[1:]] == [
        (2, "1002", "未入账（NOT_POSTED）"),
        (None, "1001", "缺少缴存行（MISSING）"),
        (None, "1003", "缺少缴存行（MISSING）"),
    ]
    errors = sheet_rows(xlsx, "错误")
    assert [(r[2], r[3]) for r in errors[1:]] == [("F_ROSTER_MISSING", "1001"), ("F_ROSTER_MISSING", "1003")]
    assert summary(xlsx)["缺少缴存行的在册职工"] == 2
    assert_no_whole_id(files)


# ---------------------------------------------------------------- duplicate


def test_duplicate_file() -> None:
    report = run(ZHANG, LI, look=Lookups(earlier=12))
    assert report.duplicate_of == 12 and report.rows.height == 0
    files = result_files(report, batch_id=13, status="DUPLICATE", xlsx_detail_rows=100)
    assert files[f"{UNIT}_202611.result.csv"] == BOM + (",".join(HEADER) + "\r\n").encode()
    doc = json.loads(files[f"{UNIT}_202611.result.json"])
    assert doc["status"] == "DUPLICATE"
    assert (doc["unit_account"], doc["month"]) == (UNIT, "202611")
    assert doc["duplicate_of"] == {"batch_id": 12, "status": "POSTED"}
    assert (doc["rows"], doc["posted_rows"], doc["posted_fen"]) == (0, 0, 0)
    assert [e["code"] for e in doc["errors"]] == ["F_DUPLICATE_FILE"]
    xlsx = files[f"{UNIT}_202611.result.xlsx"]
    assert sheet_rows(xlsx, "明细") == [DETAIL_HEADERS]
    assert [r[2] for r in sheet_rows(xlsx, "错误")[1:]] == ["F_DUPLICATE_FILE"]
    info = summary(xlsx)
    assert info["处理结果"] == "重复文件，未处理（DUPLICATE）"
    assert info["此前处理该文件的批次"] == 12 and info["批次号"] == 13


# ---------------------------------------------------------- formula guard


EVIL = ['=HYPERLINK("http://x","y")', "+cmd", "-5", "@SUM(A1)"]


def test_no_cell_starts_a_formula() -> None:
    rows = [
        {**ZHANG, "name": EVIL[0]},
        {**LI, "name": EVIL[1], "employer_amount": "-5"},
        {**WANG_ROW, "name": EVIL[2], "base": "=1+1", "member_account": "@1003"},
        {**ZHANG, "member_account": "1004", "name": EVIL[3], "total_amount": "+1200"},
    ]
    report = run(*rows, look=Lookups([*MEMBERS, WANG]))
    files = result_files(report, batch_id=None, status="REJECTED", xlsx_detail_rows=100)
    lines = csv_lines(files[f"{UNIT}_202611.result.csv"])
    assert [line[2] for line in lines[1:5]] == ["'" + name for name in EVIL]
    assert lines[2][5] == "'-5" and lines[3][4] == "'=1+1" and lines[3][1] == "'@1003" and lines[4][7] == "'+1200"
    for line in lines[1:]:
        for cell in line:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    xlsx = files[f"{UNIT}_202611.result.xlsx"]
    assert_no_formula(xlsx)
    assert [r[2] for r in sheet_rows(xlsx, "明细")[1:5]] == ["'" + name for name in EVIL]
    assert "'@1003" in [r[3] for r in sheet_rows(xlsx, "错误")]


def test_guard_rules() -> None:
    cells = ["=1", "+1", "-1", "@a", "\tx", "\rx", "a=1", "1-2", "'=x", "", "中文"]
    expected = ["'=1", "'+1", "'-1", "'@a", "'\tx", "'\rx", "a=1", "1-2", "'=x", "", "中文"]
    assert [guard_text(c) for c in cells] == expected
    frame = pl.DataFrame({"c": [*cells, None]})
    assert frame.select(guard_formula(pl.col("c")))["c"].to_list() == [*expected, None]


def test_quoting_round_trips() -> None:
    tricky = 'a,"b"\nc'
    report = run({**ZHANG, "name": tricky}, LI)
    lines = csv_lines(result_csv(report, status="REJECTED"))
    assert lines[1][2] == tricky and len(lines) == 3


# --------------------------------------------------------------------- xlsx


def test_detail_is_cut_to_the_configured_rows() -> None:
    report = run(ZHANG, LI, look=Lookups([*MEMBERS, WANG]))  # 2 rows + 1 missing = 3 lines
    xlsx = result_xlsx(report, batch_id=None, status="REJECTED", detail_rows=2)
    detail = sheet_rows(xlsx, "明细")
    assert detail[0] == DETAIL_HEADERS and [r[1] for r in detail[1:]] == ["1001", "1002"]
    note = summary(xlsx)["说明"]
    assert isinstance(note, str)
    assert "前2行" in note and "共3行" in note and f"{UNIT}_202611.result.csv" in note
    whole = result_xlsx(report, batch_id=None, status="REJECTED", detail_rows=3)
    assert len(sheet_rows(whole, "明细")) == 4 and "说明" not in summary(whole)


def test_sheets_have_bold_frozen_headers() -> None:
    book = workbook(result_xlsx(run(ZHANG, LI), batch_id=1, status="POSTED", detail_rows=10))
    for title, headers in (("汇总", ("项目", "内容")), ("明细", DETAIL_HEADERS), ("错误", ERROR_HEADERS)):
        sheet = book[title]
        assert tuple(c.value for c in sheet[1]) == headers
        assert all(c.font.bold for c in sheet[1])
        assert sheet.freeze_panes == "A2"
        assert (sheet.column_dimensions["B"].width or 0) > 10


def test_error_sheet_is_cut_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "MAX_ERROR_LINES", 2)
    report = run({**ZHANG, "base": "x"}, {**LI, "base": "y"})
    assert len(report.problems()) == 3
    errors = sheet_rows(result_xlsx(report, batch_id=None, status="REJECTED", detail_rows=10), "错误")
    assert [r[2] for r in errors[1:3]] == ["F_ROW_ERRORS", "R_NUMBER"]
    assert len(errors) == 4
    assert "共3处错误" in str(errors[3][4]) and "前2处" in str(errors[3][4])


# -------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("source", "stem"),
    [
        (f"{UNIT}_202611.csv", f"{UNIT}_202611"),
        (f"{UNIT}_202611_v2.xlsx", f"{UNIT}_202611_v2"),
        (f"{UNIT}_202611.CSV", f"{UNIT}_202611"),
        ("清册.txt", "清册.txt"),
    ],
)
def test_result_names(source: str, stem: str) -> None:
    assert result_names(source) == (f"{stem}.result.json", f"{stem}.result.csv", f"{stem}.result.xlsx")


def test_result_files_for_an_xlsx_source() -> None:
    report = validate(Submission(f"{UNIT}_202611.xlsx", b"not a zip"), OPTIONS, Lookups())
    files = result_files(report, batch_id=None, status="REJECTED", xlsx_detail_rows=10)
    assert sorted(files) == sorted(result_names(f"{UNIT}_202611.xlsx"))
    assert csv_lines(files[f"{UNIT}_202611.result.csv"])[1:] == []  # unreadable: no rows, no missing list


def test_statuses_are_checked() -> None:
    report = run({**ZHANG, "base": "x"}, LI)
    with pytest.raises(ValueError, match="cannot have been posted"):
        result_files(report, batch_id=1, status="POSTED", xlsx_detail_rows=10)
    with pytest.raises(ValueError, match="status"):
        result_csv(report, status="VALID")


# --------------------------------------------------------------------- size


def test_two_hundred_thousand_rows() -> None:
    n = 200_000
    accounts = [str(500_000 + i) for i in range(n)]
    passports = [f"E{i:010d}" for i in range(n)]
    look = Lookups(
        pl.DataFrame(
            {
                "member_account": accounts,
                "unit_account": UNIT,
                "name": "职工",
                "id_type": "03",
                "id_number": passports,
                "base_fen": 500_000,
                "status": "normal",
            }
        ).rows()
    )
    frame = pl.DataFrame({"member_account": accounts, "id_number": passports}).select(
        *(
            pl.col(c) if c in ("member_account", "id_number") else pl.lit(v).alias(c)
            for c, v in {**ZHANG, "id_type": "03", "name": "职工"}.items()
        )
    )
    frame = frame.with_columns(pl.when(pl.int_range(n) == 7).then(pl.lit("=1")).otherwise("base").alias("base"))
    data = frame.rename(dict(LABEL)).write_csv().encode()
    report = validate(Submission(FILE, data), OPTIONS, look)
    assert report.rejected_rows == 1

    out = result_csv(report, status="REJECTED")
    assert out.startswith(BOM)
    text = out.decode("utf-8")
    assert text.count("\r\n") == n + 1
    lines = text.splitlines()
    assert len(lines) == n + 1
    (bad,) = csv.reader([lines[8]])
    assert (bad[0], bad[4], bad[8], bad[9]) == ("9", "'=1", "REJECTED", "R_NUMBER")
    assert lines[-1].startswith(f"{n + 1},{accounts[-1]},职工,{passports[-1][:6]}*{passports[-1][-4:]},")
    assert text.count(",NOT_POSTED,") == n - 1

    xlsx = result_xlsx(report, batch_id=None, status="REJECTED", detail_rows=1_000)
    assert len(sheet_rows(xlsx, "明细")) == 1_001


@pytest.mark.parametrize(
    "rows",
    [
        [ZHANG, LI],
        [{**ZHANG, "name": '=X("\\n")', "base": "x"}, {**LI, "id_number": ID_OTHER}],
        [LI],  # roster missing: file-level errors with member accounts
    ],
)
def test_json_is_the_document(rows: list[dict[str, str]]) -> None:
    """The fast writer of `X.result.json` says exactly what `result_document` says."""
    report = run(*rows, look=Lookups([*MEMBERS, WANG]))
    status = "POSTED" if report.ok else "REJECTED"
    data = result_files(report, batch_id=5, status=status, xlsx_detail_rows=10)[f"{UNIT}_202611.result.json"]
    assert json.loads(data) == result_document(report, batch_id=5, status=status)
    assert data.endswith(b"}\n")


def test_result_names_of_a_very_long_source_fit_the_file_system_and_stay_apart() -> None:
    long_a, long_b = f"{UNIT}_202611_{'长' * 78}a.csv", f"{UNIT}_202611_{'长' * 78}b.csv"
    names_a, names_b = result_names(long_a), result_names(long_b)
    assert all(len(n.encode()) <= 255 for n in (*names_a, *names_b))
    assert set(names_a).isdisjoint(names_b)
    assert [n.rsplit(".", 2)[1:] for n in names_a] == [["result", "json"], ["result", "csv"], ["result", "xlsx"]]
    assert result_names(f"{UNIT}_202611.csv")[0] == f"{UNIT}_202611.result.json"  # ordinary names untouched


# ------------------------------------------------------------ many at once


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


NOTICE = {
    "reference": "HPF0101000123202611X",
    "amount_fen": 236_000,
    "outstanding_fen": 236_000,
    "pay_by": "2026-12-15",
    "account_name": "住房公积金管理中心",
    "account": "51050188360000000001",
    "bank": "建设银行",
}


def test_many_reports_give_the_files_each_gets_alone() -> None:
    """A cycle's results built together (one query per kind of sheet) are each file's own, byte for byte."""
    look = Lookups([*MEMBERS, WANG])
    decided = [
        results.Decided(run(ZHANG, LI), 1, "POSTED"),
        results.Decided(run({**ZHANG, "base": "x"}, LI, WANG_ROW, look=look), 2, "REJECTED"),
        results.Decided(run(ZHANG, LI, look=Lookups(earlier=1)), 3, "DUPLICATE", own_names=True),
        results.Decided(run(LI, look=look), 4, "REJECTED"),
        results.Decided(run(ZHANG, LI, WANG_ROW, look=look), 5, "AWAITING_FUNDS", payment=NOTICE),
        results.Decided(run(name="junk.txt"), 6, "REJECTED"),
        results.Decided(run(ZHANG, LI), 7, "POSTED"),
    ]
    together = results.result_files_many(decided, xlsx_detail_rows=2)
    for d, files in zip(decided, together, strict=True):
        alone = result_files(
            d.report, batch_id=d.batch_id, status=d.status, xlsx_detail_rows=2, own_names=d.own_names,
            payment=d.payment,
        )  # fmt: skip
        assert files.keys() == alone.keys()
        for name, data in files.items():
            if name.endswith(".xlsx"):
                assert _parts(data) == _parts(alone[name]), (d.batch_id, name)
            else:
                assert data == alone[name], (d.batch_id, name)
    statuses = [[line[8] for line in csv_lines(f[next(n for n in f if n.endswith(".csv"))])[1:]] for f in together]
    assert statuses[1] == ["REJECTED", "NOT_POSTED", "NOT_POSTED"] and statuses[3][-2:] == ["MISSING", "MISSING"]
    assert statuses[4] == ["NOT_POSTED"] * 3 and statuses[2] == [] and statuses[6] == ["POSTED", "POSTED"]


def test_many_restatements_give_what_each_gets_alone() -> None:
    """Results told again together (one read of all the CSVs, one query for their lines) are each batch's own."""
    look = Lookups([*MEMBERS, WANG])
    waiting = results.Decided(run(ZHANG, LI, WANG_ROW, look=look), 5, "AWAITING_FUNDS", payment=NOTICE)
    commas = results.Decided(run({**ZHANG, "name": '张,三 "大"'}, LI), 6, "AWAITING_FUNDS", payment=NOTICE)
    posted = results.Decided(run(ZHANG, LI), 7, "POSTED")
    broken = results.Decided(run({**ZHANG, "name": "张\r\n三"}, LI, look=look), 8, "REJECTED")
    receipt = {"posted_at": "2026-12-02", "members_posted": 3, "members_sealed": 0, "suspense_fen": 12}
    items = [
        results.Restatement(_files(waiting), "POSTED", "", 3, 236_000, {"funded_by": ["S1"], "receipt": receipt}),
        results.Restatement(_files(commas), "EXPIRED", "超过30天未收到足额缴款", 0, 0),
        results.Restatement(_files(posted), "AWAITING_FUNDS", "付款到账被银行冲正", 0, 0, {"payment": NOTICE}),
        results.Restatement(_files(waiting), "SUPERSEDED", "已被批次9的清册取代", 0, 0, {"payment": None}),
    ]
    for group in (items, [*items, results.Restatement(_files(broken), "EXPIRED", "测试", 0, 0)]):
        together = results.restated_many(group, xlsx_detail_rows=2)
        for item, files in zip(group, together, strict=True):
            alone = results.restated(
                item.files, status=item.status, reason=item.reason, posted_rows=item.posted_rows,
                posted_fen=item.posted_fen, xlsx_detail_rows=2, extra=item.extra,
            )  # fmt: skip
            assert files.keys() == alone.keys() == item.files.keys()
            for name, data in files.items():
                if name.endswith(".xlsx"):
                    assert _parts(data) == _parts(alone[name]), (item.status, name)
                else:
                    assert data == alone[name], (item.status, name)
    posted_now, expired, waiting_again, superseded = (
        [line[8] for line in csv_lines(f[next(n for n in f if n.endswith(".csv"))])[1:]] for f in together[:4]
    )
    assert posted_now == ["POSTED"] * 3 and waiting_again == superseded[:2] == ["NOT_POSTED"] * 2
    assert expired == ["REJECTED", "NOT_POSTED"]  # a row with its own error keeps it
    assert csv_lines(together[1][next(n for n in together[1] if n.endswith(".csv"))])[1][2] == '张,三 "大"'
    doc = json.loads(together[0][next(n for n in together[0] if n.endswith(".json"))])
    assert doc["status"] == "POSTED" and doc["receipt"] == receipt and doc["payment"] == NOTICE
    assert "payment" not in json.loads(together[3][next(n for n in together[3] if n.endswith(".json"))])


def _files(decided: results.Decided) -> dict[str, bytes]:
    return result_files(
        decided.report, batch_id=decided.batch_id, status=decided.status, xlsx_detail_rows=2, payment=decided.payment
    )
