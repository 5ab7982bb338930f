"""The member change list (人员变更清册, SPEC §3.2): change types, reasons, and the pandera model of a parsed row.

The model holds the checks that need no context, each named by the code it
reports. Which cells a row needs depends on its change type (an opening needs
an ID number, a seal a reason): those are polars rules in `batch.changes`,
as are the checks against the roster of the effective month.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

import pandera.polars as pa
import polars as pl

from schemas.remittance import account_cells, id_type_cells, month_cells, resident_id_cells


class Change(StrEnum):
    OPEN = "open"
    """开户: a new account here, or an existing sealed one moving here (转入)."""
    SEAL = "seal"
    UNSEAL = "unseal"
    BASE = "base"


CHANGE_TYPES = MappingProxyType(
    {
        "开户": Change.OPEN,
        "封存": Change.SEAL,
        "启封": Change.UNSEAL,
        "基数调整": Change.BASE,
        **{c.value: c for c in Change},
    }
)
"""What a 变更类型 cell may say (Chinese or English, English case-insensitive) -> the change."""

CHANGE_LABELS = MappingProxyType(
    {Change.OPEN: "开户", Change.SEAL: "封存", Change.UNSEAL: "启封", Change.BASE: "基数调整"}
)

SEAL_REASONS = MappingProxyType({"1": "保留劳动关系停发工资", "2": "符合销户条件暂不支取", "3": "调动暂不转移"})
UNSEAL_REASONS = MappingProxyType({"1": "正常", "2": "错误封存"})

NEEDS = MappingProxyType(
    {
        "member_account": (Change.SEAL, Change.UNSEAL, Change.BASE),
        "id_number": (Change.OPEN,),
        "base": (Change.OPEN, Change.UNSEAL, Change.BASE),
        "reason": (Change.SEAL, Change.UNSEAL),
    }
)
"""Cells required by change type (SPEC §3.2 table); 变更类型 and 姓名 are required on every row."""


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
