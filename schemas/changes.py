"""The member change list (人员变更清册, SPEC §3.2): change types, reasons, and the pandera model of a parsed row.

The model holds the checks that need no context, each named by the code it
reports (the vocabulary of change types and reasons is `schemas.change_types`). Which cells a row needs depends on its change type (an opening needs
an ID number, a seal a reason): those are polars rules in `batch.changes`,
as are the checks against the roster of the effective month.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.remittance import account_cells, id_type_cells, month_cells, resident_id_cells


class ChangeRow(pa.DataFrameModel):
    """One data row of a change list after parsing (`batch.changes.parse_changes`); the cell checks are shared."""

    row_no: pl.Int64 = pa.Field(unique=True)
    change: pl.String = pa.Field(nullable=True)
    """The change type, normalised (`Change`); null when the cell is empty or unknown."""
    member_account: pl.String = pa.Field(nullable=True)
    name: pl.String = pa.Field(nullable=False)
    id_type: pl.String = pa.Field(nullable=False)
    id_number: pl.String = pa.Field(nullable=True)
    base_fen: pl.Int64 = pa.Field(nullable=True)
    reason: pl.String = pa.Field(nullable=True)
    effective_month: pl.String = pa.Field(nullable=True)

    class Config:
        strict = False
        coerce = False

    @pa.check("member_account", name="R_ACCOUNT_FORMAT")
    def account_digits(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(account_cells(data.key))

    @pa.check("id_type", name="R_ID_TYPE")
    def known_id_type(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(id_type_cells(data.key))

    @pa.check("id_number", name="R_ID_INVALID")
    def resident_id(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(resident_id_cells(data.key))

    @pa.check("effective_month", name="C_MONTH")
    def month_form(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(month_cells(data.key))
