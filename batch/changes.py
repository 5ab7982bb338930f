"""Read and check a member change list (SPEC §3.2): every problem that needs no roster, all at once.

The same reader as the remittance list (encodings, quoting, XLSX, Chinese or
English headers), its own pandera model (`schemas.changes.ChangeRow`), then
the rules that depend on the change type. What needs the roster of the
effective month (C_STATE, C_ACTIVE_ELSEWHERE, the bounds of C_MONTH, the
account and name checks) is judged where the events are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl
from pandera.errors import SchemaErrors

from batch.filename import FileName
from batch.masking import mask_id
from batch.money import yuan_expr
from batch.read import Table, read_table
from batch.rules import EMPTY, found
from schemas.changes import CHANGE_LABELS, CHANGE_TYPES, NEEDS, SEAL_REASONS, UNSEAL_REASONS, Change, ChangeRow
from schemas.codes import Problem
from schemas.columns import CHANGES
from schemas.formats import valid_month
from schemas.remittance import ID_TYPES

_NAME = re.compile(r"^BG_([0-9]{1,20})_([0-9]{6})(?:_([0-9A-Za-z\u4e00-\u9fff-]{1,32}))?\.(csv|xlsx)$", re.IGNORECASE)


def parse_change_list_name(name: str) -> FileName | Problem:
    """`BG_{unit}_{YYYYMM}[_{tag}].csv|xlsx`: the unit, the default effective month, the tag."""
    m = _NAME.match(name)
    if not m:
        return Problem(
            "F_NAME",
            f"变更清册的文件名应为“BG_单位账号_生效年月.csv”或“.xlsx”，如 BG_0101000123_202612.csv，实际为“{name[:80]}”",
        )
    month = int(m.group(2))
    if not valid_month(month):
        return Problem("F_NAME", f"文件名中的生效年月“{m.group(2)}”不是有效的年月（YYYYMM）")
    return FileName(m.group(1), month, m.group(3), m.group(4).lower())


@dataclass(frozen=True, slots=True)
class ChangeList:
    """A change list read and checked without context: its rows typed, and every row problem found so far."""

    rows: pl.DataFrame
    problems: pl.DataFrame
    """row_no, code, column, message (`schemas.frames.ROW_PROBLEM`)."""


def read_change_list(data: bytes, file_name: str, *, month: int, max_rows: int) -> ChangeList | list[Problem]:
    """The rows of a change list and their problems, or the file-level problems that stop it being read.

    `month` is the file name's month: the effective month of a row that leaves 生效年月 empty.
    """
    table = read_table(data, file_name, max_rows=max_rows, columns=CHANGES)
    if not isinstance(table, Table):
        return table
    rows = parse_changes(table.frame, month)
    return ChangeList(rows, change_problems(rows))


def parse_changes(frame: pl.DataFrame, month: int) -> pl.DataFrame:
    """Text cells -> typed values; the text stays beside them for the results."""
    kind = pl.col("change_type").str.strip_chars()
    id_type = pl.col("id_type").fill_null("01")
    return (
        frame.lazy()
        .with_columns(
            pl.coalesce(
                kind.replace_strict(dict(CHANGE_TYPES), default=None),
                kind.str.to_lowercase().replace_strict(dict(CHANGE_TYPES), default=None),
            )
            .cast(pl.String)
            .alias("change"),
            yuan_expr(pl.col("base")).alias("base_fen"),
            pl.when(id_type.str.contains(r"^[0-9]$")).then("0" + id_type).otherwise(id_type).alias("id_type"),
            pl.col("id_number").str.to_uppercase(),
            pl.col("effective_month").fill_null(str(month)).alias("effective_month"),
        )
        .collect()
    )


_MESSAGES = {
    "R_ACCOUNT_FORMAT": pl.format("个人账号应为1至20位数字，实际为{}", found("member_account")),
    "R_ID_TYPE": pl.format(f"证件类型应为{'、'.join(ID_TYPES)}之一，实际为{{}}", found("id_type")),
    "R_ID_INVALID": pl.format(
        "身份证号码无效：{}（{}位）", mask_id(pl.col("id_number")), pl.col("id_number").str.len_chars()
    ),
    "C_MONTH": pl.format("生效年月应为YYYYMM格式（如202612），实际为{}", found("effective_month")),
    "R_REQUIRED": pl.lit("“姓名”不能为空"),
}
_TYPE_WORDS = "、".join(f"{label}（{c.value}）" for c, label in CHANGE_LABELS.items())
_LABELS = {"member_account": "个人账号", "id_number": "证件号码", "base": "缴存基数", "reason": "原因"}


def change_problems(rows: pl.DataFrame) -> pl.DataFrame:
    """Every problem of the rows that needs no roster: the model's checks, then the rules by change type."""
    parts = [_schema_problems(rows)]
    lazy = rows.lazy()

    def problems(when: pl.Expr, code: str, column: str, message: pl.Expr) -> pl.LazyFrame:
        return lazy.filter(when).select(
            "row_no", pl.lit(code).alias("code"), pl.lit(column).alias("column"), message.alias("message")
        )

    change = pl.col("change")
    rules = [
        problems(
            change.is_null(),
            "C_TYPE",
            "change_type",
            pl.format(f"变更类型应为{_TYPE_WORDS}之一，实际为{{}}", found("change_type")),
        ),
    ]
    for column, changes in NEEDS.items():
        label = _LABELS[column]
        rules.append(
            problems(
                change.is_in([c.value for c in changes]) & pl.col(column).is_null(),
                "R_REQUIRED",
                column,
                pl.format(
                    f"“{label}”不能为空：{{}}须填写{label}", change.replace_strict(dict(CHANGE_LABELS), default="")
                ),
            )
        )
    rules.append(
        problems(
            pl.col("base").is_not_null() & pl.col("base_fen").is_null(),
            "R_NUMBER",
            "base",
            pl.format("“缴存基数”应为金额（如 5000.00，可带千分位逗号），实际为{}", found("base")),
        )
    )
    for kind, reasons in ((Change.SEAL, SEAL_REASONS), (Change.UNSEAL, UNSEAL_REASONS)):
        words = "、".join(f"{k} {v}" for k, v in reasons.items())
        rules.append(
            problems(
                (change == kind.value) & pl.col("reason").is_not_null() & ~pl.col("reason").is_in(list(reasons)),
                "C_REASON",
                "reason",
                pl.format(f"{CHANGE_LABELS[kind]}原因应为{words}之一，实际为{{}}", found("reason")),
            )
        )
    for column, label in (("member_account", "个人账号"), ("id_number", "证件号码")):
        key = pl.col(column)
        first = pl.col("row_no").min().over(column)
        rules.append(
            problems(
                key.is_not_null() & (pl.len().over(column) > 1),
                "R_DUPLICATE",
                column,
                pl.format(f"{label}{{}}在多行出现（第{{}}行起），每人每份变更清册只能有一行", found(column), first),
            )
        )
    parts += pl.collect_all(rules)
    order = {c.name: i for i, c in enumerate(CHANGES.columns)}
    return (
        pl.concat([EMPTY, *parts], how="vertical_relaxed")
        .with_columns(pl.col("column").replace_strict(order, default=len(order)).alias("_order"))
        .sort("row_no", "_order", "code")
        .drop("_order")
    )


def _schema_problems(rows: pl.DataFrame) -> pl.DataFrame:
    """The pandera model over the collected rows, each failure worded."""
    try:
        ChangeRow.validate(rows, lazy=True)
    except SchemaErrors as e:
        failures = e.failure_cases
    else:
        return EMPTY
    failures = failures.select(pl.col("index").cast(pl.Int64), "column", "check")
    cells = rows.with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    joined = failures.join(cells, on="index", how="left")
    parts = []
    for (column, check), group in joined.group_by("column", "check"):
        code = "R_REQUIRED" if check == "not_nullable" else str(check)
        if code not in _MESSAGES:
            raise RuntimeError(f"change-list frame does not fit its model: {column} {check}")
        parts.append(
            group.select(
                "row_no",
                pl.lit(code).alias("code"),
                pl.lit(str(column)).alias("column"),
                _MESSAGES[code].alias("message"),
            )
        )
    problems: pl.DataFrame = pl.concat([EMPTY, *parts], how="vertical_relaxed")
    return problems
