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

from batch.filename import FileName
from batch.masking import mask_id
from batch.money import yuan_expr
from batch.policy import next_month
from batch.read import Table, read_table
from batch.rules import EMPTY, SCHEMA_MESSAGES, found, schema_problems
from schemas.changes import CHANGE_LABELS, CHANGE_TYPES, NEEDS, SEAL_REASONS, UNSEAL_REASONS, Change, ChangeRow
from schemas.codes import Problem
from schemas.columns import CHANGES
from schemas.formats import valid_month

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
    **{code: SCHEMA_MESSAGES[code] for code in ("R_REQUIRED", "R_ACCOUNT_FORMAT", "R_ID_TYPE", "R_ID_INVALID")},
    "C_MONTH": lambda c: pl.format("生效年月应为YYYYMM格式（如202612），实际为{}", found(c)),
}
"""The remittance words for the shared person checks; the effective month's own."""
_TYPE_WORDS = "、".join(f"{label}（{c.value}）" for c, label in CHANGE_LABELS.items())
_LABELS = {"member_account": "个人账号", "id_number": "证件号码", "base": "缴存基数", "reason": "原因"}


def change_problems(rows: pl.DataFrame) -> pl.DataFrame:
    """Every problem of the rows that needs no roster: the model's checks, then the rules by change type."""
    parts = [schema_problems(rows, ChangeRow, _MESSAGES)]
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


# ------------------------------------------------------------ against the roster


ACCOUNT_STATE = pl.Schema(
    {"row_no": pl.Int64, "member_account": pl.String, "unit_account": pl.String, "name": pl.String,
     "id_number": pl.String, "status": pl.String, "paid_through": pl.Int64}
)  # fmt: skip
"""For each row naming an account: that account as it stands for the row's effective month."""

PERSON_STATE = pl.Schema(
    {"row_no": pl.Int64, "member_account": pl.String, "unit_account": pl.String, "status": pl.String,
     "paid_through": pl.Int64}
)  # fmt: skip
"""For each 开户 row: every account the person (ID type and number) holds, as it stands for the effective month."""


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """What the roster rules know beyond the rows."""

    unit_account: str
    employer_paid_through: int | None
    current_month: int
    base_floor_fen: int | None
    """The policy's floor for the employer's wage tier in the file's month; None without a policy."""
    base_cap_fen: int | None


