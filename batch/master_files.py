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

from batch.money import format_yuan, parse_rate, yuan_expr
from batch.policy import ROUNDING_METHODS
from batch.read import decode_text
from schemas import formats
from schemas.codes import Problem
from schemas.formats import valid_month
from schemas.ids import RIC_PROBLEMS, ric_problem_expr, uscc_problem
from schemas.master import EMPLOYER_COLUMNS, EMPLOYER_ROWS, MEMBER_COLUMNS
from schemas.remittance import ID_TYPES
from schemas.sizes import EMPLOYER_NAME_CHARS, ID_CHARS, NAME_CHARS
from schemas.statuses import EMPLOYER_STATUSES, MEMBER_STATUSES

_CONTROL = r"[\x00-\x1f\x7f]"
"""Control characters have no place in a name, and the bulk reader relies on their absence."""


def _read(
    data: bytes, source: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> pl.DataFrame | list[Problem]:
    """Text cells with a `line` column (header = line 1), or why the file cannot be read.

    An `optional` column may be left out: it is then empty on every line.
    """
    bom = data.startswith(b"\xef\xbb\xbf")
    decoded = decode_text(data[3:] if bom else data, bom)
    if isinstance(decoded, Problem):
        return [Problem("M_FILE", decoded.message, source=source)]
    text, _ = decoded
    if not text.strip():
        return [Problem("M_FILE", f"文件为空：应有表头行（{','.join(columns)}）和数据行", source=source)]
    try:
        frame = pl.read_csv(text.encode("utf-8"), infer_schema=False, has_header=True)
    except (pl.exceptions.PolarsError, OSError) as e:
        # polars says why in English: shown after our own words, for whoever reports it.
        return [Problem("M_FILE", f"不是可读取的CSV文件（{str(e).splitlines()[0][:120]}）", source=source)]
    frame = frame.rename(lambda c: c.strip())
    problems = [Problem("M_COLUMNS", "缺少该列", 1, c, source=source) for c in columns if c not in frame.columns]
    problems += [
        Problem("M_COLUMNS", f"未知的列（应为：{','.join(columns + optional)}）", 1, c, source=source)
        for c in frame.columns
        if c not in columns + optional
    ]
    if problems:
        return problems
    frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in optional if c not in frame.columns)
    cells = frame.select(
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("line"),
        *(pl.col(c).str.strip_chars().replace("", None).alias(c) for c in columns + optional),
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


def _duplicates(cells: pl.DataFrame, key: str, label: str) -> tuple[pl.DataFrame, pl.Expr, pl.Expr]:
    """Every line repeating an earlier line's key, and a message naming that first line.

    The first line is found over the whole file before any filtering, so a
    repeat never names itself.
    """
    cells = cells.with_columns(pl.col("line").min().over(key).alias("_first"))
    bad = pl.col(key).is_not_null() & (pl.col("line") != pl.col("_first"))
    return cells, bad, pl.format(f"{label}“{{}}”与第{{}}行重复", pl.col(key), pl.col("_first"))


def parse_members(data: bytes, source: str, known_units: Collection[str], today: date) -> pl.DataFrame | list[Problem]:
    """members.csv -> rows for the members table, or every bad line."""
    cells = _read(data, source, MEMBER_COLUMNS)
    if isinstance(cells, list):
        return cells
    c = pl.col
    base = yuan_expr(c("base"))
    cells, dup, dup_msg = _duplicates(cells, "member_account", "个人账号")
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
                "name",
                c("name").str.len_chars().fill_null(0) > NAME_CHARS,
                pl.format(f"姓名应不超过{NAME_CHARS}个字符，实际为{{}}个", c("name").str.len_chars()),
            ),
            (
                "id_number",
                c("id_number").str.len_chars().fill_null(0) > ID_CHARS,
                pl.format(f"证件号码应不超过{ID_CHARS}个字符，实际为{{}}个", c("id_number").str.len_chars()),
            ),
            (
                "id_type",
                ~c("id_type").is_in(list(ID_TYPES)).fill_null(False),
                pl.format(f"证件类型应为{'、'.join(ID_TYPES)}之一，实际为{{}}", _quoted("id_type")),
            ),
            ("id_number", c("id_number").is_null(), pl.lit("证件号码不能为空")),
            (
                "id_number",
                (c("id_type") == "01") & id_problem.is_not_null(),
                pl.format("身份证号码无效：{}", id_problem.replace_strict(RIC_PROBLEMS, default=id_problem)),
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
        "line",
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
    cells = _read(data, source, EMPLOYER_COLUMNS, optional=("payer_account",))
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
            bad.append(("unit_account", f"单位账号“{unit}”与第{seen[unit]}行重复"))
        seen.setdefault(unit, line)
        if not r["name"]:
            bad.append(("name", "单位名称不能为空"))
        elif len(r["name"]) > EMPLOYER_NAME_CHARS:
            bad.append(("name", f"单位名称应不超过{EMPLOYER_NAME_CHARS}个字符，实际为{len(r['name'])}个"))
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
        payer = r["payer_account"]
        if payer and not re.fullmatch(r"[0-9]{1,40}", payer):
            bad.append(("payer_account", f"付款账号应为空白或1至40位数字，实际为“{payer}”"))
        problems += [Problem("M_VALUE", msg, line, col, source=source) for col, msg in bad]
        if not bad:
            rows.append(
                {
                    "line": line,
                    "unit_account": unit,
                    "name": r["name"],
                    "credit_code": r["credit_code"].upper(),
                    "status": r["status"],
                    "employer_rate_bp": rates["employer_rate"],
                    "employee_rate_bp": rates["employee_rate"],
                    "wage_tier": int(tier),
                    "rounding": r["rounding"],
                    "paid_through": int(paid) if paid else None,
                    "payer_account": payer,
                }
            )
    if problems:
        return problems
    return pl.DataFrame(
        rows,
        schema={"line": pl.Int64, **EMPLOYER_ROWS},
    )


EXISTING_EMPLOYERS = pl.Schema(
    {"unit_account": pl.String, "credit_code": pl.String, "status": pl.String, "paid_through": pl.Int64,
     "touched": pl.Boolean}
)  # fmt: skip
"""What import must know of the employers already stored (`touched`: a standing batch posted for it)."""

EXISTING_MEMBERS = pl.Schema(
    {"member_account": pl.String, "unit_account": pl.String, "id_type": pl.String, "id_number": pl.String,
     "status": pl.String, "base_fen": pl.Int64, "paid_through": pl.Int64, "touched": pl.Boolean}
)  # fmt: skip
"""What import must know of the members already stored (`touched`: a standing deposit, or a change list's event)."""

_OWNED = {"status": "状态", "base_fen": "缴存基数", "paid_through": "缴至年月", "unit_account": "所属单位"}
_CSV_COLUMN = {"status": "status", "base_fen": "base", "paid_through": "paid_through", "unit_account": "unit_account"}


def conflicts(
    employer_rows: pl.DataFrame | None,
    member_rows: pl.DataFrame | None,
    existing_employers: pl.DataFrame,
    existing_members: pl.DataFrame,
    *,
    sources: tuple[str, str] = ("employers.csv", "members.csv"),
) -> list[Problem]:
    """Lines that would contradict the ledger or the stored data (SPEC §8), judged against what is stored.

    The ledger owns status, base and paid-through month once a batch touched
    an employer or member: import may not move them ("use a change list").
    A credit code or an active person belongs to one employer, and an account
    that differs from a stored one only by leading zeros is a spreadsheet's
    doing, not a new account.
    """
    problems: list[Problem] = []
    if employer_rows is not None and employer_rows.height:
        problems += _owned(employer_rows, existing_employers, "unit_account", ("status", "paid_through"), sources[0])
        problems += _held_elsewhere(
            employer_rows, existing_employers, "credit_code", "unit_account", "unit_account", sources[0],
            "统一社会信用代码{}已属于单位{}，一个信用代码只能登记一个单位",
        )  # fmt: skip
        problems += _leading_zeros(employer_rows, existing_employers, "unit_account", "单位账号", sources[0])
    if member_rows is not None and member_rows.height:
        problems += _owned(
            member_rows,
            existing_members,
            "member_account",
            ("unit_account", "status", "base_fen", "paid_through"),
            sources[1],
        )
        problems += _held_elsewhere(
            member_rows.filter(pl.col("status") == "normal"), existing_members.filter(pl.col("status") == "normal"),
            "id_number", "unit_account", "member_account", sources[1],
            "证件号码{}已在单位{}有正常状态的账户，同一人只能在一个单位正常缴存（请原单位先办理封存）",
        )  # fmt: skip
        problems += _leading_zeros(member_rows, existing_members, "member_account", "个人账号", sources[1])
    return sorted(problems, key=lambda p: (p.source or "", p.row_no or 0, p.column or ""))


def _owned(rows: pl.DataFrame, stored: pl.DataFrame, key: str, owned: tuple[str, ...], source: str) -> list[Problem]:
    """A touched record whose ledger-owned field would change."""
    touched = rows.join(stored.filter("touched"), on=key, suffix="_stored")
    found = []
    for col in owned:
        differs = touched.filter(pl.col(col).ne_missing(pl.col(f"{col}_stored")))
        for r in differs.iter_rows(named=True):
            now, wanted = _shown(col, r[f"{col}_stored"]), _shown(col, r[col])
            found.append(
                Problem(
                    "M_VALUE",
                    f"{r[key]}已有入账或人员变更记录，{_OWNED[col]}由业务办理决定（现为{now}），导入不能改为{wanted}："
                    "请改回现值，或通过变更清册办理",
                    r["line"],
                    _CSV_COLUMN[col],
                    source=source,
                )
            )
    return found


def _shown(column: str, value: object) -> str:
    if value is None:
        return "空白"
    if column == "base_fen":
        return f"{format_yuan(int(str(value)))}元"
    return str(value)


def _held_elsewhere(
    rows: pl.DataFrame,
    holders: pl.DataFrame,
    value: str,
    owner: str,
    key: str,
    source: str,
    message: str,
) -> list[Problem]:
    """Lines whose `value` is already held (by a stored holder or an earlier line) under a different `owner`.

    `key` is the record's own identity: a member account, where one employer
    may hold several people; for employers the owner is the key.
    """
    if rows.height == 0:
        return []
    columns = list(dict.fromkeys((value, owner, key)))
    stored_holders = holders.select(columns)
    incoming = rows.select("line", *columns)
    # Stored holders that this import does not re-state, and the import's own lines.
    others = pl.concat(
        [
            stored_holders.join(incoming.select(key), on=key, how="anti").with_columns(
                pl.lit(None, pl.Int64).alias("line")
            ),
            incoming,
        ],
        how="diagonal_relaxed",
    )
    clash = (
        incoming.join(others, on=value, suffix="_other")
        .filter(pl.col(f"{owner}_other") != pl.col(owner))
        # Between two lines of the file, the later one is at fault.
        .filter(pl.col("line_other").is_null() | (pl.col("line_other") < pl.col("line")))
        .group_by("line", value)
        .agg(pl.col(f"{owner}_other").min(), pl.col("line_other").min())
        .sort("line")
    )
    return [
        Problem(
            "M_VALUE",
            message.format(r[value], r[f"{owner}_other"])
            + (f"（见第{r['line_other']}行）" if r["line_other"] is not None else ""),
            r["line"],
            value,
            source=source,
        )
        for r in clash.iter_rows(named=True)
    ]


def _leading_zeros(rows: pl.DataFrame, stored: pl.DataFrame, key: str, label: str, source: str) -> list[Problem]:
    """A line whose account is a stored (or earlier line's) account with its leading zeros dropped, or added."""
    stripped = pl.col(key).str.strip_chars_start("0")
    known = pl.concat(
        [stored.select(key, pl.lit(None, pl.Int64).alias("line")), rows.select(key, "line")]
    ).with_columns(stripped.alias("digits"))
    clash = (
        rows.select("line", key)
        .with_columns(stripped.alias("digits"))
        .join(known, on="digits", suffix="_other")
        .filter(pl.col(f"{key}_other") != pl.col(key))
        .filter(pl.col("line_other").is_null() | (pl.col("line_other") < pl.col("line")))
        .group_by("line", key)
        .agg(pl.col(f"{key}_other").min())
        .sort("line")
    )
    return [
        Problem(
            "M_VALUE",
            f"{label}“{r[key]}”与已有的{label}“{r[f'{key}_other']}”只差开头的0：文件可能被表格软件另存时去掉了前导零，"
            "请把该列设为文本后重新导出",
            r["line"],
            key,
            source=source,
        )
        for r in clash.iter_rows(named=True)
    ]
