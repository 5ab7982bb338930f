"""Master data files (SPEC §8): `employers.csv` and `members.csv` -> frames ready to store.

Every bad line is reported with its line number, column and what was expected;
the caller imports nothing if there is any. Members are checked with polars
expressions (a centre has millions); employers are few and checked one by one.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date

import polars as pl

from batch.money import parse_rate, yuan_expr
from batch.policy import ROUNDING_METHODS
from batch.read import decode_text
from schemas import formats
from schemas.codes import Problem
from schemas.formats import valid_month
from schemas.ids import ric_problem_expr, uscc_problem
from schemas.master import EMPLOYER_COLUMNS, EMPLOYER_ROWS, MEMBER_COLUMNS
from schemas.remittance import ID_TYPES
from schemas.statuses import EMPLOYER_STATUSES, MEMBER_STATUSES

_CONTROL = r"[\x00-\x1f\x7f]"
"""Control characters have no place in a name, and the bulk reader relies on their absence."""


def _read(data: bytes, source: str, columns: tuple[str, ...]) -> pl.DataFrame | list[Problem]:
    """Text cells with a `line` column (header = line 1), or why the file cannot be read."""
    bom = data.startswith(b"\xef\xbb\xbf")
    decoded = decode_text(data[3:] if bom else data, bom)
    if isinstance(decoded, Problem):
        return [Problem("M_FILE", decoded.message, source=source)]
    text, _ = decoded
    try:
        frame = pl.read_csv(text.encode("utf-8"), infer_schema=False, has_header=True)
    except (pl.exceptions.PolarsError, OSError) as e:
        return [Problem("M_FILE", f"不是可读取的CSV文件：{str(e).splitlines()[0][:120]}", source=source)]
    frame = frame.rename(lambda c: c.strip())
    problems = [Problem("M_COLUMNS", "缺少该列", 1, c, source=source) for c in columns if c not in frame.columns]
    problems += [
        Problem("M_COLUMNS", f"未知的列（应为：{','.join(columns)}）", 1, c, source=source)
        for c in frame.columns
        if c not in columns
    ]
    if problems:
        return problems
    cells = frame.select(
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("line"),
        *(pl.col(c).str.strip_chars().replace("", None).alias(c) for c in columns),
    )
    return cells


def _problem_frame(frame: pl.DataFrame, checks: list[tuple[str, pl.Expr, pl.Expr]]) -> pl.DataFrame:
    """(column, failing condition, message) -> one line per failure."""
    parts = [
        frame.filter(bad).select("line", pl.lit(col).alias("column"), msg.alias("message")) for col, bad, msg in checks
    ]
    return pl.concat(parts).sort("line", "column")


def _quoted(column: str) -> pl.Expr:
    return pl.when(pl.col(column).is_null()).then(pl.lit("空白")).otherwise(pl.format("“{}”", pl.col(column)))


def _duplicates(key: str) -> tuple[pl.Expr, pl.Expr]:
    """Every line repeating an earlier line's key, and a message naming that line."""
    first = pl.col("line").min().over(key)
    return (pl.col(key).is_not_null() & (pl.col("line") != first)), pl.format(f"{key}与第{{}}行重复", first)


