"""Money as integer fen and rates as integer basis points, parsed from text.

Everything that reaches the ledger passes through here first, so binary floats
never touch an amount. Each parser exists twice with one grammar: a scalar
function for configuration and master data, and a polars expression for files
with a million rows. Both are tested against each other.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

# At most 12 integer digits: base × rate in 1/10000 fen then stays inside Int64.
_YUAN = re.compile(r"^(-?)((?:[0-9]{1,12})|(?:[0-9]{1,3}(?:,[0-9]{3}){1,3}))(?:\.([0-9]{1,10}))?$")
_RATE = re.compile(r"^([0-9]{1,3})(?:\.([0-9]{1,10}))?(%?)$")

# The shapes of an amount and a rate with any number of decimals, as polars regexes (Rust
# syntax; [0-9] so full-width digits stay foreign). A cell of this shape that is not a
# valid value has too many decimals: that is how the message tells the two apart.
YUAN_SHAPE = r"^(?:[0-9]{1,12}|[0-9]{1,3}(?:,[0-9]{3}){1,3})(?:\.[0-9]{1,10})?$"
RATE_SHAPE = r"^[0-9]{1,3}(?:\.[0-9]{1,10})?%?$"


def _frac(digits: str, places: int) -> int | None:
    """The first `places` decimals as an integer, or None if a further digit is not zero."""
    if digits[places:].strip("0"):
        return None
    return int((digits + "0" * places)[:places])


def parse_yuan(text: str) -> int | None:
    """'1,234.50' -> 123450 fen; None when unreadable, negative or finer than a fen."""
    m = _YUAN.match(text.strip())
    if not m or m.group(1):
        return None
    frac = _frac(m.group(3) or "", 2)
    if frac is None:
        return None
    return int(m.group(2).replace(",", "")) * 100 + frac


def parse_rate(text: str) -> int | None:
    """'12%', '12' and '0.12' -> 1200 basis points; None when unreadable.

    A bare number below 1 is a fraction, anything else is a percentage, so '1'
    is one percent. Finer than a basis point is unreadable.
    """
    m = _RATE.match(text.strip())
    if not m:
        return None
    whole, digits, percent = int(m.group(1)), m.group(2) or "", m.group(3)
    if percent or whole >= 1:
        frac = _frac(digits, 2)
        return None if frac is None else whole * 100 + frac
    return _frac(digits, 4)


def format_yuan(fen: int) -> str:
    """123450 -> '1234.50' (no separators: the form machines and the marker use)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def format_rate(bp: int) -> str:
    """1200 -> '12%', 1250 -> '12.5%'."""
    whole, frac = divmod(bp, 100)
    return f"{whole}%" if not frac else f"{whole}.{frac:02d}".rstrip("0") + "%"


# ---------------------------------------------------------------- polars forms

_EXACT = (38, 10)
"""Polars decimals (precision, scale) are exact; ten places is finer than any amount or rate we accept."""
_DECIMALS = r"(?:\.[0-9]{1,2}0{0,8})?"
"""At most two significant decimals, trailing zeros allowed up to ten places."""
YUAN_VALUE = rf"^(?:[0-9]{{1,12}}|[0-9]{{1,3}}(?:,[0-9]{{3}}){{1,3}}){_DECIMALS}$"
RATE_VALUE = (
    rf"^(?:[0-9]{{1,3}}{_DECIMALS}%"  # a percentage with its sign
    rf"|(?:[1-9][0-9]{{0,2}}|0[1-9][0-9]?|00[1-9]){_DECIMALS}"  # a bare number >= 1: percent
    r"|0{1,3}(?:\.[0-9]{1,4}0{0,6})?)$"  # a bare number below 1: a fraction, to the basis point
)


def yuan_expr(text: pl.Expr) -> pl.Expr:
    """Fen as Int64, or null when the stripped text (empty = null) is not an amount.

    One regex decides validity (so ``1e3``, signs, a third significant decimal
    and full-width digits are refused); the value comes from an exact decimal
    cast, never a float.
    """
    import polars as pl  # here: the text functions above serve commands that never load polars

    exact = text.str.replace_all(",", "", literal=True).cast(pl.Decimal(*_EXACT), strict=False) * 100
    return pl.when(text.str.contains(YUAN_VALUE)).then(exact.cast(pl.Int64, strict=False))


def rate_expr(text: pl.Expr) -> pl.Expr:
    """Basis points as Int64, or null: the grammar of `parse_rate`."""
    import polars as pl  # here: the text functions above serve commands that never load polars

    number = text.str.strip_suffix("%").cast(pl.Decimal(*_EXACT), strict=False)
    exact = pl.when(text.str.ends_with("%") | (number >= 1)).then(number * 100).otherwise(number * 10_000)
    return pl.when(text.str.contains(RATE_VALUE)).then(exact.cast(pl.Int64, strict=False))


def yuan_text(fen: pl.Expr) -> pl.Expr:
    """`format_yuan` as a polars expression, for messages and result cells."""
    import polars as pl  # here: the text functions above serve commands that never load polars

    return pl.format("{}.{}", fen // 100, (fen % 100).cast(pl.String).str.zfill(2))


def rate_text(bp: pl.Expr) -> pl.Expr:
    """`format_rate` as a polars expression."""
    import polars as pl  # here: the text functions above serve commands that never load polars

    frac = (bp % 100).cast(pl.String).str.zfill(2).str.strip_chars_end("0")
    return pl.when(bp % 100 == 0).then(pl.format("{}%", bp // 100)).otherwise(pl.format("{}.{}%", bp // 100, frac))


def number_problem_expr(text: pl.Expr, body_regex: str) -> pl.Expr:
    """Why a cell that parsed to null is not a number: empty, negative, format or decimals.

    Only run on the failing cells, to word the message; the value expressions
    above decide what is valid.
    """
    import polars as pl  # here: the text functions above serve commands that never load polars

    loose = r"^-?[0-9][0-9,]*(?:\.[0-9]+)?%?$"
    return (
        pl.when(text.is_null())
        .then(pl.lit("empty"))
        .when(text.str.starts_with("-") & text.str.contains(loose))
        .then(pl.lit("negative"))
        .when(text.str.contains(body_regex))
        .then(pl.lit("decimals"))
        .otherwise(pl.lit("format"))
    )
