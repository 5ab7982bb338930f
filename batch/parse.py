"""Text cells -> typed values: money in fen, rates in basis points, normalised identifiers.

Parsing never fails: an unreadable cell becomes a null value, which the row
checks turn into R_REQUIRED or R_NUMBER, worded from the text the employer
wrote (only failing cells are examined twice). The raw text stays beside the
typed value, because results echo what the employer sent.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from batch.money import rate_expr, yuan_expr
from schemas.columns import MONEY, RATES

TYPED_SUFFIX = {**{c: "_fen" for c in MONEY}, **{c: "_bp" for c in RATES}}
"""Raw column -> suffix of its typed column: base -> base_fen, employer_rate -> employer_rate_bp."""


def typed_name(column: str) -> str:
    return column + TYPED_SUFFIX[column]


def parse_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Add typed columns to a table of text cells (see `batch.read.Table`)."""
    exprs: list[pl.Expr] = []
    exprs += [yuan_expr(pl.col(c)).alias(typed_name(c)) for c in MONEY]
    exprs += [rate_expr(pl.col(c)).alias(typed_name(c)) for c in RATES]
    id_type = pl.col("id_type").fill_null("01")
    exprs += [
        # A clerk's "1" is the code "01": spreadsheets drop the leading zero of numbers.
        pl.when(id_type.str.contains(r"^[0-9]$")).then("0" + id_type).otherwise(id_type).alias("id_type"),
        pl.col("id_number").str.to_uppercase().alias("id_number"),
    ]
    # Lazily, so the optimiser shares the sub-expressions of each column.
    return frame.lazy().with_columns(exprs).collect()


def parse_rows_many(frames: Sequence[pl.DataFrame]) -> list[pl.DataFrame]:
    """`parse_rows` of several files' tables in one query, each file's rows given back as its own frame."""
    if len(frames) == 1:
        return [parse_rows(frames[0])]
    tags = pl.DataFrame(
        {"_file": list(range(len(frames))), "_rows": [f.height for f in frames]},
        schema={"_file": pl.Int32, "_rows": pl.Int64},
    ).select(pl.col("_file").repeat_by("_rows").explode())
    stacked = pl.concat([pl.concat(frames, how="diagonal_relaxed"), tags], how="horizontal")
    parsed = parse_rows(stacked).partition_by("_file", as_dict=True, include_key=False)
    return [parsed[(n,)] if (n,) in parsed else parse_rows(f) for n, f in enumerate(frames)]
