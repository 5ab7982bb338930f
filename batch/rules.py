"""Row checks: the pandera model's failures and the rules that need context, as problem frames.

Every check returns a frame of ``row_no, code, column, message`` so a million
bad rows stay a frame, never a million objects. Messages are built with
polars expressions from the cells the employer wrote, and say what was
expected and what was found. ID numbers in messages are masked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import TypeVar

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaErrors

from batch.lookups import Employer
from batch.masking import mask_id
from batch.money import RATE_SHAPE, YUAN_SHAPE, number_problem_expr, rate_text, yuan_text
from batch.parse import TYPED_SUFFIX, typed_name
from batch.policy import ROUNDING_NAMES, Period, rounding_terms
from schemas import formats
from schemas.columns import LABEL, MONEY, RATES
from schemas.frames import ROW_PROBLEM
from schemas.ids import RIC_PROBLEMS, ric_problem_expr
from schemas.master import MEMBER
from schemas.remittance import ID_TYPES, RemittanceRow

EMPTY = ROW_PROBLEM.to_frame()


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What the rules know beyond the rows; None where it could not be established."""

    month: int | None
    unit_account: str | None
    employer: Employer | None
    period: Period | None
    rounding: str | None
    members: pl.DataFrame | None


# ------------------------------------------------------------ message pieces


SHOWN_CHARS = 40
"""A cell longer than this is echoed by its start and its length: a message stays readable."""


def found(column: str) -> pl.Expr:
    """The cell as written, quoted; `空白` for an empty cell; a long cell shortened, with its length."""
    cell = pl.col(column)
    n = cell.str.len_chars()
    return (
        pl.when(cell.is_null())
        .then(pl.lit("空白"))
        .when(n > SHOWN_CHARS + 10)
        .then(pl.format("“{}…”（共{}个字符）", cell.str.slice(0, SHOWN_CHARS), n))
        .otherwise(pl.format("“{}”", cell))
    )


_FULL_WIDTH = r"[０-９％．，－＋]"
"""Full-width digits and signs: they look like the ASCII ones in a spreadsheet and are not."""


def full_width_hint(column: str) -> pl.Expr:
    """A hint naming full-width characters in the cell, or empty text."""
    return (
        pl.when(pl.col(column).str.contains(_FULL_WIDTH))
        .then(pl.lit("（含全角字符，如“１２３”，应改为半角的“123”）"))
        .otherwise(pl.lit(""))
    )


def excel_number_hint(column: str) -> pl.Expr:
    """A hint when an ID number looks like what Excel makes of a number cell, or empty text.

    Excel keeps 15 significant digits of a number: an 18-digit ID typed into a
    number cell comes back in scientific notation (5.10107E+17, from a CSV) or as
    the digits of a binary double (an XLSX read as text), its last digits changed.
    """
    number = pl.col(column)
    value = number.cast(pl.Int64, strict=False)
    as_double = number.str.contains(r"^[0-9]{18}$") & (value.cast(pl.Float64).cast(pl.Int64) == value)
    scientific = number.str.contains(r"^[0-9](?:\.[0-9]+)?E\+?[0-9]+$")
    return (
        pl.when(scientific | as_double)
        .then(pl.lit("；疑似Excel把证件号码存成了数值（只保留15位有效数字，末几位已改变），请把该列设为文本后重新录入"))
        .otherwise(pl.lit(""))
    )


F = TypeVar("F", pl.DataFrame, pl.LazyFrame)


def _worded(frame: F, code: str, column: str, message: pl.Expr) -> F:
    """Every row of `frame` as a problem of one code and column."""
    return frame.select("row_no", pl.lit(code).alias("code"), pl.lit(column).alias("column"), message.alias("message"))


def _problems(frame: pl.LazyFrame, when: pl.Expr, code: str, column: str, message: pl.Expr) -> pl.LazyFrame:
    return _worded(frame.filter(when), code, column, message)


# ----------------------------------------------------------- schema failures

_NUMBER_WORDS = {
    "money": ("金额（如 1234.50，可带千分位逗号）", "最多两位小数"),
    "rate": ("比例（如 12%、12 或 0.12）", "比例最多精确到0.01%"),
}


