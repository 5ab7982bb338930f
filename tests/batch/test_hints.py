"""Common mistakes get one hint that says what to do, instead of a screen of codes (what payroll staff read)."""

from __future__ import annotations

import io

import xlsxwriter

from batch.filename import parse_file_name
from batch.read import read_table
from schemas.codes import Problem
from schemas.columns import LABEL
from tests.support.rows import LI, ZHANG
from tests.support.validation import CHINESE, COLUMNS, FILE, csv_file, row, run


def _problems(data: bytes, name: str = FILE) -> list[Problem]:
    found = read_table(data, name, max_rows=100)
    assert isinstance(found, list), found
    return found


def test_a_title_row_above_the_header() -> None:
    data = "2026年11月住房公积金汇缴清册\n".encode() + csv_file(ZHANG, LI)
    (problem,) = _problems(data)
    assert problem.code == "F_COLUMNS" and "第2行才是表头" in problem.message


def test_semicolons_or_tabs_instead_of_commas() -> None:
    for separator, words in ((";", "分号"), ("\t", "制表符")):
        text = csv_file(ZHANG, LI).decode("utf-8").replace(",", separator)
        (problem,) = _problems(text.encode("utf-8"))
        assert problem.code == "F_COLUMNS" and words in problem.message and "逗号" in problem.message


def _workbook(*sheets: tuple[str, list[list[object]]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    for name, rows in sheets:
        sheet = book.add_worksheet(name)
        for r, values in enumerate(rows):
            sheet.write_row(r, 0, values)
    book.close()
    return out.getvalue()


def test_an_instructions_sheet_first() -> None:
    rows = [[ZHANG.get(c, "") for c in ZHANG]]
    data = _workbook(("填表说明", [["请按下表填写"], ["个人账号为12位数字"]]), ("清册", [CHINESE, *rows]))
    (problem,) = _problems(data, FILE.replace(".csv", ".xlsx"))
    assert problem.code == "F_COLUMNS" and "“填表说明”" in problem.message and "“清册”" in problem.message


def test_an_old_xls_file() -> None:
    (problem,) = _problems(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, FILE)
    assert problem.code == "F_FORMAT" and ".xls" in problem.message and "另存为" in problem.message
    named = parse_file_name("0101000123_202611.xls")
    assert isinstance(named, Problem) and "另存为" in named.message


def test_a_month_cell_formatted_as_a_date() -> None:
    report = run(row(ZHANG, contribution_month="2026-11-01 00:00:00"), LI)
    (message,) = report.row_problems.filter(report.row_problems["code"] == "R_MONTH")["message"]
    assert "日期格式" in message


def test_a_passport_without_the_id_type_column() -> None:
    columns = [c for c in COLUMNS if c != "id_type"]
    passport = {**LI, "id_number": "E12345678"}
    lines = [",".join(LABEL[c] for c in columns)]
    lines += [",".join(f'"{r[c]}"' for c in columns) for r in (ZHANG, passport)]
    report = run(data=("\n".join(lines) + "\n").encode("utf-8"))
    (message,) = report.row_problems.filter(report.row_problems["code"] == "R_ID_INVALID")["message"]
    assert "证件类型" in message and "03" in message


def test_question_marks_from_a_legacy_encoding() -> None:
    report = run(row(ZHANG, name="张?"), LI)
    (message,) = report.row_problems.filter(report.row_problems["code"] == "R_NAME_MISMATCH")["message"]
    assert "生僻字" in message and "UTF-8" in message


def test_a_mistyped_account_one_digit_from_a_roster_member() -> None:
    report = run(row(ZHANG, member_account="1007"), LI)  # 张三 is 1001
    (message,) = report.row_problems.filter(report.row_problems["code"] == "R_ACCOUNT_UNKNOWN")["message"]
    assert message.endswith("是否为 1001（张三）？")
    far = run(row(ZHANG, member_account="9999", name="无此人", id_number="E1"), LI)
    (message,) = far.row_problems.filter(far.row_problems["code"] == "R_ACCOUNT_UNKNOWN")["message"]
    assert "是否为" not in message
