"""Master-data lines are reported in Chinese, each repeat naming the first line (SPEC §8)."""

from __future__ import annotations

from datetime import date

from batch.master_files import parse_employers, parse_members
from tests.support.master import EMPLOYERS, MEMBERS

TODAY = date(2026, 11, 22)


def test_a_repeated_member_names_the_first_line_not_itself() -> None:
    header, first = MEMBERS.split("\n")[:2]
    problems = parse_members(f"{header}\n{first}\n{first}\n{first}\n".encode(), "members.csv", {"0101000123"}, TODAY)
    assert isinstance(problems, list)
    assert [(p.row_no, p.message) for p in problems] == [
        (3, "个人账号“100001”与第2行重复"),
        (4, "个人账号“100001”与第2行重复"),
    ]


def test_id_reasons_and_empty_files_are_in_chinese() -> None:
    header, first = MEMBERS.split("\n")[:2]
    bad = first.replace("002x", "0021")
    problems = parse_members(f"{header}\n{bad}\n".encode(), "members.csv", {"0101000123"}, TODAY)
    assert isinstance(problems, list)
    assert problems[0].message == "身份证号码无效：校验位错误"
    for parse in (
        lambda: parse_members(b"", "members.csv", set(), TODAY),
        lambda: parse_employers(b"  \n", "employers.csv"),
    ):
        (empty,) = parse()  # type: ignore[misc]
        assert empty.code == "M_FILE" and empty.message.startswith("文件为空")
    assert not any(c.isascii() and c.isalpha() for c in problems[0].message)


def test_a_repeated_employer_names_the_first_line() -> None:
    header, first = EMPLOYERS.split("\n")[:2]
    problems = parse_employers(f"{header}\n{first}\n{first}\n".encode(), "employers.csv")
    assert isinstance(problems, list)
    assert [(p.row_no, p.column, p.message) for p in problems] == [
        (3, "unit_account", "单位账号“0101000123”与第2行重复")
    ]
