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
from batch.roster import state_at
from batch.rules import EMPTY, SCHEMA_MESSAGES, found, schema_problems
from schemas.change_types import CHANGE_LABELS, CHANGE_TYPES, NEEDS, SEAL_REASONS, UNSEAL_REASONS, Change
from schemas.changes import ChangeRow
from schemas.codes import Problem
from schemas.columns import CHANGES
from schemas.formats import ACCOUNT, valid_month

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
    return ordered(pl.concat([EMPTY, *parts], how="vertical_relaxed"))


def ordered(problems: pl.DataFrame) -> pl.DataFrame:
    """Problems by row, then in the order of the columns, then code; one of each (row, code, column)."""
    order = {c.name: i for i, c in enumerate(CHANGES.columns)}
    return (
        problems.with_columns(pl.col("column").replace_strict(order, default=len(order)).alias("_order"))
        .sort("row_no", "_order", "code", maintain_order=True)
        .unique(["row_no", "code", "column"], keep="first", maintain_order=True)
        .drop("_order")
    )


# ------------------------------------------------------------ against the roster


ACCOUNT_STATE = pl.Schema(
    {"row_no": pl.Int64, "member_account": pl.String, "unit_account": pl.String, "name": pl.String,
     "id_number": pl.String, "status": pl.String, "paid_through": pl.Int64, "base_fen": pl.Int64,
     "changed_after": pl.Int64}
)  # fmt: skip
"""For each row with an account (given, or the person's found by `targets`): that account as it stood for the
row's effective month, and the month of its latest change after that (null when none)."""

