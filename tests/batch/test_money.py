"""Money as integer fen and rates as basis points: scalar parsers, polars forms, formatting."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.money import format_rate, format_yuan, parse_rate, parse_yuan, rate_expr, yuan_expr


def _cleaned(text: str) -> str | None:
    """What the reader hands the polars forms: stripped text, empty as null."""
    stripped = text.strip()
    return stripped or None


def _yuan_vectorised(texts: list[str]) -> list[int | None]:
    frame = pl.DataFrame({"t": [_cleaned(t) for t in texts]}, schema={"t": pl.String})
    return frame.select(yuan_expr(pl.col("t"))).to_series().to_list()


def _rate_vectorised(texts: list[str]) -> list[int | None]:
    frame = pl.DataFrame({"t": [_cleaned(t) for t in texts]}, schema={"t": pl.String})
    return frame.select(rate_expr(pl.col("t"))).to_series().to_list()


YUAN_TABLE = [
    ("0", 0),
    ("0.00", 0),
    ("12", 1200),
    ("12.3", 1230),
    ("12.34", 1234),
    ("0.01", 1),
    ("000012", 1200),
    ("1,234.00", 123400),
    ("1,234.5", 123450),
    ("5,000.00", 500000),
    ("0,123", 12300),
    ("32,969", 3296900),
    ("1,234,567.89", 123456789),
    ("999,999,999,999.99", 99999999999999),
    ("999999999999.99", 99999999999999),
    ("116.500", 11650),  # zeros beyond the fen are no precision
    ("116.5000000", 11650),
    ("2330.", None),
    (".5", None),
    ("116.505", None),  # three real decimals: finer than a fen
    ("0.001", None),
    ("1.234", None),
    ("-5", None),
    ("-0", None),
    ("-0.00", None),
    ("-1,234.00", None),
    ("+5", None),
    ("1e3", None),
    ("1E3", None),
    ("１２", None),  # full-width digits
    ("１,２３４", None),
    ("12.３4", None),
    (" 12 ", 1200),  # surrounding blanks are not part of the value
    ("\t12.50\t", 1250),
    ("1 234", None),
    ("1, 234", None),
    ("", None),
    ("   ", None),
    ("12,34", None),  # a group must have three digits
    ("1,2345", None),
    ("1234,567", None),  # the leading group has at most three
    (",123", None),
    ("1,,234", None),
    ("1.234,56", None),  # European style is not ours
    ("1000000000000", None),  # 13 integer digits: beyond Int64-safe base × rate
    ("1,000,000,000,000", None),
    ("12元", None),
    ("¥12", None),
    ("NaN", None),
    ("inf", None),
    ("0x10", None),
    ("1_000", None),
]


@pytest.mark.parametrize(("text", "fen"), YUAN_TABLE)
def test_parse_yuan(text: str, fen: int | None) -> None:
    assert parse_yuan(text) == fen


def test_yuan_expr_on_table() -> None:
    texts = [t for t, _ in YUAN_TABLE]
    assert _yuan_vectorised(texts) == [fen for _, fen in YUAN_TABLE]


RATE_TABLE = [
    ("12%", 1200),
    ("12", 1200),
    ("0.12", 1200),
    ("12.5%", 1250),
    ("12.5", 1250),
    ("0.125", 1250),
    ("12.50%", 1250),
    ("12.34%", 1234),
    ("0.1234", 1234),
    ("1", 100),  # a bare 1 is one percent, not 100%
    ("1.0", 100),
    ("1%", 100),
    ("5%", 500),
    ("5", 500),
    ("0.05", 500),
    ("0.5", 5000),  # below 1 is a fraction
    ("0.999", 9990),
    ("0.0001", 1),
    ("0", 0),
    ("0%", 0),
    ("000.12", 1200),
    ("100%", 10000),
    ("100", 10000),
    ("999.99", 99999),
    (" 12% ", 1200),
    ("12.505%", None),  # finer than a basis point
    ("0.12345", None),
    ("12.001", None),
    ("1000", None),
    ("1000%", None),
    ("-12%", None),
    ("-0.12", None),
    ("12 %", None),
    ("12%%", None),
    ("%", None),
    ("%12", None),
    (".12", None),
    ("12.", None),
    ("1e1", None),
    ("１２%", None),
    ("12％", None),  # full-width percent sign
    ("", None),
    ("百分之十二", None),
    ("12,0", None),
]


@pytest.mark.parametrize(("text", "bp"), RATE_TABLE)
def test_parse_rate(text: str, bp: int | None) -> None:
    assert parse_rate(text) == bp


def test_rate_expr_on_table() -> None:
    texts = [t for t, _ in RATE_TABLE]
    assert _rate_vectorised(texts) == [bp for _, bp in RATE_TABLE]


def test_expressions_give_int64_and_pass_null_through() -> None:
    frame = pl.DataFrame({"t": ["1,234.50", None]}, schema={"t": pl.String})
    out = frame.select(yuan_expr(pl.col("t")).alias("y"), rate_expr(pl.col("t")).alias("r"))
    assert out.schema == pl.Schema({"y": pl.Int64, "r": pl.Int64})
    assert out["y"].to_list() == [123450, None]
    assert out["r"].to_list() == [None, None]


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (10, "0.10"),
        (100, "1.00"),
        (123450, "1234.50"),
        (3296900, "32969.00"),
        (-5, "-0.05"),
        (-123450, "-1234.50"),
        (99999999999999, "999999999999.99"),
    ],
)
def test_format_yuan(fen: int, text: str) -> None:
    assert format_yuan(fen) == text


@pytest.mark.parametrize(
    ("bp", "text"),
    [
        (1200, "12%"),
        (1250, "12.5%"),
        (1234, "12.34%"),
        (500, "5%"),
        (0, "0%"),
        (1, "0.01%"),
        (10, "0.1%"),
        (10000, "100%"),
        (1205, "12.05%"),
    ],
)
def test_format_rate(bp: int, text: str) -> None:
    assert format_rate(bp) == text


# ------------------------------------------------------------------ properties


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**14 - 1))
def test_format_parse_round_trip_yuan(fen: int) -> None:
    text = format_yuan(fen)
    assert parse_yuan(text) == fen
    assert _yuan_vectorised([text]) == [fen]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 99_999))
def test_format_parse_round_trip_rate(bp: int) -> None:
    text = format_rate(bp)
    assert parse_rate(text) == bp
    assert _rate_vectorised([text]) == [bp]


def _grouped(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


_amount_texts = st.one_of(
    # Random text over the characters numbers are written with.
    st.text(alphabet="0123456789,.%-e ", max_size=16),
    st.text(alphabet="0123456789,.", min_size=1, max_size=16),
    # Formatted valid amounts, and variations on them.
    st.integers(0, 10**14 - 1).map(format_yuan),
    st.integers(0, 10**14 - 1).map(_grouped),
    st.tuples(st.integers(0, 10**14 - 1), st.integers(0, 10)).map(lambda t: format_yuan(t[0]) + "0" * t[1]),
    st.tuples(st.integers(0, 10**6), st.integers(1, 9)).map(lambda t: f"{format_yuan(t[0])}{t[1]}"),
    st.integers(0, 10**6).map(lambda f: "-" + format_yuan(f)),
    st.integers(0, 10**6).map(lambda f: f"{f}%"),
    st.integers(0, 10**15).map(str),
    st.floats(0, 1e6, allow_nan=False).map(str),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_amount_texts, min_size=1, max_size=30))
def test_yuan_expr_agrees_with_parse_yuan(texts: list[str]) -> None:
    assert _yuan_vectorised(texts) == [parse_yuan(t) for t in texts]


_rate_texts = st.one_of(
    st.text(alphabet="0123456789,.%-e ", max_size=16),
    st.text(alphabet="0123456789.%", min_size=1, max_size=16),
    st.integers(0, 99_999).map(format_rate),
    st.integers(0, 99_999).map(lambda bp: f"{bp / 100:g}"),
    st.integers(0, 9_999).map(lambda bp: f"0.{bp:04d}"),
    st.integers(0, 9_999).map(lambda bp: f"0.{bp:04d}".rstrip("0")),
    st.tuples(st.integers(0, 999), st.integers(0, 99), st.booleans()).map(
        lambda t: f"{t[0]}.{t[1]:02d}{'%' if t[2] else ''}"
    ),
    st.floats(0, 2, allow_nan=False).map(str),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_rate_texts, min_size=1, max_size=30))
def test_rate_expr_agrees_with_parse_rate(texts: list[str]) -> None:
    assert _rate_vectorised(texts) == [parse_rate(t) for t in texts]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**14 - 1))
def test_separators_do_not_change_the_value(fen: int) -> None:
    assert parse_yuan(_grouped(fen)) == parse_yuan(format_yuan(fen)) == fen


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 99_999))
def test_three_rate_forms_agree(bp: int) -> None:
    whole, frac = divmod(bp, 100)
    percent = f"{whole}.{frac:02d}"
    assert parse_rate(percent + "%") == bp
    if whole >= 1:
        assert parse_rate(percent) == bp
    if bp < 10_000:
        # as a fraction of one: 12% = 0.12, 12.34% = 0.1234, 0.05% = 0.0005
        assert parse_rate(f"0.{bp:04d}") == bp


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("116.5000000000", "yuan", 11650),
        ("116.50000000000", "yuan", None),  # 10 and 11 decimals
        ("12.0000000000%", "rate", 1200),
        ("12.00000000000%", "rate", None),
        ("0.1200000000", "rate", 1200),
        ("0.12000000000", "rate", None),
    ],
)
def test_long_trailing_zeros_agree(text: str, kind: str, value: int | None) -> None:
    # Both grammars stop at 10 decimals: master data and files read the same text the same way.
    parse, vectorised = (parse_yuan, _yuan_vectorised) if kind == "yuan" else (parse_rate, _rate_vectorised)
    assert parse(text) == value
    assert vectorised([text]) == [value]
