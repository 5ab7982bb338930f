"""The payment reference (缴款识别码): unit account, month and an ISO 7064 MOD 11,10 check digit (SPEC §9).

It depends only on the employer and the month, so money may come before its
list and a corrected list keeps it; a mistyped digit fails the check and the
credit falls through to the weaker matching rules. The arithmetic is
`stdnum.iso7064.mod_11_10`'s, written out (ten lines do not need a dependency)
and once more over a polars column for an arrival file's thousands of
digit runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

MONTH_DIGITS = 6
"""`YYYYMM` after the unit account; one check digit follows."""


def _checksum(digits: str) -> int:
    check = 5
    for d in digits:
        check = (((check or 10) * 2) % 11 + int(d)) % 10
    return check


def check_digit(digits: str) -> str:
    """The digit that makes `digits` + it valid."""
    return str((1 - ((_checksum(digits) or 10) * 2) % 11) % 10)


def reference(unit_account: str, month: int) -> str:
    """`01010001232026119` for unit `0101000123` and month 202611."""
    body = f"{unit_account}{month:06d}"
    return body + check_digit(body)


def is_valid(digits: str) -> bool:
    """A string of ASCII digits whose last digit checks the rest."""
    return digits.isascii() and digits.isdigit() and _checksum(digits) == 1


def valid_column(digits: pl.Series) -> pl.Series:
    """`is_valid` over a column of digit strings, one vectorised pass per digit position (no Python call per row)."""
    import polars as pl  # here: references are made by commands that never load polars

    frame = pl.DataFrame({"d": digits, "check": pl.Series([5] * len(digits), dtype=pl.Int32)})
    width = frame["d"].str.len_chars().max() or 0
    assert isinstance(width, int)
    for i in range(width):
        d = pl.col("d").str.slice(i, 1).cast(pl.Int32, strict=False)
        step = ((pl.when(pl.col("check") == 0).then(10).otherwise(pl.col("check")) * 2) % 11 + d) % 10
        frame = frame.with_columns(
            pl.when(pl.col("d").str.len_chars() > i).then(step).otherwise("check").alias("check")
        )
    return frame.select(pl.col("d").str.contains(r"^[0-9]+$").fill_null(False) & (pl.col("check") == 1)).to_series()
