"""The pandera model of a parsed remittance row (SPEC §3–§4, the checks that need no context).

Each check is named by the reason code it reports. Nullability stands for
R_REQUIRED and R_NUMBER: parsing turns an empty or unreadable cell into null,
and `batch.rules` tells the two apart by the cell's parse problem. Checks
that need master data, the policy or the file name are polars rules in
`batch.rules`, not here.
"""

from __future__ import annotations

from datetime import date

import pandera.polars as pa
import polars as pl

from schemas import formats
from schemas.ids import ric_problem_expr

ID_TYPES: dict[str, str] = {
    "01": "居民身份证",
    "02": "军官证",
    "03": "护照",
    "04": "外国人永久居留证",
    "99": "其他",
}

_NO_FUTURE_LIMIT = date(9999, 12, 31)
"""Birth dates after today are caught by R_ID_MISMATCH: master data refuses them."""


# The cell checks both file kinds share, as expressions: each model names them by code itself.
# (A check inherited from a common base model loses its name in pandera after the first subclass.)


def account_cells(key: str) -> pl.Expr:
    """An account of 1–20 ASCII digits ([0-9], not \\d: Rust's \\d lets full-width digits through)."""
    return pl.col(key).str.contains(formats.ACCOUNT)


def id_type_cells(key: str) -> pl.Expr:
    return pl.col(key).is_in(list(ID_TYPES))


def resident_id_cells(key: str) -> pl.Expr:
    """A type-01 number well formed; other types are not checked here."""
    return (pl.col("id_type") != "01") | ric_problem_expr(pl.col(key), _NO_FUTURE_LIMIT).is_null()


def month_cells(key: str) -> pl.Expr:
    """A `YYYYMM` cell (R_MONTH here, C_MONTH in a change list)."""
    month = pl.col(key)
    return month.str.contains(formats.MONTH) & (month.str.slice(0, 4) >= "1900")


class RemittanceRow(pa.DataFrameModel):
    """One data row of a remittance file after parsing."""

    row_no: pl.Int64 = pa.Field(unique=True)
    member_account: pl.String = pa.Field(nullable=False)
    name: pl.String = pa.Field(nullable=False)
    id_type: pl.String = pa.Field(nullable=False)
    id_number: pl.String = pa.Field(nullable=False)
    base_fen: pl.Int64 = pa.Field(nullable=False)
    employer_rate_bp: pl.Int64 = pa.Field(nullable=False)
    employee_rate_bp: pl.Int64 = pa.Field(nullable=False)
    employer_amount_fen: pl.Int64 = pa.Field(nullable=False)
    employee_amount_fen: pl.Int64 = pa.Field(nullable=False)
    total_amount_fen: pl.Int64 = pa.Field(nullable=False)
    contribution_month: pl.String = pa.Field(nullable=True)

    class Config:
        strict = False
        coerce = False

    @pa.check("member_account", name="R_ACCOUNT_FORMAT")
    def account_digits(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(account_cells(data.key))

    @pa.check("id_type", name="R_ID_TYPE")
    def known_id_type(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(id_type_cells(data.key))

    # Column checks may read other columns; unlike dataframe checks, their
    # failure cases are the cell, not the whole row serialised.
    @pa.check("id_number", name="R_ID_INVALID")
    def resident_id(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(resident_id_cells(data.key))

    @pa.check("contribution_month", name="R_MONTH")
    def month_form(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(month_cells(data.key))

    @pa.check("total_amount_fen", name="R_TOTAL")
    def total_is_sum(cls, data: pa.PolarsData) -> pl.LazyFrame:
        parts = pl.col("employer_amount_fen") + pl.col("employee_amount_fen")
        return data.lazyframe.select(pl.col(data.key) == parts)