def _number_message(column: str) -> pl.Expr:
    kind = "money" if column in MONEY else "rate"
    expected, decimals = _NUMBER_WORDS[kind]
    problem = number_problem_expr(pl.col(column), YUAN_SHAPE if kind == "money" else RATE_SHAPE)
    label = LABEL[column]
    return (
        pl.when(problem == "negative")
        .then(pl.format(f"“{label}”不能为负数，实际为{{}}", found(column)))
        .when(problem == "decimals")
        .then(pl.format(f"“{label}”{decimals}，实际为{{}}", found(column)))
        .otherwise(pl.format(f"“{label}”应为{expected}，实际为{{}}{{}}", found(column), full_width_hint(column)))
    )


_RIC_WORDS = pl.Series(list(RIC_PROBLEMS)), pl.Series(list(RIC_PROBLEMS.values()))

SCHEMA_MESSAGES: dict[str, Callable[[str], pl.Expr]] = {
    "R_REQUIRED": lambda c: pl.lit(f"“{LABEL[c]}”不能为空"),
    "R_NUMBER": _number_message,
    "R_ACCOUNT_FORMAT": lambda c: pl.format("个人账号应为1至20位数字，实际为{}{}", found(c), full_width_hint(c)),
    # A long cell here is usually an ID number in the wrong column: never echoed whole.
    "R_ID_TYPE": lambda c: pl.format(
        f"证件类型应为{'、'.join(ID_TYPES)}之一，实际为{{}}",
        pl.when(pl.col(c).str.len_chars() > 10).then(pl.format("“{}”", mask_id(pl.col(c)))).otherwise(found(c)),
    ),
    "R_ID_INVALID": lambda c: pl.format(
        "身份证号码{}：{}（{}位）{}",
        ric_problem_expr(pl.col(c), date.max).replace_strict(*_RIC_WORDS, default="无效"),
        mask_id(pl.col(c)),
        pl.col(c).str.len_chars(),
        excel_number_hint(c),
    ),
    "R_TOTAL": lambda c: pl.format(
        "月缴存额合计应为单位月缴存额与个人月缴存额之和{}元，实际为{}",
        yuan_text(pl.col("employer_amount_fen") + pl.col("employee_amount_fen")),
        found(c),
    ),
    "R_MONTH": lambda c: pl.format(
        "汇缴年月应为YYYYMM格式（如202611），实际为{}{}",
        found(c),
        pl.when(pl.col(c).str.contains(r"^[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}"))
        .then(pl.lit("：该单元格被设成了日期格式，请把该列设为文本后填写如202611"))
        .otherwise(pl.lit("")),
    ),
}

_RAW = {typed_name(c): c for c in TYPED_SUFFIX}


def schema_problems(
    rows: pl.DataFrame,
    model: type[pa.DataFrameModel] = RemittanceRow,
    messages: Mapping[str, Callable[[str], pl.Expr]] = MappingProxyType({}),
) -> pl.DataFrame:
    """Run a pandera model on the collected frame and word each failure (the remittance model by default).

    `messages` words each check's failures by code (the remittance words when
    empty); a failure no message words means the frame does not fit its model.
    """
    messages = messages or SCHEMA_MESSAGES
    try:
        model.validate(rows, lazy=True)
    except SchemaErrors as e:
        failures = e.failure_cases
    else:
        return EMPTY
    unexpected = failures.filter(~pl.col("check").is_in(["not_nullable", *messages]))
    if unexpected.height:
        raise RuntimeError(f"frame does not fit {model.__name__}: {unexpected.head(5)}")
    failures = failures.select(
        pl.col("index").cast(pl.Int64),
        pl.col("column").replace(_RAW).alias("column"),
        pl.col("check"),
    )
    cells = rows.with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    joined = failures.join(cells, on="index", how="left")
    parts = []
    for (column, check), group in joined.group_by("column", "check"):
        assert isinstance(column, str) and isinstance(check, str)
        if check == "not_nullable":
            # Null after parsing: an empty cell is R_REQUIRED, an unreadable one R_NUMBER.
            empty = group.filter(pl.col(column).is_null())
            parts.append(_worded(empty, "R_REQUIRED", column, messages["R_REQUIRED"](column)))
            group, check = group.filter(pl.col(column).is_not_null()), "R_NUMBER"
        if group.height:
            parts.append(_worded(group, check, column, messages[check](column)))
    problems: pl.DataFrame = pl.concat([EMPTY, *parts], how="vertical_relaxed")
    return problems