PERSON_STATE = pl.Schema(
    {"row_no": pl.Int64, "member_account": pl.String, "unit_account": pl.String, "status": pl.String,
     "paid_through": pl.Int64}
)  # fmt: skip
"""For each 开户 row: every account the person (ID type and number) holds, as it stands for the effective month."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """The base floor (for the employer's wage tier) and cap of the months a policy period covers."""

    first_month: int
    last_month: int
    floor_fen: int
    cap_fen: int


@dataclass(frozen=True, slots=True)
class ChangeContext:
    """What the roster rules know beyond the rows."""

    unit_account: str
    employer_paid_through: int | None
    current_month: int
    bounds: tuple[Bounds, ...] = ()
    """The policy periods, for R_BASE_RANGE against the policy of each row's effective month."""


def effective() -> pl.Expr:
    """A row's effective month as a number; null when malformed."""
    return pl.col("effective_month").cast(pl.Int64, strict=False)


def targets(
    rows: pl.DataFrame, holders: pl.DataFrame, events: pl.DataFrame, unit: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(ACCOUNT_STATE, PERSON_STATE): the account each row acts on, and each 开户 person's accounts, for its month.

    A 开户 row that gives no account takes the person's sealed account (the
    one paid most recently), which moves here; else a normal one here (which
    C_STATE refuses); else none, and a new account is opened. `holders` are the
    records (`schemas.master.HOLDER`) of the accounts the rows name and of the
    people they open; `events` those of their events after the earliest month.
    """
    month = effective()
    typed = rows.with_columns(month.alias("at"))
    opening = typed.filter((pl.col("change") == Change.OPEN.value) & pl.col("id_number").is_not_null())
    held = opening.select("row_no", "id_type", "id_number", "at").join(
        holders.select("member_account", "id_type", "id_number"), on=["id_type", "id_number"]
    )
    people = state_at(
        held.select(pl.format("{}/{}", "row_no", "member_account").alias("key"), "row_no", "member_account", "at"),
        holders.drop("id_type", "id_number", "name"),
        events,
    ).filter(pl.col("status").is_not_null())
    chosen = (
        people.join(typed.select("row_no", pl.col("member_account").alias("given")), on="row_no")
        .filter(pl.col("given").is_null() & pl.col("status").is_in(["sealed", "normal"]))
        .with_columns(
            pl.when(pl.col("status") == "sealed").then(0).otherwise(1).alias("rank"),
        )
        .sort(
            "row_no",
            "rank",
            pl.col("paid_through").fill_null(0),
            "member_account",
            descending=[False, False, True, True],
        )
        .unique("row_no", keep="first")
        .filter((pl.col("rank") == 0) | (pl.col("unit_account") == unit))
        .select("row_no", pl.col("member_account").alias("chosen"))
    )
    acting = (
        typed.join(chosen, on="row_no", how="left")
        .select("row_no", pl.coalesce("member_account", "chosen").alias("member_account"), "at")
        .filter(pl.col("member_account").is_not_null())
    )
    accounts = state_at(acting.with_columns(pl.col("row_no").alias("key")), holders.drop("id_type"), events)
    return (
        accounts.select(ACCOUNT_STATE.names()).cast(dict(ACCOUNT_STATE)),  # type: ignore[arg-type]
        people.select(PERSON_STATE.names()).cast(dict(PERSON_STATE)),  # type: ignore[arg-type]
    )


def roster_problems(
    rows: pl.DataFrame, accounts: pl.DataFrame, people: pl.DataFrame, ctx: ChangeContext
) -> pl.DataFrame:
    """C_STATE, C_ACTIVE_ELSEWHERE, the bounds of C_MONTH and the account, name, ID and base checks (SPEC §3.2, §4).

    `accounts` and `people` are the state in force for each row's effective
    month (`ACCOUNT_STATE`, `PERSON_STATE`, from `targets`); rows with
    context-free problems are judged all the same, so the employer sees
    everything at once.
    """
    unit = ctx.unit_account
    change, status, month = pl.col("change"), pl.col("reg_status"), effective()
    named = rows.lazy().filter(change.is_not_null()).rename({"member_account": "given"}).join(
        accounts.lazy().select(
            "row_no", pl.col("member_account").alias("acting"),
            *(pl.col(c).alias(f"reg_{c}") for c in ("unit_account", "name", "id_number", "status", "paid_through")),
            "changed_after",
        ),
        on="row_no", how="left",
    ).with_columns(pl.coalesce("acting", "given").alias("member_account"))  # fmt: skip
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
    given = pl.col("given").is_not_null()
    parts = [
        problems(named, given & pl.col("given").str.contains(ACCOUNT) & ~known, "R_ACCOUNT_UNKNOWN", "member_account",
                 pl.format("个人账号{}未登记（不存在）", found("member_account"))),
        problems(named, known & ~here & ~opening, "R_ACCOUNT_OTHER_EMPLOYER", "member_account",
                 pl.format(f"个人账号{{}}在{{}}属于单位{{}}，不属于本单位{unit}", found("member_account"),
                           pl.col("effective_month"), pl.col("reg_unit_account"))),
        problems(named, known & (status == "closed"), "R_ACCOUNT_CLOSED", "member_account",
                 pl.format("个人账号{}已销户，不能办理变更", found("member_account"))),
        problems(named, known & (pl.col("name") != pl.col("reg_name")), "R_NAME_MISMATCH", "name",
                 pl.format("姓名应为登记的“{}”，实际为{}", pl.col("reg_name"), found("name"))),
        problems(named, known & pl.col("id_number").is_not_null() & (pl.col("id_number") != pl.col("reg_id_number")),
                 "R_ID_MISMATCH", "id_number",
                 pl.format("证件号码应为登记的{}，实际为{}", mask_id(pl.col("reg_id_number")), mask_id(pl.col("id_number")))),
        problems(named, known & (here | opening) & wrong_state, "C_STATE", "change_type",
                 pl.format("{}（个人账号{}）与账户在{}的状态“{}”不符", change.replace_strict(dict(CHANGE_LABELS), default=change),
                           pl.col("member_account"), pl.col("effective_month"), state_words)),
        problems(named, known & month.is_not_null() & (month <= pl.col("reg_paid_through")), "C_MONTH", "effective_month",
                 pl.format("生效年月应晚于该职工的缴至年月{}，实际为{}", pl.col("reg_paid_through"), pl.col("effective_month"))),
        problems(named, known & pl.col("changed_after").is_not_null(), "C_MONTH", "effective_month",
                 pl.format("生效年月应不早于该账户最近一次变更的生效年月{}，实际为{}（变更只能按月份先后办理）",
                           pl.col("changed_after"), pl.col("effective_month"))),
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
    base = pl.col("base_fen")
    for b in ctx.bounds:
        in_period = month.is_between(b.first_month, b.last_month)
        parts.append(
            problems(lazy, in_period & base.is_not_null() & ((base < b.floor_fen) | (base > b.cap_fen)), "R_BASE_RANGE", "base",
                     pl.format(f"缴存基数应在{b.floor_fen // 100}元至{b.cap_fen // 100}元之间（{{}}的缴存政策），实际为{{}}元",
                               pl.col("effective_month"), pl.col("base")))
        )  # fmt: skip
    return ordered(pl.concat([EMPTY.lazy(), *parts], how="vertical_relaxed").collect())  # one C_MONTH a row


# ------------------------------------------------------------ what applying does

TRANSITION = pl.Schema(
    {
        "row_no": pl.Int64,
        "member_account": pl.String,
        "change": pl.String,
        "month": pl.Int64,
        "reason": pl.String,
        "name": pl.String,
        "id_type": pl.String,
        "id_number": pl.String,
        "old_unit": pl.String,
        "old_status": pl.String,
        "old_base_fen": pl.Int64,
        "new_unit": pl.String,
        "new_status": pl.String,
        "new_base_fen": pl.Int64,
    }
)
"""One row's change as the database applies it: the account (null: a new one), and its state before and after."""


def transitions(rows: pl.DataFrame, accounts: pl.DataFrame, unit: str) -> pl.DataFrame:
    """Each row of a valid change list as the state it moves its account from and to (`TRANSITION`)."""
    change = pl.col("change")
    state = accounts.select(
        "row_no",
        pl.col("member_account").alias("target"),
        pl.col("unit_account").alias("old_unit"),
        pl.col("status").alias("old_status"),
        pl.col("base_fen").alias("old_base_fen"),
    )
    joined = rows.drop("member_account").join(state, on="row_no", how="left", maintain_order="left")
    moves_here = change == Change.OPEN.value
    return joined.select(
        "row_no",
        pl.col("target").alias("member_account"),
        "change",
        effective().alias("month"),
        pl.col("reason"),
        pl.col("name"),
        "id_type",
        "id_number",
        "old_unit",
        "old_status",
        "old_base_fen",
        pl.when(moves_here).then(pl.lit(unit)).otherwise(pl.col("old_unit")).alias("new_unit"),
        pl.when(change == Change.SEAL.value).then(pl.lit("sealed")).otherwise(pl.lit("normal")).alias("new_status"),
        pl.when(change == Change.SEAL.value)
        .then(pl.col("old_base_fen"))
        .otherwise(pl.col("base_fen"))
        .alias("new_base_fen"),
    ).cast(dict(TRANSITION))  # type: ignore[arg-type]
