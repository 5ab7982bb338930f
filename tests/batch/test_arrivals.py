"""Arrival files, payment references and matching (SPEC §9): the pure core, no servers."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.arrivals import read_arrivals
from batch.matching import find_originals, match_credits
from batch.reference import check_digit, is_valid, reference, valid_column

ACCOUNT = "51050188360000000001"
NAME = f"DZTZ_{ACCOUNT}_20261201_001.txt"


def line(seq: int, serial: str, amount: str, *, memo: str = "", summary: str = "", flag: str = "N",
         day: str = "20261201", currency: str = "156", account: str = ACCOUNT, balance: str = "0") -> str:  # fmt: skip
    fields = [str(seq), account, serial, "0001", "6222000011112222", "成都甲公司", amount, day, "101500", balance,
              "5101", memo, currency, "1", balance, "0", "", "", "", summary, flag, "1", "1"]  # fmt: skip
    return "|".join(fields) + "|"


def read(*lines: str, marker: bytes | None = None, encoding: str = "gb18030"):  # type: ignore[no-untyped-def]
    data = "\r\n".join(lines).encode(encoding) + (b"\r\n" if lines else b"")
    return read_arrivals(NAME, data, accounts=[ACCOUNT], marker=marker, max_rows=1000)


def test_the_reference_of_the_spec_example() -> None:
    assert reference("0101000123", 202611) == "01010001232026119"
    assert is_valid("01010001232026119")
    assert not is_valid("01010001232026118")


@given(st.text("0123456789", min_size=1, max_size=30))
def test_a_check_digit_makes_any_body_valid_and_one_changed_digit_invalid(body: str) -> None:
    good = body + check_digit(body)
    assert is_valid(good)
    wrong = body[:-1] + str((int(body[-1]) + 1) % 10) + good[-1]
    assert not is_valid(wrong)


def test_the_column_form_agrees_with_the_scalar_one() -> None:
    digits = [f"{n:07d}" for n in range(0, 2000, 7)] + ["01010001232026119", "", "12a"]
    assert valid_column(pl.Series(digits)).to_list() == [is_valid(d) for d in digits]


def test_a_good_file_gives_signed_fen_kinds_and_repeats() -> None:
    got = read(
        line(1, "S1", "1000.00"),
        line(2, "S2", "-250.5", flag="Y", memo="S1"),
        line(3, "S3", "-80.00"),
        line(4, "S1", "1000.00", balance="999.00"),  # delivered again: only the balance differs
    )
    assert got.ok, got.problems
    rows = got.lines.select("line_no", "amount_fen", "kind", "repeat").rows()
    assert rows == [(1, 100000, "credit", False), (2, -25050, "reversal", False), (3, -8000, "other", False),
                    (4, 100000, "credit", True)]  # fmt: skip
    assert got.lines["trade_date"][0] == date(2026, 12, 1)


def test_an_empty_file_is_valid_and_utf8_with_a_bom_is_read() -> None:
    assert read().ok
    got = read_arrivals(NAME, "\ufeff".encode() + line(1, "S1", "1.00").encode(), accounts=[ACCOUNT], max_rows=9)
    assert got.ok and got.lines["payer_name"][0] == "成都甲公司"


def test_every_bad_line_and_field_is_reported_at_once() -> None:
    got = read(
        line(1, "S1", "10.001"),
        line(2, "S2", "abc", currency="840", flag="X", day="20261340"),
        "1|2|3",
        line(4, "S1", "12.00"),
        line(5, "S5", "1.00", account="6222"),
    )
    found = {(p.code, p.row_no, p.column) for p in got.problems}
    assert found == {
        ("B_FORMAT", 1, "金额"), ("B_CURRENCY", 2, "币别"), ("B_FORMAT", 2, "金额"), ("B_FORMAT", 2, "交易日期"),
        ("B_FORMAT", 2, "冲正标识"), ("B_FORMAT", 3, None), ("B_CONFLICT", 4, "银行主机流水号"),
        ("B_ACCOUNT", 5, "帐号"),
    }  # fmt: skip
    assert all(f"第{p.row_no}行" in p.message for p in got.problems)
    assert "实际为“840”" in next(p.message for p in got.problems if p.code == "B_CURRENCY")


def test_the_file_name_the_account_the_encoding_and_the_marker() -> None:
    wrong = read_arrivals("DZTZ_1_20261232_001.txt", b"\xff\xfe", accounts=[ACCOUNT], max_rows=9)
    assert {p.code for p in wrong.problems} == {"B_FORMAT", "B_ENCODING"}
    other = read_arrivals("DZTZ_999_20261201_001.txt", b"", accounts=[ACCOUNT], max_rows=9)
    assert [p.code for p in other.problems] == ["B_ACCOUNT"]
    marked = read(line(1, "S1", "10.00"), line(2, "S2", "-3.00"), marker=b"rows=2\ntotal=7.00\n")
    assert marked.ok
    short = read(line(1, "S1", "10.00"), marker=b"rows=2\ntotal=-1.00\n")
    assert [p.code for p in short.problems] == ["B_MANIFEST", "B_MANIFEST"]


EMPLOYERS = pl.DataFrame(
    {
        "unit_account": ["0101000123", "0101000124", "0101000125", "0101000126", "0101000127"],
        "name": ["成都甲公司", "成都乙公司", "丙公司", "丁公司", "戊公司"],
        "status": ["01", "01", "01", "04", "01"],
        "payer_account": ["6222", "6333", "6333", "7777", "8888"],
    }
)


def match(
    memo: str = "", summary: str = "", payer_name: str = "某人", payer_account: str = ""
) -> tuple[str | None, str]:
    credits = pl.DataFrame(
        {"line_no": [1], "memo": [memo], "summary": [summary], "payer_name": [payer_name],
         "payer_account": [payer_account]}
    )  # fmt: skip
    got = match_credits(credits, EMPLOYERS)
    return got["unit_account"][0], got["matched_by"][0]


REF = reference("0101000123", 202611)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ({"memo": f"汇缴{REF}"}, ("0101000123", "reference")),
        ({"memo": "".join(chr(ord(c) + 0xFEE0) for c in REF)}, ("0101000123", "reference")),  # full-width
        ({"memo": f"{REF[:10]} {REF[10:14]}-{REF[14:]}"}, ("0101000123", "reference")),  # spaced
        ({"summary": REF, "memo": reference("0101000124", 202611)}, ("0101000123", "reference")),  # 摘要 first
        ({"memo": REF[:-1] + "0"}, (None, "unidentified")),  # wrong check digit, no other clue
        ({"memo": REF[:-1] + "0", "payer_name": "成都甲公司"}, ("0101000123", "name")),  # falls through
        ({"memo": "单位0101000124工资"}, ("0101000124", "unit_account")),
        ({"memo": "0101000123 0101000124"}, (None, "unidentified")),  # two employers
        ({"summary": "成都乙公司"}, ("0101000124", "name")),
        ({"payer_account": "8888"}, ("0101000127", "payer_account")),
        ({"payer_account": "6333"}, (None, "unidentified")),  # held by two employers
        ({"payer_account": "7777"}, (None, "unidentified")),  # its employer is closed (04)
        ({"memo": "0101000126"}, (None, "unidentified")),  # closed employers are no candidates
    ],
)
def test_matching_rules_in_order(texts: dict[str, str], expected: tuple[str | None, str]) -> None:
    assert match(**texts) == expected


def test_a_reversal_finds_its_credit_by_serial_else_by_amount_within_ten_days() -> None:
    reversals = pl.DataFrame(
        {"line_no": [1, 2, 3, 4], "account": ["A"] * 4, "amount_fen": [-100, -100, -500, -100],
         "payer_account": ["p"] * 4, "payer_name": ["n"] * 4, "memo": ["冲正 SX4", "", "", ""],
         "summary": [""] * 4, "trade_date": [date(2026, 12, 5)] * 4}
    )  # fmt: skip
    credits = pl.DataFrame(
        {"credit_id": [10, 11, 12, 13], "account": ["A"] * 4, "serial": ["SX1", "SX2", "SX3", "SX4"],
         "amount_fen": [100, 100, 500, 500], "payer_account": ["p"] * 4, "payer_name": ["n"] * 4,
         "trade_date": [date(2026, 12, 1), date(2026, 12, 2), date(2026, 11, 1), date(2026, 11, 1)],
         "credit_line": pl.Series([None] * 4, dtype=pl.Int64)}
    )  # fmt: skip
    # 1 names SX4 (whatever its amount); 2 takes the newest of 100 (11), 4 the next (10); 3: 500 too old.
    assert find_originals(reversals, credits).rows() == [(1, 13), (2, 11), (4, 10)]


def test_a_reversal_takes_only_a_credit_booked_before_it() -> None:
    reversals = pl.DataFrame(
        {"line_no": [3], "account": ["A"], "amount_fen": [-100], "payer_account": ["p"], "payer_name": ["n"],
         "memo": [""], "summary": [""], "trade_date": [date(2026, 12, 5)]}
    )  # fmt: skip
    credits = pl.DataFrame(
        {"credit_id": [20, 21], "account": ["A"] * 2, "serial": ["L2", "L5"], "amount_fen": [100, 100],
         "payer_account": ["p"] * 2, "payer_name": ["n"] * 2, "trade_date": [date(2026, 12, 5)] * 2,
         "credit_line": [2, 5]}
    )  # fmt: skip
    # The newest by amount would be line 5, but it comes after the reversal in the same file.
    assert find_originals(reversals, credits).rows() == [(3, 20)]