def parse_members(data: bytes, source: str, known_units: Collection[str], today: date) -> pl.DataFrame | list[Problem]:
    """members.csv -> rows for the members table, or every bad line."""
    cells = _read(data, source, MEMBER_COLUMNS)
    if isinstance(cells, list):
        return cells
    c = pl.col
    base = yuan_expr(c("base"))
    dup, dup_msg = _duplicates("member_account")
    units = list(known_units)
    id_problem = ric_problem_expr(c("id_number").str.to_uppercase(), today)
    problems = _problem_frame(
        cells,
        [
            (
                "member_account",
                ~c("member_account").str.contains(formats.ACCOUNT).fill_null(False),
                pl.format("个人账号应为1至20位数字，实际为{}", _quoted("member_account")),
            ),
            ("member_account", dup, dup_msg),
            (
                "unit_account",
                ~c("unit_account").is_in(units).fill_null(False),
                pl.format("单位账号{}未登记（不在本次导入的employers.csv中，也不在数据库中）", _quoted("unit_account")),
            ),
            ("name", c("name").is_null(), pl.lit("姓名不能为空")),
            ("name", c("name").str.contains(_CONTROL).fill_null(False), pl.lit("姓名含有控制字符（如换行、制表符）")),
            ("id_number", c("id_number").str.contains(_CONTROL).fill_null(False), pl.lit("证件号码含有控制字符")),
            (
                "id_type",
                ~c("id_type").is_in(list(ID_TYPES)).fill_null(False),
                pl.format(f"证件类型应为{'、'.join(ID_TYPES)}之一，实际为{{}}", _quoted("id_type")),
            ),
            ("id_number", c("id_number").is_null(), pl.lit("证件号码不能为空")),
            (
                "id_number",
                (c("id_type") == "01") & id_problem.is_not_null(),
                pl.format("身份证号码无效（{}）", id_problem),
            ),
            ("base", base.is_null(), pl.format("缴存基数应为不超过两位小数的非负金额，实际为{}", _quoted("base"))),
            (
                "status",
                ~c("status").is_in(list(MEMBER_STATUSES)).fill_null(False),
                pl.format(f"状态应为{'、'.join(MEMBER_STATUSES)}之一，实际为{{}}", _quoted("status")),
            ),
            (
                "paid_through",
                c("paid_through").is_not_null() & ~c("paid_through").str.contains(formats.MONTH),
                pl.format("缴至年月应为YYYYMM或空白，实际为{}", _quoted("paid_through")),
            ),
        ],
    )
    if problems.height:
        return [
            Problem("M_VALUE", r["message"], r["line"], r["column"], source=source)
            for r in problems.iter_rows(named=True)
        ]
    return cells.select(
        "member_account",
        "unit_account",
        "name",
        "id_type",
        c("id_number").str.to_uppercase(),
        base.alias("base_fen"),
        "status",
        c("paid_through").cast(pl.Int32),
    )


def parse_employers(data: bytes, source: str) -> pl.DataFrame | list[Problem]:
    """employers.csv -> rows for the employers table, or every bad line."""
    cells = _read(data, source, EMPLOYER_COLUMNS)
    if isinstance(cells, list):
        return cells
    problems: list[Problem] = []
    rows: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for r in cells.iter_rows(named=True):
        line, bad = r["line"], []
        unit = r["unit_account"] or ""
        if not re.fullmatch(formats.ACCOUNT, unit):
            bad.append(("unit_account", f"单位账号应为1至20位数字，实际为“{unit}”"))
        elif unit in seen:
            bad.append(("unit_account", f"单位账号与第{seen[unit]}行重复"))
        seen.setdefault(unit, line)
        if not r["name"]:
            bad.append(("name", "单位名称不能为空"))
        why = uscc_problem(r["credit_code"] or "")
        if why:
            bad.append(("credit_code", f"统一社会信用代码{why}"))
        if r["status"] not in EMPLOYER_STATUSES:
            bad.append(("status", f"单位状态应为{'、'.join(EMPLOYER_STATUSES)}之一，实际为“{r['status'] or ''}”"))
        rates = {}
        for col in ("employer_rate", "employee_rate"):
            bp = parse_rate(r[col] or "")
            if bp is None or not 0 < bp <= 10_000:
                bad.append((col, f"缴存比例应为大于0且不超过100%的比例（如12%），实际为“{r[col] or ''}”"))
            rates[col] = bp
        tier = r["wage_tier"] or ""
        if not re.fullmatch(r"[1-9]", tier):
            bad.append(("wage_tier", f"工资地区类别应为1至9的整数，实际为“{tier}”"))
        if r["rounding"] and r["rounding"] not in ROUNDING_METHODS:
            bad.append(("rounding", f"取整方式应为空白或{'、'.join(ROUNDING_METHODS)}之一，实际为“{r['rounding']}”"))
        paid = r["paid_through"]
        if paid and not (re.fullmatch(r"[0-9]{6}", paid) and valid_month(int(paid))):
            bad.append(("paid_through", f"缴至年月应为YYYYMM或空白，实际为“{paid}”"))
        problems += [Problem("M_VALUE", msg, line, col, source=source) for col, msg in bad]
        if not bad:
            rows.append(
                {
                    "unit_account": unit,
                    "name": r["name"],
                    "credit_code": r["credit_code"].upper(),
                    "status": r["status"],
                    "employer_rate_bp": rates["employer_rate"],
                    "employee_rate_bp": rates["employee_rate"],
                    "wage_tier": int(tier),
                    "rounding": r["rounding"],
                    "paid_through": int(paid) if paid else None,
                }
            )
    if problems:
        return problems
    return pl.DataFrame(
        rows,
        schema=EMPLOYER_ROWS,
    )
