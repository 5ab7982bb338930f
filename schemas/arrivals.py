"""The bank's arrival notice (账户变动通知, SPEC §9): the platform's 23 fields and the model of a parsed line.

The fields are the settlement platform's (DOMAIN §5.1: BDC113 and SBDC100
share them), in its order. Parsing (`batch.arrivals`) turns each line into
typed columns, a cell that does not parse becoming null; the model then
names every failure by the file code it reports.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

FIELDS: tuple[tuple[str, str], ...] = (
    ("seq", "序号"),
    ("account", "帐号"),
    ("serial", "银行主机流水号"),
    ("trade_code", "交易代码"),
    ("payer_account", "交易对手账号"),
    ("payer_name", "交易对手户名"),
    ("amount", "金额"),
    ("trade_date", "交易日期"),
    ("trade_time", "交易时间"),
    ("available", "可用金额"),
    ("branch", "开户机构号"),
    ("memo", "备注"),
    ("currency", "币别"),
    ("cash_flag", "钞汇鉴别"),
    ("balance", "余额"),
    ("overdraft", "可透支余额"),
    ("voucher_kind", "凭证种类"),
    ("voucher_no", "凭证号码"),
    ("payer_bank", "交易对手行号"),
    ("summary", "摘要"),
    ("reversal", "冲正标识"),
    ("item_no", "笔号"),
    ("book_no", "册号"),
)
LABELS = dict(FIELDS)

REDELIVERED = ("seq", "available", "balance", "overdraft")
"""Fields that change when the platform delivers a movement again: not part of its content."""
CONTENT = tuple(key for key, _ in FIELDS if key not in REDELIVERED)

RMB = "156"
SERIAL_CHARS = 64

CREDIT, REVERSAL, OTHER = "credit", "reversal", "other"
"""A positive amount marked N; a negative one marked Y; anything else (the centre's own payments out)."""


class ArrivalLine(pa.DataFrameModel):
    """One line of an arrival file after parsing; nulls are cells that did not parse."""

    line_no: pl.Int64 = pa.Field(unique=True)
    account: pl.String = pa.Field(nullable=False)
    serial: pl.String = pa.Field(nullable=False)
    amount_fen: pl.Int64 = pa.Field(nullable=False)
    trade_date: pl.Date = pa.Field(nullable=False)
    trade_time: pl.String = pa.Field(nullable=False)
    currency: pl.String = pa.Field(nullable=True)
    reversal: pl.String = pa.Field(nullable=True)

    class Config:
        strict = False
        coerce = False

    @pa.check("account", name="B_FORMAT")
    def account_digits(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).str.contains(r"^[0-9]{1,32}$"))

    @pa.check("serial", name="B_FORMAT")
    def serial_text(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).str.len_chars().is_between(1, SERIAL_CHARS))

    @pa.check("amount_fen", name="B_FORMAT")
    def amount_moves(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key) != 0)

    @pa.check("trade_time", name="B_FORMAT")
    def time_of_day(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).str.contains(r"^([01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]$"))

    @pa.check("currency", name="B_CURRENCY")
    def renminbi(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key) == RMB)

    @pa.check("reversal", name="B_FORMAT")
    def reversal_flag(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).is_in(["Y", "N"]))