# ------------------------------------------------------------ context rules
#
# The rules run over the rows of one file or of many stacked: each row carries
# `_file` (its file's place) and `_row_no` (its row number in that file), and
# `row_no` is unique through the stack. What a rule knows of the file's
# context it reads through `Context`: literals for one file, columns joined by
# `_file` for many, null where the context could not be established, so the
# rule finds nothing there (a null condition filters the row out).

CONTEXT: Mapping[str, type[pl.DataType]] = MappingProxyType(
    {
        "month": pl.String,
        "unit": pl.String,
        "has_members": pl.Boolean,
        "employer_rate_bp": pl.Int64,
        "employee_rate_bp": pl.Int64,
        "rate_min_bp": pl.Int64,
        "rate_max_bp": pl.Int64,
        "whole_percent": pl.Boolean,
        "rates_expected": pl.String,
        "base_floor_fen": pl.Int64,
        "base_cap_fen": pl.Int64,
        "base_bounds": pl.String,
        "round_unit": pl.Int64,
        "round_big": pl.Int64,
        "round_offset": pl.Int64,
        "rounding_name": pl.String,
    }
)


def context_values(ctx: RuleContext) -> dict[str, object]:
    """A file's context as the values the rules compare with and quote; None where a rule does not apply."""
    e, p, month = ctx.employer, ctx.period, ctx.month
    values: dict[str, object] = dict.fromkeys(CONTEXT)
    values["month"] = None if month is None else str(month)
    values["unit"] = ctx.unit_account
    values["has_members"] = ctx.members is not None and ctx.unit_account is not None
    if e is not None:
        values["employer_rate_bp"], values["employee_rate_bp"] = e.employer_rate_bp, e.employee_rate_bp
        if ctx.rounding is not None:
            unit, big, offset = rounding_terms(ctx.rounding)
            values.update(round_unit=unit, round_big=big, round_offset=offset)
            values["rounding_name"] = ROUNDING_NAMES[ctx.rounding]
    if p is not None:
        whole = "整数" if p.whole_percent else ""
        values.update(rate_min_bp=p.rate_min_bp, rate_max_bp=p.rate_max_bp, whole_percent=p.whole_percent)
        values["rates_expected"] = f"应为{p.rate_min_bp // 100}%至{p.rate_max_bp // 100}%之间的{whole}百分比"
        if e is not None and e.wage_tier in p.base_floor_fen:
            floor, cap = p.base_floor_fen[e.wage_tier], p.base_cap_fen
            values.update(base_floor_fen=floor, base_cap_fen=cap)
            values["base_bounds"] = f"{floor // 100}元至{cap // 100}元之间（{month}，{e.wage_tier}类工资地区）"
    return values


@dataclass(frozen=True, slots=True)
class Context:
    """The files' context as expressions: `literals` for one file, else the `ctx_*` columns."""

    literals: Mapping[str, object] | None = None

    def __call__(self, name: str) -> pl.Expr:
        if self.literals is None:
            return pl.col(f"ctx_{name}")
        return pl.lit(self.literals[name], dtype=CONTEXT[name])


def duplicate_accounts(rows: pl.LazyFrame, members: pl.LazyFrame, c: Context) -> pl.LazyFrame:
    """R_DUPLICATE: every row of an account that appears more than once in its file."""
    dup = rows.filter(pl.col("member_account").is_not_null() & (pl.len().over("_file", "member_account") > 1))
    dup = dup.with_columns(pl.col("_row_no").implode().over("_file", "member_account").alias("rows"))
    listing = pl.col("rows").list.eval(pl.element().cast(pl.String)).list.join("、")
    return _problems(
        dup,
        pl.lit(True),
        "R_DUPLICATE",
        "member_account",
        pl.format("个人账号{}在第{}行重复出现，每个职工只能有一行", found("member_account"), listing),
    )