def roster_problems(
    rows: pl.DataFrame, accounts: pl.DataFrame, people: pl.DataFrame, ctx: ChangeContext
) -> pl.DataFrame:
    """C_STATE, C_ACTIVE_ELSEWHERE, the bounds of C_MONTH and the account, name, ID and base checks (SPEC §3.2, §4).

    `accounts` and `people` are the state in force for each row's effective
    month (`ACCOUNT_STATE`, `PERSON_STATE`), looked up by whoever keeps the
    events; rows with context-free problems are judged all the same, so the
    employer sees everything at once.
    """
    unit = ctx.unit_account
    change, status, month = (
        pl.col("change"),
        pl.col("reg_status"),
        pl.col("effective_month").cast(pl.Int64, strict=False),
    )
    named = rows.lazy().filter(pl.col("member_account").is_not_null() & change.is_not_null()).join(
        accounts.lazy().select(
            "row_no", *(pl.col(c).alias(f"reg_{c}") for c in ("unit_account", "name", "id_number", "status", "paid_through"))
        ),
        on="row_no", how="left",
    )  # fmt: skip
    known = pl.col("reg_status").is_not_null()
    here = pl.col("reg_unit_account") == unit
    opening = change == Change.OPEN.value

    def problems(frame: pl.LazyFrame, when: pl.Expr, code: str, column: str, message: pl.Expr) -> pl.LazyFrame:
        return frame.filter(when).select(
            "row_no", pl.lit(code).alias("code"), pl.lit(column).alias("column"), message.alias("message")
        )

    state_words = status.replace_strict({"normal": "正常", "sealed": "封存", "closed": "销户"}, default=status)
    wrong_state = (
        ((change == Change.SEAL.value) & (status == "sealed"))
        | ((change == Change.UNSEAL.value) & (status == "normal"))
        | ((change == Change.BASE.value) & (status == "sealed"))
        | (opening & (status == "normal") & here)
    )
    parts = [
        problems(named, ~known, "R_ACCOUNT_UNKNOWN", "member_account",
                 pl.format("个人账号{}未登记（不存在）", found("member_account"))),
        problems(named, known & ~here & ~opening, "R_ACCOUNT_OTHER_EMPLOYER", "member_account",
                 pl.format(f"个人账号{{}}属于单位{{}}，不属于本单位{unit}", found("member_account"), pl.col("reg_unit_account"))),
        problems(named, known & (status == "closed"), "R_ACCOUNT_CLOSED", "member_account",
                 pl.format("个人账号{}已销户，不能办理变更", found("member_account"))),
        problems(named, known & (pl.col("name") != pl.col("reg_name")), "R_NAME_MISMATCH", "name",
                 pl.format("姓名应为登记的“{}”，实际为{}", pl.col("reg_name"), found("name"))),
        problems(named, known & pl.col("id_number").is_not_null() & (pl.col("id_number") != pl.col("reg_id_number")),
                 "R_ID_MISMATCH", "id_number",
                 pl.format("证件号码应为登记的{}，实际为{}", mask_id(pl.col("reg_id_number")), mask_id(pl.col("id_number")))),
        problems(named, known & (here | opening) & wrong_state, "C_STATE", "change_type",
                 pl.format("{}（{}）与账户在{}的状态“{}”不符", change.replace_strict(dict(CHANGE_LABELS), default=change),
                           found("member_account"), pl.col("effective_month"), state_words)),
        problems(named, known & month.is_not_null() & (month <= pl.col("reg_paid_through")), "C_MONTH", "effective_month",
                 pl.format("生效年月应晚于该职工的缴至年月{}，实际为{}", pl.col("reg_paid_through"), pl.col("effective_month"))),
    ]  # fmt: skip
    # 开户 of a person: refused while any of their accounts is normal at another employer.
    elsewhere = (
        rows.lazy().filter(opening)
        .join(people.lazy().filter((pl.col("status") == "normal") & (pl.col("unit_account") != unit)), on="row_no", suffix="_p")
        .group_by("row_no").agg(pl.col("unit_account").min().alias("other"), pl.col("member_account_p").min().alias("account"))
    )  # fmt: skip
    parts.append(
        problems(elsewhere, pl.lit(True), "C_ACTIVE_ELSEWHERE", "id_number",
                 pl.format("该职工在单位{}的个人账号{}为正常缴存状态：须由该单位先办理封存，才能在本单位开户", "other", "account"))
    )  # fmt: skip
    lazy = rows.lazy()
    if ctx.employer_paid_through is not None:
        earliest = next_month(ctx.employer_paid_through)
        parts.append(
            problems(lazy, month.is_not_null() & (month < earliest), "C_MONTH", "effective_month",
                     pl.format(f"生效年月应不早于单位的应缴月份{earliest}（已缴至{ctx.employer_paid_through}），实际为{{}}", pl.col("effective_month")))
        )  # fmt: skip
    parts.append(
        problems(lazy, month.is_not_null() & (month > ctx.current_month), "C_MONTH", "effective_month",
                 pl.format(f"生效年月应不晚于当前月份{ctx.current_month}，实际为{{}}", pl.col("effective_month")))
    )  # fmt: skip
    if ctx.base_floor_fen is not None and ctx.base_cap_fen is not None:
        floor, cap = ctx.base_floor_fen, ctx.base_cap_fen
        base = pl.col("base_fen")
        parts.append(
            problems(lazy, base.is_not_null() & ((base < floor) | (base > cap)), "R_BASE_RANGE", "base",
                     pl.format(f"缴存基数应在{floor // 100}元至{cap // 100}元之间，实际为{{}}元", pl.col("base")))
        )  # fmt: skip
    order = {c.name: i for i, c in enumerate(CHANGES.columns)}
    return (
        pl.concat([EMPTY.lazy(), *parts], how="vertical_relaxed")
        .with_columns(pl.col("column").replace_strict(order, default=len(order)).alias("_order"))
        .sort("row_no", "_order", "code")
        .unique(["row_no", "code", "column"], keep="first", maintain_order=True)  # one C_MONTH a row is enough
        .drop("_order")
        .collect()
    )
