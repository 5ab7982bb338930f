"""Check characters: resident ID (GB 11643, MOD 11-2) and credit code (GB 32100, MOD 31).

The scalar `ric_problem` and the polars `ric_problem_expr` must give the same
answer for every input: the scalar serves master data, the expression serves
files with a million rows.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.ids import (
    RIC_CHECK,
    RIC_PROBLEMS,
    RIC_WEIGHTS,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    ric_check_char,
    ric_problem,
    ric_problem_expr,
    uscc_check_char,
    uscc_problem,
)

TODAY = date(2026, 11, 22)

# ------------------------------------------------------------ GB 11643


def test_weights_are_powers_of_two_mod_11() -> None:
    # W_i = 2^(i-1) mod 11, counted from the check position (i = 18 - position + 1).
    assert RIC_WEIGHTS == tuple(pow(2, 17 - k, 11) for k in range(17))
    assert RIC_CHECK == "10X98765432"


def test_standard_worked_example() -> None:
    first17 = "11010519491231002"
    products = [int(c) * w for c, w in zip(first17, RIC_WEIGHTS, strict=True)]
    assert products == [7, 9, 0, 5, 0, 20, 2, 9, 24, 27, 7, 18, 30, 5, 0, 0, 4]
    assert sum(products) == 167
    assert sum(products) % 11 == 2
    assert ric_check_char(first17) == "X"
    assert ric_problem("11010519491231002X") is None
    assert ric_problem("11010519491231002X", today=TODAY) is None


def test_second_example() -> None:
    first17 = "44052418800101001"
    assert sum(int(c) * w for c, w in zip(first17, RIC_WEIGHTS, strict=True)) == 195
    assert ric_check_char(first17) == "4"
    assert ric_problem("440524188001010014") is None


@pytest.mark.parametrize("number", ["11010519491231002x", " 11010519491231002x ", "\t11010519491231002X\n"])
def test_lower_case_x_and_surrounding_blanks_accepted(number: str) -> None:
    assert ric_problem(number, today=TODAY) is None


@pytest.mark.parametrize("number", ["810000199408230021", "830000199201300022"])
def test_residence_permit_numbers_are_valid(number: str) -> None:
    # Address codes 81/82/83 are not in GB/T 2260 but the numbers follow GB 11643.
    assert ric_problem(number, today=TODAY) is None


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        # length
        ("", "length"),
        ("1101051949123100", "length"),  # 16
        ("11010519491231002", "length"),  # 17
        ("11010519491231002X0", "length"),  # 19
        ("110105491231002", "length"),  # 15-digit legacy numbers are not accepted
        # characters
        ("1101051949123100AX", "chars"),
        ("X1010519491231002X", "chars"),
        ("11010519491231002Y", "chars"),
        ("110105 9491231002X", "chars"),
        ("11010519491231002-", "chars"),
        ("１１010519491231002X", "chars"),  # full-width digits are not digits here
        ("11010519491231.02X", "chars"),
        # birth date
        ("110105194902300021", "birthdate"),  # 1949-02-30
        ("110105194913010021", "birthdate"),  # month 13
        ("110105194900010021", "birthdate"),  # month 0
        ("110105194901000021", "birthdate"),  # day 0
        ("110105190002290021", "birthdate"),  # 1900 is not a leap year
        ("110105000001010021", "birthdate"),  # year 0
        ("110105179912310021", "birthdate"),  # before 1800
        # check character
        ("110105194912310021", "check"),
        ("440524188001010015", "check"),
        ("440524188001010010", "check"),
    ],
)
def test_ric_problem_kinds(number: str, kind: str) -> None:
    assert kind in RIC_PROBLEMS
    assert ric_problem(number, today=TODAY) == kind


def test_leap_day_is_a_birth_date() -> None:
    first17 = "11010520000229001"
    assert ric_problem(first17 + ric_check_char(first17), today=TODAY) is None


def test_future_birth_date_needs_today() -> None:
    def number(born: date) -> str:
        first17 = f"110105{born:%Y%m%d}001"
        return first17 + ric_check_char(first17)

    tomorrow = number(TODAY + timedelta(days=1))
    assert ric_problem(tomorrow, today=TODAY) == "birthdate"
    assert ric_problem(tomorrow) is None  # no today, no future check
    assert ric_problem(number(TODAY), today=TODAY) is None  # born today is not in the future
    assert ric_problem(number(date(2100, 1, 1)), today=TODAY) == "birthdate"


def test_checks_run_in_documented_order() -> None:
    # A bad date with a bad check character reports the date; bad chars win over both.
    assert ric_problem("110105194902300020", today=TODAY) == "birthdate"
    assert ric_problem("1101051949023000AA", today=TODAY) == "chars"
    assert list(RIC_PROBLEMS) == ["length", "chars", "birthdate", "check"]


def test_expr_on_fixed_cases() -> None:
    numbers = [
        "11010519491231002X",
        "440524188001010014",
        "810000199408230021",
        "11010519491231002",
        "1101051949123100AX",
        "110105194902300021",
        "110105194912310021",
        None,
    ]
    out = pl.DataFrame({"n": numbers}, schema={"n": pl.String}).select(ric_problem_expr(pl.col("n"), TODAY))
    assert out.to_series().to_list() == [None, None, None, "length", "chars", "birthdate", "check", None]


# ------------------------------------------------------------ scalar vs expression


def _with_check(first17: str) -> str:
    return first17 + ric_check_char(first17)


_digits_x = st.text(alphabet="0123456789X", min_size=18, max_size=18)
_digits_only = st.text(alphabet="0123456789", min_size=17, max_size=17)
_valid = st.builds(
    lambda area, born, seq: _with_check(f"{area:06d}{born:%Y%m%d}{seq:03d}"),
    st.integers(0, 999_999),
    st.dates(date(1790, 1, 1), date(2030, 12, 31)),
    st.integers(0, 999),
)
_plausible = st.builds(
    lambda area, y, m, d, seq, last: f"{area:06d}{y:04d}{m:02d}{d:02d}{seq:03d}{last}",
    st.integers(0, 999_999),
    st.integers(0, 9999),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 999),
    st.sampled_from("0123456789X"),
)
_numbers = st.one_of(
    _digits_x,
    _valid,
    _plausible,
    st.builds(_with_check, _digits_only),
    st.text(alphabet="0123456789X", min_size=0, max_size=20),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_numbers, min_size=1, max_size=40))
def test_expr_agrees_with_scalar(numbers: list[str]) -> None:
    frame = pl.DataFrame({"n": numbers}, schema={"n": pl.String})
    vectorised = frame.select(ric_problem_expr(pl.col("n"), TODAY)).to_series().to_list()
    scalar = [ric_problem(n, today=TODAY) for n in numbers]
    assert vectorised == scalar


@settings(max_examples=100, deadline=None)
@given(_valid)
def test_generated_valid_numbers_pass_when_date_is_in_range(number: str) -> None:
    born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    expected = None if date(1800, 1, 1) <= born <= TODAY else "birthdate"
    assert ric_problem(number, today=TODAY) == expected


@settings(max_examples=100, deadline=None)
@given(_valid, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(number: str, position: int, delta: int) -> None:
    # MOD 11-2 detects every single-digit substitution.
    digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(digit) + number[position + 1 :]
    assert ric_problem(changed) is not None


# ------------------------------------------------------------ GB 32100


def test_uscc_weights_are_powers_of_three_mod_31() -> None:
    assert tuple(pow(3, i, 31) for i in range(17)) == USCC_WEIGHTS
    assert len(USCC_ALPHABET) == 31
    assert not set("IOSVZ") & set(USCC_ALPHABET)


def test_uscc_standard_worked_example() -> None:
    code = "91350100M000100Y43"
    values = [USCC_ALPHABET.index(c) for c in code[:17]]
    products = [v * w for v, w in zip(values, USCC_WEIGHTS, strict=True)]
    assert products == [9, 3, 27, 135, 0, 26, 0, 0, 420, 0, 0, 0, 8, 0, 0, 900, 112]
    assert sum(products) == 1640
    assert 1640 % 31 == 28
    assert uscc_check_char(code[:17]) == "3"
    assert uscc_problem(code) is None
    assert uscc_problem(code.lower()) is None
    assert uscc_problem(f"  {code} ") is None


@pytest.mark.parametrize("bad", list("IOSVZ"))
def test_uscc_refuses_letters_outside_the_alphabet(bad: str) -> None:
    code = "91350100M000100Y43"
    changed = code[:8] + bad + code[9:]
    problem = uscc_problem(changed)
    assert problem is not None
    assert bad in problem


@pytest.mark.parametrize("last", [c for c in USCC_ALPHABET if c != "3"])
def test_uscc_bad_check_character(last: str) -> None:
    problem = uscc_problem("91350100M000100Y4" + last)
    assert problem is not None
    assert "校验" in problem
    assert "3" in problem  # says what was expected


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y430", "91350100M00010"])
def test_uscc_wrong_length(code: str) -> None:
    problem = uscc_problem(code)
    assert problem is not None
    assert "18" in problem
    assert str(len(code)) in problem


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17))
def test_uscc_computed_check_always_valid(first17: str) -> None:
    code = first17 + uscc_check_char(first17)
    assert uscc_problem(code) is None
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(code, (*USCC_WEIGHTS, 1), strict=True))
    assert total % 31 == 0
    for other in USCC_ALPHABET:
        if other != code[17]:
            assert uscc_problem(first17 + other) is not None


@pytest.mark.parametrize("last", ["３", "²", "٣"])
def test_non_ascii_digit_in_check_position_is_a_character_problem(last: str) -> None:
    # str.isdigit() accepts full-width and other Unicode digits; the check position must not.
    number = "11010519491231002" + last
    vectorised = pl.select(ric_problem_expr(pl.lit(number), TODAY)).item()
    assert vectorised == "chars"
    assert ric_problem(number, today=TODAY) == "chars"