def row_month(rows: pl.LazyFrame, members: pl.LazyFrame, c: Context) -> pl.LazyFrame:
    """R_MONTH: a row's month that differs from the file name's."""
    m = pl.col("contribution_month")
    return _problems(
        rows,
        m.str.contains(formats.MONTH) & (m != c("month")),
        "R_MONTH",
        "contribution_month",
        pl.format("汇缴年月应与文件名一致，为{}，实际为{}", c("month"), found("contribution_month")),
    )


def policy_rates(rows: pl.LazyFrame, members: pl.LazyFrame, c: Context) -> pl.LazyFrame:
    """R_RATE_RANGE: a rate outside the period's range, or not a whole percent when required."""
    parts = []
    for column in RATES:
        bp = pl.col(typed_name(column))
        bad = (bp < c("rate_min_bp")) | (bp > c("rate_max_bp")) | (c("whole_percent") & (bp % 100 != 0))
        message = pl.format(f"“{LABEL[column]}”{{}}，实际为{{}}", c("rates_expected"), rate_text(bp))
        parts.append(_problems(rows, bad, "R_RATE_RANGE", column, message))
    return pl.concat(parts)


def policy_base(rows: pl.LazyFrame, members: pl.LazyFrame, c: Context) -> pl.LazyFrame:
    """R_BASE_RANGE: a base under the floor of the employer's wage tier or over the cap."""
    base = pl.col("base_fen")
    return _problems(
        rows,
        (base < c("base_floor_fen")) | (base > c("base_cap_fen")),
        "R_BASE_RANGE",
        "base",
        pl.format("缴存基数应在{}，实际为{}元", c("base_bounds"), yuan_text(base)),
    )


