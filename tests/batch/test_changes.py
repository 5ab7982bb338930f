"""The change list read and checked without a roster (SPEC §3.2): every context-free problem, all at once."""

from __future__ import annotations

import csv
import io

import polars as pl
import xlsxwriter

from batch.changes import ChangeList, parse_change_list_name, read_change_list
from batch.filename import FileName
from schemas.codes import Problem
from tests.support.rows import ID_LI, ID_ZHANG

NAME = "BG_0101000123_202612.csv"
HEADER = ["变更类型", "个人账号", "姓名", "证件类型", "证件号码", "缴存基数", "原因", "生效年月"]


def _csv(*rows: list[str], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([header, *rows])
    return out.getvalue().encode("utf-8")


def _read(data: bytes, name: str = NAME) -> ChangeList:
    result = read_change_list(data, name, month=202612, max_rows=1000)
    assert isinstance(result, ChangeList), result
    return result


def _codes(changes: ChangeList) -> list[tuple[int, str, str]]:
    return [(r["row_no"], r["code"], r["column"]) for r in changes.problems.iter_rows(named=True)]


VALID = [
    ["开户", "", "王小明", "01", ID_ZHANG, "6000", "", ""],
    ["封存", "1001", "张三", "", "", "", "1", "202612"],
    ["启封", "1004", "封存", "01", "", "3000.00", "2", ""],
    ["基数调整", "1002", "李四", "", ID_LI, "2,400.00", "", "202612"],
    ["open", "", "Smith John", "03", "E12345678", "5000", "", ""],
]


def test_a_valid_change_list_has_no_problems_and_typed_rows() -> None:
    changes = _read(_csv(*VALID))
    assert changes.problems.height == 0, changes.problems
    rows = changes.rows
    assert rows["change"].to_list() == ["open", "seal", "unseal", "base", "open"]
    assert rows["base_fen"].to_list() == [600000, None, 300000, 240000, 500000]
    assert rows["effective_month"].to_list() == ["202612"] * 5  # an empty cell takes the file name's month
    assert rows["id_type"].to_list() == ["01", "01", "01", "01", "03"]
    assert rows["row_no"].to_list() == [2, 3, 4, 5, 6]


def test_english_headers_and_xlsx_are_read_alike() -> None:
    english = ["change_type", "member_account", "name", "id_type", "id_number", "base", "reason", "effective_month"]
    assert _read(_csv(*VALID, header=english)).problems.height == 0
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, values in enumerate([HEADER, *VALID]):
        sheet.write_row(r, 0, values)
    book.close()
    assert _read(out.getvalue(), NAME.replace(".csv", ".xlsx")).rows.height == 5


def test_every_context_free_problem_at_once_with_row_and_column() -> None:
    rows = [
        ["调岗", "1001", "张三", "", "", "", "", ""],  # unknown change type
        ["开户", "", "", "01", "", "", "", ""],  # no name, no ID number, no base
        ["封存", "", "李四", "", "", "", "9", "2026-12"],  # no account, a reason that is none, a malformed month
        ["启封", "10a4", "封存", "07", "", "abc", "", ""],  # bad account, ID type, base, no reason
        ["基数调整", "1002", "李四", "01", "110105194912310021", "2400", "", ""],  # bad check character
        ["基数调整", "1002", "李四", "", "", "2500", "", ""],  # the same account twice
    ]
    assert _codes(_read(_csv(*rows))) == [
        (2, "C_TYPE", "change_type"),
        (3, "R_REQUIRED", "name"),
        (3, "R_REQUIRED", "id_number"),
        (3, "R_REQUIRED", "base"),
        (4, "R_REQUIRED", "member_account"),
        (4, "C_REASON", "reason"),
        (4, "C_MONTH", "effective_month"),
        (5, "R_ACCOUNT_FORMAT", "member_account"),
        (5, "R_ID_TYPE", "id_type"),
        (5, "R_NUMBER", "base"),
        (5, "R_REQUIRED", "reason"),
        (6, "R_DUPLICATE", "member_account"),
        (6, "R_ID_INVALID", "id_number"),
        (7, "R_DUPLICATE", "member_account"),
    ]
    messages = _read(_csv(*rows)).problems["message"].to_list()
    assert all(m and any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in messages)
    assert "110105********0021" in " ".join(messages)  # an ID number never whole in a message


def test_file_level_problems_stop_it_being_read() -> None:
    result = read_change_list(_csv(header=["姓名"]), NAME, month=202612, max_rows=1000)
    assert isinstance(result, list) and {p.code for p in result} == {"F_COLUMNS"}
    assert "变更类型" in result[0].message


def test_the_change_list_file_name() -> None:
    assert parse_change_list_name("BG_0101000123_202612_v2.xlsx") == FileName("0101000123", 202612, "v2", "xlsx")
    for bad in ("0101000123_202612.csv", "BG_0101000123_202613.csv", "BG_0101000123.csv"):
        assert isinstance(parse_change_list_name(bad), Problem)


def test_types_are_matched_case_insensitively_in_english() -> None:
    changes = _read(_csv(["SEAL", "1001", "张三", "", "", "", "1", ""]))
    assert changes.rows["change"].to_list() == ["seal"] and changes.problems.height == 0
    assert changes.rows.schema["base_fen"] == pl.Int64


# ------------------------------------------------------------ against the roster

from batch.changes import ACCOUNT_STATE, PERSON_STATE, Bounds, ChangeContext, roster_problems  # noqa: E402

UNIT = "0101000123"
CONTEXT = ChangeContext(UNIT, 202611, 202612, (Bounds(202607, 202706, 233_000, 3_296_900),))


def _roster(changes: ChangeList, accounts: list[tuple], people: list[tuple] = ()) -> list[tuple[int, str, str]]:  # type: ignore[type-arg,assignment]
    found = roster_problems(
        changes.rows,
        pl.DataFrame([(*a, None, None) for a in accounts], schema=ACCOUNT_STATE, orient="row"),
        pl.DataFrame(list(people), schema=PERSON_STATE, orient="row"),
        CONTEXT,
    )
    assert all(found["message"].str.contains(r"[\u4e00-\u9fff]"))
    return [(r["row_no"], r["code"], r["column"]) for r in found.iter_rows(named=True)]


def test_changes_that_fit_the_roster_have_no_problems() -> None:
    changes = _read(_csv(*VALID))
    accounts = [
        (3, "1001", UNIT, "张三", ID_ZHANG, "normal", 202611),
        (4, "1004", UNIT, "封存", "810000199408230021", "sealed", 202609),
        (5, "1002", UNIT, "李四", ID_LI, "normal", 202611),
    ]
    people = [(2, "2001", "0101000999", "sealed", 202605)]  # a sealed account elsewhere: it may move here
    assert _roster(changes, accounts, people) == []


def test_each_roster_code() -> None:
    rows = [
        ["封存", "1001", "张三", "", "", "", "1", ""],  # already sealed: C_STATE
        ["启封", "1002", "李四", "", "", "3000", "1", ""],  # already normal: C_STATE
        ["基数调整", "1004", "封存", "", "", "3000", "", ""],  # base change on a sealed one: C_STATE
        ["封存", "9999", "无名", "", "", "", "1", ""],  # R_ACCOUNT_UNKNOWN
        ["封存", "2001", "赵六", "", "", "", "1", ""],  # R_ACCOUNT_OTHER_EMPLOYER
        ["基数调整", "1005", "销户", "", "", "3000", "", ""],  # R_ACCOUNT_CLOSED
        ["基数调整", "1003", "王五", "", ID_LI, "3000", "", "202611"],  # name, ID, at or before paid-through
        ["开户", "", "孙七", "01", ID_ZHANG, "3000", "", ""],  # normal at another employer
        ["基数调整", "1006", "周八", "", "", "100", "", "202610"],  # before the employer's due month; under the floor
        ["基数调整", "1007", "吴九", "", "", "3000", "", "202701"],  # after the current month
    ]
    accounts = [
        (2, "1001", UNIT, "张三", ID_ZHANG, "sealed", 202611),
        (3, "1002", UNIT, "李四", ID_LI, "normal", 202611),
        (4, "1004", UNIT, "封存", ID_LI, "sealed", 202609),
        (6, "2001", "0101000999", "赵六", ID_LI, "normal", 202611),
        (7, "1005", UNIT, "销户", ID_LI, "closed", 202601),
        (8, "1003", UNIT, "王五五", ID_ZHANG, "normal", 202611),
        (10, "1006", UNIT, "周八", ID_LI, "normal", 202609),
        (11, "1007", UNIT, "吴九", ID_LI, "normal", 202611),
    ]
    people = [(9, "2002", "0101000999", "normal", 202611)]
    assert _roster(_read(_csv(*rows)), accounts, people) == [
        (2, "C_STATE", "change_type"),
        (3, "C_STATE", "change_type"),
        (4, "C_STATE", "change_type"),
        (5, "R_ACCOUNT_UNKNOWN", "member_account"),
        (6, "R_ACCOUNT_OTHER_EMPLOYER", "member_account"),
        (7, "R_ACCOUNT_CLOSED", "member_account"),
        (8, "R_NAME_MISMATCH", "name"),
        (8, "R_ID_MISMATCH", "id_number"),
        (8, "C_MONTH", "effective_month"),
        (9, "C_ACTIVE_ELSEWHERE", "id_number"),
        (10, "R_BASE_RANGE", "base"),
        (10, "C_MONTH", "effective_month"),
        (11, "C_MONTH", "effective_month"),
    ]
