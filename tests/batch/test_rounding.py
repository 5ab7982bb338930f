"""The nine rounding methods of base × rate, and the policy periods around them."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.policy import (
    PROFILES,
    ROUNDING_METHODS,
    ROUNDING_NAMES,
    Period,
    Policy,
    next_month,
    profile_periods,
    round_amount,
)
from schemas.formats import valid_month


def yuan(y: int | str) -> int:
    """Yuan (exact decimal text) -> fen."""
    return int(Decimal(str(y)) * 100)


ALL = ROUNDING_METHODS

# (base in fen, rate in bp, exact amount for the reader, {method: fen})
CASES = [
    # 2330 × 5% = 116.50: half-up to the yuan is 117, never banker's 116.
    (
        yuan(2330),
        500,
        "116.50",
        {
            "fen_half_up": 11650,
            "jiao_half_up": 11650,
            "yuan_half_up": 11700,
            "fen_down": 11650,
            "jiao_down": 11650,
            "yuan_down": 11600,
            "fen_up": 11650,
            "jiao_up": 11650,
            "yuan_up": 11700,
        },
    ),
    # 32969 × 12% = 3956.28: the Chengdu ceiling under 见角进元 is 3957.
    (
        yuan(32969),
        1200,
        "3956.28",
        {
            "fen_half_up": 395628,
            "jiao_half_up": 395630,
            "yuan_half_up": 395600,
            "fen_down": 395628,
            "jiao_down": 395620,
            "yuan_down": 395600,
            "fen_up": 395628,
            "jiao_up": 395630,
            "yuan_up": 395700,
        },
    ),
    # 2200 × 5% = 110 exactly: every method agrees.
    (yuan(2200), 500, "110", dict.fromkeys(ALL, 11000)),
    # 0 stays 0.
    (0, 1200, "0", dict.fromkeys(ALL, 0)),
    (yuan(5000), 0, "0", dict.fromkeys(ALL, 0)),
    # 1000.90 × 10% = 100.09: 见角进元 keeps 100 (less than a jiao over).
    (
        yuan("1000.90"),
        1000,
        "100.09",
        {
            "fen_half_up": 10009,
            "jiao_half_up": 10010,
            "yuan_half_up": 10000,
            "fen_down": 10009,
            "jiao_down": 10000,
            "yuan_down": 10000,
            "fen_up": 10009,
            "jiao_up": 10010,
            "yuan_up": 10000,
        },
    ),
    # 1001 × 10% = 100.10: one jiao over the yuan -> 101 under 见角进元.
    (
        yuan(1001),
        1000,
        "100.10",
        {
            "fen_half_up": 10010,
            "jiao_half_up": 10010,
            "yuan_half_up": 10000,
            "fen_down": 10010,
            "jiao_down": 10010,
            "yuan_down": 10000,
            "fen_up": 10010,
            "jiao_up": 10010,
            "yuan_up": 10100,
        },
    ),
    # 1004.90 × 10% = 100.49 / 1005 × 10% = 100.50: the half-up edge to the yuan.
    (
        yuan("1004.90"),
        1000,
        "100.49",
        {
            "fen_half_up": 10049,
            "jiao_half_up": 10050,
            "yuan_half_up": 10000,
            "fen_down": 10049,
            "jiao_down": 10040,
            "yuan_down": 10000,
            "fen_up": 10049,
            "jiao_up": 10050,
            "yuan_up": 10100,
        },
    ),
    (
        yuan(1005),
        1000,
        "100.50",
        {
            "fen_half_up": 10050,
            "jiao_half_up": 10050,
            "yuan_half_up": 10100,
            "fen_down": 10050,
            "jiao_down": 10050,
            "yuan_down": 10000,
            "fen_up": 10050,
            "jiao_up": 10050,
            "yuan_up": 10100,
        },
    ),
    # 10000.90 × 1% = 100.009: under a fen over the jiao, 见分进角 keeps 100.00.
    (
        yuan("10000.90"),
        100,
        "100.009",
        {
            "fen_half_up": 10001,
            "jiao_half_up": 10000,
            "yuan_half_up": 10000,
            "fen_down": 10000,
            "jiao_down": 10000,
            "yuan_down": 10000,
            "fen_up": 10001,
            "jiao_up": 10000,
            "yuan_up": 10000,
        },
    ),
    # 10001 × 1% = 100.01: a fen over -> 100.10 under 见分进角.
    (
        yuan(10001),
        100,
        "100.01",
        {
            "fen_half_up": 10001,
            "jiao_half_up": 10000,
            "yuan_half_up": 10000,
            "fen_down": 10001,
            "jiao_down": 10000,
            "yuan_down": 10000,
            "fen_up": 10001,
            "jiao_up": 10010,
            "yuan_up": 10000,
        },
    ),
    # 10000.09 × 1% = 100.0009: under a li over the fen, 见厘进分 keeps 100.00.
    (
        yuan("10000.09"),
        100,
        "100.0009",
        {
            "fen_half_up": 10000,
            "jiao_half_up": 10000,
            "yuan_half_up": 10000,
            "fen_down": 10000,
            "jiao_down": 10000,
            "yuan_down": 10000,
            "fen_up": 10000,
            "jiao_up": 10000,
            "yuan_up": 10000,
        },
    ),
    # 10000.10 × 1% = 100.001: a li over -> 100.01 under 见厘进分.
    (
        yuan("10000.10"),
        100,
        "100.001",
        {
            "fen_half_up": 10000,
            "jiao_half_up": 10000,
            "yuan_half_up": 10000,
            "fen_down": 10000,
            "jiao_down": 10000,
            "yuan_down": 10000,
            "fen_up": 10001,
            "jiao_up": 10000,
            "yuan_up": 10000,
        },
    ),
    # 10000.50 × 1% = 100.005: half a fen rounds up, to the fen only.
    (
        yuan("10000.50"),
        100,
        "100.005",
        {
            "fen_half_up": 10001,
            "jiao_half_up": 10000,
            "yuan_half_up": 10000,
            "fen_down": 10000,
            "jiao_down": 10000,
            "yuan_down": 10000,
            "fen_up": 10001,
            "jiao_up": 10000,
            "yuan_up": 10000,
        },
    ),
    # 3333.33 × 12% = 399.9996: every "up" and half-up method reaches 400.
    (
        yuan("3333.33"),
        1200,
        "399.9996",
        {
            "fen_half_up": 40000,
            "jiao_half_up": 40000,
            "yuan_half_up": 40000,
            "fen_down": 39999,
            "jiao_down": 39990,
            "yuan_down": 39900,
            "fen_up": 40000,
            "jiao_up": 40000,
            "yuan_up": 40000,
        },
    ),
]


def test_table_covers_every_method() -> None:
    assert set(ROUNDING_METHODS) == set(ROUNDING_NAMES) and len(ROUNDING_METHODS) == 9
    for _, _, _, expected in CASES:
        assert set(expected) == set(ROUNDING_METHODS)


@pytest.mark.parametrize(
    ("base", "rate", "method", "fen"),
    [(b, r, m, f) for b, r, _, exp in CASES for m, f in exp.items()],
)
def test_round_amount_table(base: int, rate: int, method: str, fen: int) -> None:
    assert round_amount(base, rate, method) == fen


@pytest.mark.parametrize(("base", "rate", "exact"), [(b, r, e) for b, r, e, _ in CASES])
def test_table_exact_amounts(base: int, rate: int, exact: str) -> None:
    # The table's exact column is base × rate, so the cases mean what they say.
    assert Decimal(base) * rate / 1_000_000 == Decimal(exact)


def test_not_bankers_rounding() -> None:
    # Python's round() rounds half to even: 116.5 -> 116. The rule is half-up.
    assert round(116.5) == 116
    assert round_amount(233_000, 500, "yuan_half_up") == 11_700
    assert round_amount(233_000, 500, "fen_half_up") == 11_650


def test_chengdu_ceiling() -> None:
    part = round_amount(3_296_900, 1200, "yuan_up")
    assert part == 395_700
    assert 2 * part == 791_400  # 7914 yuan a month at 12% + 12%


def test_unknown_method_is_refused() -> None:
    for bad in ("half_up", "yuan", "YUAN_UP", "yuan_ceiling", "li_up", ""):
        with pytest.raises(ValueError, match="rounding"):
            round_amount(100, 100, bad)


# ------------------------------------------------------------ reference implementation

_UNIT = {"fen": Decimal("0.01"), "jiao": Decimal("0.1"), "yuan": Decimal("1")}


def reference(base_fen: int, rate_bp: int, method: str) -> int:
    """The rule in words, with decimal arithmetic, in fen."""
    unit_name, _, mode = method.partition("_")
    unit = _UNIT[unit_name]
    amount = Decimal(base_fen) / 100 * Decimal(rate_bp) / 10_000  # yuan, exact
    if mode == "half_up":
        rounded = amount.quantize(unit, rounding=ROUND_HALF_UP)
    elif mode == "down":
        rounded = amount.quantize(unit, rounding=ROUND_DOWN)
    else:  # up whenever the cut-off part is at least a tenth of the unit
        rounded = amount.quantize(unit, rounding=ROUND_DOWN)
        if amount - rounded >= unit / 10:
            rounded += unit
    fen = rounded * 100
    assert fen == fen.to_integral_value()
    return int(fen)


_bases = st.one_of(
    st.integers(0, 10**14 - 1),  # any amount we can parse
    st.integers(0, 10_000_000),  # ordinary bases
    st.integers(0, 100_000).map(lambda y: y * 100),  # whole yuan
)
_rates = st.one_of(st.integers(0, 10_000), st.integers(5, 12).map(lambda p: p * 100))


@settings(max_examples=500, deadline=None)
@given(_bases, _rates, st.sampled_from(ROUNDING_METHODS))
def test_round_amount_matches_decimal_reference(base: int, rate: int, method: str) -> None:
    assert round_amount(base, rate, method) == reference(base, rate, method)


@settings(max_examples=200, deadline=None)
@given(_bases, _rates)
def test_methods_are_ordered(base: int, rate: int) -> None:
    # down <= half_up <= up for one unit; the result is a multiple of the unit.
    exact = Decimal(base) * rate / 10_000  # fen
    for unit, size in (("fen", 1), ("jiao", 10), ("yuan", 100)):
        down, half, up = (round_amount(base, rate, f"{unit}_{m}") for m in ("down", "half_up", "up"))
        assert down <= exact < down + size
        assert down <= half <= down + size and down <= up <= down + size
        assert down % size == half % size == up % size == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_bases, _rates), min_size=1, max_size=50), st.sampled_from(ROUNDING_METHODS))
def test_expression_form_equals_int_form(pairs: list[tuple[int, int]], method: str) -> None:
    frame = pl.DataFrame(pairs, schema={"base": pl.Int64, "rate": pl.Int64}, orient="row")
    out = frame.select(round_amount(pl.col("base"), pl.col("rate"), method).alias("fen"))
    assert out.schema["fen"] == pl.Int64
    assert out["fen"].to_list() == [round_amount(b, r, method) for b, r in pairs]


def test_expression_form_on_table() -> None:
    for method in ROUNDING_METHODS:
        frame = pl.DataFrame({"base": [b for b, *_ in CASES], "rate": [r for _, r, *_ in CASES]})
        out = frame.select(round_amount(pl.col("base"), pl.col("rate"), method)).to_series().to_list()
        assert out == [exp[method] for *_, exp in CASES]


# ------------------------------------------------------------ policy


def _period(first: int, last: int, rounding: str | None) -> Period:
    return Period(first, last, 3_000_000, {1: 200_000}, 500, 1200, True, rounding)


POLICY = Policy(
    (
        _period(202507, 202606, None),
        _period(202607, 202706, "jiao_half_up"),
    ),
    default_rounding="fen_down",
)


@pytest.mark.parametrize(
    ("month", "first"),
    [
        (202507, 202507),
        (202606, 202507),
        (202607, 202607),
        (202611, 202607),
        (202706, 202607),
        (202506, None),
        (202707, None),
        (209901, None),
    ],
)
def test_period_for(month: int, first: int | None) -> None:
    period = POLICY.period_for(month)
    assert (period.first_month if period else None) == first


@pytest.mark.parametrize(
    ("month", "employer", "method"),
    [
        (202611, "yuan_down", "yuan_down"),  # the employer's own method wins
        (202611, None, "jiao_half_up"),  # else the period's
        (202611, "", "jiao_half_up"),  # an empty employer setting is no setting
        (202601, None, "fen_down"),  # a period without one: the centre default
        (202601, "fen_up", "fen_up"),
        (203001, None, "fen_down"),  # no period at all: the centre default
        (203001, "yuan_up", "yuan_up"),
    ],
)
def test_rounding_for_precedence(month: int, employer: str | None, method: str) -> None:
    assert POLICY.rounding_for(month, employer) == method


def test_chengdu_profile() -> None:
    assert "chengdu" in PROFILES
    (period,) = profile_periods("chengdu")
    assert (period.first_month, period.last_month) == (202607, 202706)
    assert period.base_cap_fen == 3_296_900
    assert dict(period.base_floor_fen) == {1: 233_000, 2: 220_000}
    assert (period.rate_min_bp, period.rate_max_bp, period.whole_percent) == (500, 1200, True)
    assert period.rounding == "yuan_up"
    policy = Policy(profile_periods("chengdu"), "fen_half_up")
    assert policy.rounding_for(202611, None) == "yuan_up"
    assert policy.period_for(202606) is None
    with pytest.raises(KeyError):
        profile_periods("nowhere")


def test_period_floors_are_read_only() -> None:
    floors = {1: 100}
    period = _period(202601, 202612, None)
    period2 = Period(202601, 202612, 1, floors, 500, 1200)
    floors[2] = 5  # the caller's dict is copied
    assert dict(period2.base_floor_fen) == {1: 100}
    with pytest.raises(TypeError):
        period.base_floor_fen[2] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("month", "following"),
    [(202611, 202612), (202612, 202701), (202601, 202602), (199912, 200001), (202609, 202610)],
)
def test_next_month(month: int, following: int) -> None:
    assert next_month(month) == following


@pytest.mark.parametrize(
    ("month", "ok"),
    [
        (202611, True),
        (202601, True),
        (202612, True),
        (190001, True),
        (999912, True),
        (202600, False),
        (202613, False),
        (202699, False),
        (189912, False),
        (1000001, False),
        (0, False),
        (2026, False),
    ],
)
def test_valid_month(month: int, ok: bool) -> None:
    assert valid_month(month) is ok


@settings(max_examples=200, deadline=None)
@given(st.integers(1900, 9998), st.integers(1, 12))
def test_next_month_is_always_valid_and_later(year: int, mon: int) -> None:
    month = year * 100 + mon
    following = next_month(month)
    assert valid_month(following)
    assert following > month
    assert (following // 100) * 12 + following % 100 == year * 12 + mon + 1