def amounts(rows: pl.LazyFrame, members: pl.LazyFrame, c: Context) -> pl.LazyFrame:
    """R_AMOUNT: a part that is not base × rate rounded by the employer's method (`batch.policy.round_amount`)."""
    parts = []
    for amount, rate in (("employer_amount", "employer_rate"), ("employee_amount", "employee_rate")):
        bp, fen, base = pl.col(typed_name(rate)), pl.col(typed_name(amount)), pl.col("base_fen")
        due = ((base * bp.clip(0, 10_000) + c("round_offset")) // c("round_big")) * c("round_unit")
        message = pl.format(
            f"“{LABEL[amount]}”应为缴存基数{{}}元×{{}}按“{{}}”计算，即{{}}元，实际为{{}}元",
            yuan_text(base),
            rate_text(bp),
            c("rounding_name"),
            yuan_text(due),
            yuan_text(fen),
        )
        parts.append(_problems(rows, fen != due, "R_AMOUNT", amount, message))
    return pl.concat(parts)


def employer_rates(rows: pl.LazyFrame, members: pl.LazyFrame, c: Context) -> pl.LazyFrame:
    """R_RATE_MISMATCH: a rate that is not the employer's registered rate."""
    parts = []
    for column in RATES:
        bp, registered = pl.col(typed_name(column)), c(typed_name(column))
        message = pl.format(f"“{LABEL[column]}”应为单位登记的{{}}，实际为{{}}", rate_text(registered), rate_text(bp))
        parts.append(_problems(rows, bp != registered, "R_RATE_MISMATCH", column, message))
    return pl.concat(parts)


def member_records(rows: pl.LazyFrame, members: pl.LazyFrame, c: Context) -> pl.LazyFrame:
    """Account, status, name, ID and base against the registered member."""
    reg = members.rename(lambda n: n if n in ("_file", "member_account") else f"reg_{n}")
    checked = rows.filter(c("has_members") & pl.col("member_account").str.contains(formats.ACCOUNT))
    j = checked.join(reg, on=["_file", "member_account"], how="left")
    known, ours = pl.col("reg_unit_account").is_not_null(), pl.col("reg_unit_account") == c("unit")
    return pl.concat(
        [
            _problems(
                j,
                ~known,
                "R_ACCOUNT_UNKNOWN",
                "member_account",
                pl.format("个人账号{}未登记（不存在）", found("member_account")),
            ),
            _problems(
                j,
                known & ~ours,
                "R_ACCOUNT_OTHER_EMPLOYER",
                "member_account",
                pl.format(
                    "个人账号{}属于单位{}，不属于本单位{}",
                    found("member_account"),
                    pl.col("reg_unit_account"),
                    c("unit"),
                ),
            ),
            _problems(
                j,
                ours & (pl.col("reg_status") == "sealed"),
                "R_ACCOUNT_SEALED",
                "member_account",
                pl.format("个人账号{}已封存，须先办理启封", found("member_account")),
            ),
            _problems(
                j,
                ours & (pl.col("reg_status") == "closed"),
                "R_ACCOUNT_CLOSED",
                "member_account",
                pl.format("个人账号{}已销户，不能缴存", found("member_account")),
            ),
            _problems(
                j,
                ours & (pl.col("name") != pl.col("reg_name")),
                "R_NAME_MISMATCH",
                "name",
                pl.format(
                    "姓名应为登记的“{}”，实际为{}{}",
                    pl.col("reg_name"),
                    found("name"),
                    pl.when(pl.col("name").str.contains(r"[?？]"))
                    .then(pl.lit("：“?”多半是生僻字在另存为GBK等旧编码时丢失了，请用UTF-8编码保存文件"))
                    .otherwise(pl.lit("")),
                ),
            ),
            _problems(
                j,
                ours & (pl.col("id_number") != pl.col("reg_id_number")),
                "R_ID_MISMATCH",
                "id_number",
                pl.format(
                    "证件号码应为登记的{}，实际为{}", mask_id(pl.col("reg_id_number")), mask_id(pl.col("id_number"))
                ),
            ),
            _problems(
                j,
                ours & (pl.col("base_fen") != pl.col("reg_base_fen")),
                "R_BASE_MISMATCH",
                "base",
                pl.format(
                    "缴存基数应为登记的{}元，实际为{}元",
                    yuan_text(pl.col("reg_base_fen")),
                    yuan_text(pl.col("base_fen")),
                ),
            ),
        ]
    )


SUGGEST_FROM = 200_000
"""Up to this many members, a mistyped account is matched to the roster one digit at a time."""


def with_suggestions(problems: pl.DataFrame, rows: pl.DataFrame, contexts: Sequence[RuleContext]) -> pl.DataFrame:
    """R_ACCOUNT_UNKNOWN messages with the roster member the row probably means ("是否为 …？").

    The same ID number first, then an account one digit off (a typo), then the
    same name: set-based joins over the few unknown rows, run only when there
    are any, against the rosters of the files that have them.
    """
    unknown_rows = problems.filter(pl.col("code") == "R_ACCOUNT_UNKNOWN").select("row_no")
    if unknown_rows.height == 0:
        return problems
    unknown = rows.join(unknown_rows, on="row_no").select("row_no", "_file", "member_account", "name", "id_number")
    rosters, typos = [], []
    for n in unknown["_file"].unique().to_list():
        ctx = contexts[n]
        if ctx.members is None or ctx.unit_account is None:
            continue
        rosters.append(ctx.members.lazy().filter(pl.col("unit_account") == ctx.unit_account).with_columns(_file=n))
        if ctx.members.height <= SUGGEST_FROM:
            typos.append(n)
    if not rosters:
        return problems
    roster = pl.concat(rosters).select(
        pl.col("_file").cast(pl.Int32), pl.col("member_account").alias("account_r"), pl.col("name").alias("name_r"),
        "id_number",
    )  # fmt: skip
    lazy = unknown.lazy()
    by_id = lazy.join(roster, on=["_file", "id_number"]).select(
        "row_no", "account_r", "name_r", pl.lit(0).alias("rank")
    )
    by_name = lazy.join(roster, left_on=["_file", "name"], right_on=["_file", "name_r"]).select(
        "row_no", "account_r", pl.col("name").alias("name_r"), pl.lit(2).alias("rank")
    )
    parts = [by_id, by_name]
    if typos:
        typo = _blanked(lazy.filter(pl.col("_file").is_in(typos)), "member_account").join(
            _blanked(roster, "account_r"), on=["_file", "pattern"]
        )
        parts.append(typo.select("row_no", "account_r", "name_r", pl.lit(1).alias("rank")))
    best = (
        pl.concat(parts, how="vertical_relaxed")
        .sort("row_no", "rank", "account_r")
        .unique("row_no", keep="first")
        .select(
            "row_no",
            pl.lit("R_ACCOUNT_UNKNOWN").alias("code"),
            pl.format("；是否为 {}（{}）？", "account_r", "name_r").alias("hint"),
        )
        .collect()
    )
    return (
        problems.join(best, on=["row_no", "code"], how="left", maintain_order="left")
        .with_columns(pl.concat_str("message", pl.col("hint").fill_null("")).alias("message"))
        .drop("hint")
    )


def _blanked(frame: pl.LazyFrame, column: str) -> pl.LazyFrame:
    """Each account once per digit, that digit replaced by `?`: two accounts one digit apart share a pattern."""
    n = pl.col(column).str.len_chars()
    at = pl.col("at")
    return (
        frame.with_columns(pl.int_ranges(0, n).alias("at"))
        .explode("at")
        .with_columns((pl.col(column).str.slice(0, at) + "?" + pl.col(column).str.slice(at + 1)).alias("pattern"))
    )


Rule = Callable[[pl.LazyFrame, pl.LazyFrame, Context], pl.LazyFrame]

RULES: tuple[Rule, ...] = (
    duplicate_accounts,
    row_month,
    member_records,
    employer_rates,
    policy_rates,
    policy_base,
    amounts,
)


def row_problems_of_many(files: Sequence[tuple[pl.DataFrame, RuleContext]]) -> list[pl.DataFrame]:
    """Every row problem of each file, sorted by row and column order, with the row's member account.

    The files' rows are stacked and the pandera model and each rule run once
    over the stack, the files' contexts joined as columns: for a file of a few
    dozen rows a run costs more than everything else the file needs. Each
    file's problems are exactly those it has alone.
    """
    contexts = [ctx for _, ctx in files]
    tagged = [
        r.with_columns(pl.lit(n, pl.Int32).alias("_file"), pl.col("row_no").alias("_row_no"))
        for n, (r, _) in enumerate(files)
    ]
    members = [
        (MEMBER.to_frame() if ctx.members is None else ctx.members).with_columns(pl.lit(n, pl.Int32).alias("_file"))
        for n, ctx in enumerate(contexts)
    ]
    if len(files) == 1:
        stacked, c = tagged[0], Context(context_values(contexts[0]))
        stacked_members = members[0]
    else:
        table = pl.DataFrame(
            [{"_file": n, **{f"ctx_{k}": v for k, v in context_values(ctx).items()}} for n, ctx in enumerate(contexts)],
            schema={"_file": pl.Int32, **{f"ctx_{k}": t for k, t in CONTEXT.items()}},
        )
        stacked = (
            pl.concat(tagged, how="diagonal_relaxed")
            .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row_no"))
            .join(table, on="_file", how="left", maintain_order="left")
        )
        stacked_members, c = pl.concat(members, how="diagonal_relaxed"), Context()
    lazy, lazy_members = stacked.lazy(), stacked_members.lazy()
    # Collected together: polars runs the rules in parallel and shares their scans.
    found_ = [schema_problems(stacked), *pl.collect_all([rule(lazy, lazy_members, c) for rule in RULES])]
    problems = with_suggestions(pl.concat([EMPTY, *found_], how="vertical_relaxed"), stacked, contexts)
    order = {column: i for i, column in enumerate(LABEL)}
    every = (
        problems.join(stacked.select("row_no", "_file", "_row_no", "member_account"), on="row_no", how="left")
        .with_columns(pl.col("column").replace_strict(order, default=len(order)).alias("_order"))
        .sort("_file", "_row_no", "_order", "code")
        .with_columns(pl.col("_row_no").alias("row_no"))
        .select("_file", *ROW_PROBLEM.names(), "member_account")
    )
    if len(files) == 1:
        return [every.drop("_file")]
    by_file = every.partition_by("_file", as_dict=True, include_key=False)
    empty = every.clear().drop("_file")
    return [by_file.get((n,), empty) for n in range(len(files))]
