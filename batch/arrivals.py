"""Read and check one arrival file (SPEC §9): every problem at once, with the line and the field.

`read_arrivals` takes the file's bytes, its marker and the centre's collection
accounts and returns an `ArrivalFile`: the movements as a polars frame (amounts
in signed fen, each line's kind and its content for duplicate detection) and
the problems. Any problem rejects the whole file; whether a movement was
booked before is the database's to say (`db.funds`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import polars as pl
from pandera.errors import SchemaErrors

from batch.manifest import Manifest, manifest_problems, parse_manifest
from batch.money import yuan_expr
from schemas.arrivals import CONTENT, CREDIT, FIELDS, LABELS, OTHER, REVERSAL, ArrivalLine
from schemas.codes import Problem

_NAME = re.compile(r"^DZTZ_([0-9]{1,32})_([0-9]{8})_([0-9]{3})\.txt$")
_SIGNED_YUAN = r"^-?[0-9]{1,13}(?:\.[0-9]{1,2})?$"
_SHOWN = 40
"""Characters of a bad cell quoted in a message."""

LINE_COLUMNS = (
    "line_no", "account", "serial", "amount_fen", "trade_date", "trade_time", "payer_account",
    "payer_name", "memo", "summary", "reversal", "kind", "content", "repeat",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ArrivalName:
    account: str
    day: date
    seq: str


@dataclass(frozen=True, slots=True)
class ArrivalFile:
    """What one arrival file says, and what is wrong with it."""

    file_name: str
    sha256: str
    account: str | None
    day: date | None
    lines: pl.DataFrame
    """LINE_COLUMNS; `repeat` marks a line whose movement an earlier line of this file already gave."""
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_arrival_name(name: str) -> ArrivalName | Problem:
    """`DZTZ_{account}_{YYYYMMDD}_{NNN}.txt`."""
    m = _NAME.match(name)
    day = None
    if m:
        try:
            day = date(int(m.group(2)[:4]), int(m.group(2)[4:6]), int(m.group(2)[6:]))
        except ValueError:
            day = None
    if not m or day is None:
        return Problem("B_FORMAT", f"文件名应为DZTZ_收款账号_YYYYMMDD_三位序号.txt（日期须有效），实际为“{name[:120]}”")
    return ArrivalName(m.group(1), day, m.group(3))


def decode_arrivals(data: bytes) -> str | Problem:
    """GBK as the platform sends it (read as GB18030, its superset), or UTF-8 with a BOM."""
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        return data[3:].decode("utf-8") if bom else data.decode("gb18030")
    except UnicodeDecodeError as e:
        offset = e.start + (3 if bom else 0)
        line = data.count(b"\n", 0, offset) + 1
        expected = "UTF-8（文件带有UTF-8 BOM）" if bom else "GBK/GB18030"
        return Problem(
            "B_ENCODING",
            f"到账通知编码无法识别：应为{expected}，第{line}行（字节偏移{offset}）处的字节 "
            f"{data[offset : offset + 4].hex(' ')} 无效",
            row_no=line,
        )


def read_arrivals(
    file_name: str, data: bytes, *, accounts: Collection[str], marker: bytes | None = None, max_rows: int
) -> ArrivalFile:
    """Parse and check an arrival file; nothing here knows what was booked before."""
    sha256 = hashlib.sha256(data).hexdigest()
    problems: list[Problem] = []
    name = parse_arrival_name(file_name)
    account = day = None
    if isinstance(name, Problem):
        problems.append(name)
    else:
        account, day = name.account, name.day
        if account not in accounts:
            problems.append(Problem("B_ACCOUNT", f"文件名中的帐号{account}不是本中心的收款账号（funds.accounts）之一"))
    manifest: Manifest | None = None
    if marker is not None and marker.strip():
        parsed = parse_manifest(marker, code="B_MANIFEST", signed=True)
        if isinstance(parsed, list):
            problems += parsed
        else:
            manifest = parsed
    text = decode_arrivals(data)
    if isinstance(text, Problem):
        return ArrivalFile(file_name, sha256, account, day, _empty(), [*problems, text])
    raw = text.split("\n")
    if len(raw) > max_rows + 1:
        problems.append(Problem("B_FORMAT", f"到账通知至多{max_rows}行，实际为{len(raw)}行"))
        return ArrivalFile(file_name, sha256, account, day, _empty(), problems)
    frame = pl.DataFrame(
        {"line_no": pl.int_range(1, len(raw) + 1, eager=True), "text": pl.Series(raw, dtype=pl.String)}
    ).with_columns(pl.col("text").str.strip_suffix("\r"))
    frame = frame.filter(pl.col("text").str.strip_chars() != "")  # blank lines (a final newline) carry nothing
    lines, shape = _split(frame)
    problems += shape
    lines = _parse(lines)
    problems += _field_problems(lines)
    problems += _account_problems(lines, account)
    lines, conflicts = _repeats(lines)
    problems += conflicts
    if manifest is not None:
        total = int(lines["amount_fen"].sum()) if lines.height and lines["amount_fen"].null_count() == 0 else None
        problems += manifest_problems(
            manifest, rows=frame.height, total_fen=total, sha256=sha256, code="B_MANIFEST", totalled="金额之和"
        )
    problems.sort(key=lambda p: (p.row_no or 0, p.code))
    return ArrivalFile(file_name, sha256, account, day, _typed(lines), problems)


def _typed(lines: pl.DataFrame) -> pl.DataFrame:
    return lines.with_columns(pl.col("trade_date_parsed").alias("trade_date")).select(LINE_COLUMNS)


def _empty() -> pl.DataFrame:
    return _parse(pl.DataFrame({key: pl.Series([], dtype=pl.String) for key, _ in FIELDS}).with_columns(
        pl.Series("line_no", [], dtype=pl.Int64))).with_columns(
        pl.lit(False).alias("repeat")).pipe(_typed)  # fmt: skip


def _split(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    """The 23 fields of each well-formed line; a line of another shape is a problem and goes no further."""
    parts = pl.col("text").str.split("|")
    frame = frame.with_columns(parts.alias("parts"), parts.list.len().alias("n"))
    shaped = (pl.col("n") == len(FIELDS) + 1) & (pl.col("parts").list.last() == "")
    bad = frame.filter(~shaped)
    problems = [
        Problem(
            "B_FORMAT",
            f"第{line_no}行应有{len(FIELDS)}个以“|”分隔的字段且以“|”结尾，实际为{n - 1 if text.endswith('|') else n}个字段"
            + ("" if text.endswith("|") else "（行尾缺少“|”）"),
            row_no=line_no,
        )
        for line_no, n, text in bad.select("line_no", "n", "text").iter_rows()
    ]
    good = frame.filter(shaped)
    fields = good.select(
        "line_no", *(pl.col("parts").list.get(i).str.strip_chars().alias(key) for i, (key, _) in enumerate(FIELDS))
    )
    return fields, problems


def _parse(lines: pl.DataFrame) -> pl.DataFrame:
    """Typed columns beside the text: signed fen, the date, the reversal flag, the kind and the content."""
    amount = pl.col("amount")
    fen = (
        pl.when(amount.str.contains(_SIGNED_YUAN))
        .then(yuan_expr(amount.str.strip_prefix("-")) * pl.when(amount.str.starts_with("-")).then(-1).otherwise(1))
        .cast(pl.Int64)
    )
    day = pl.when(pl.col("trade_date").str.contains(r"^[0-9]{8}$")).then(
        pl.col("trade_date").str.to_date("%Y%m%d", strict=False)
    )
    lines = lines.with_columns(
        fen.alias("amount_fen"),
        day.alias("trade_date_parsed"),
        pl.concat_str([pl.col(key).fill_null("") for key in CONTENT], separator="|").alias("content"),
    )
    flag = pl.col("reversal")
    kind = (
        pl.when((pl.col("amount_fen") > 0) & (flag == "N"))
        .then(pl.lit(CREDIT))
        .when((pl.col("amount_fen") < 0) & (flag == "Y"))
        .then(pl.lit(REVERSAL))
        .otherwise(pl.lit(OTHER))
    )
    return lines.with_columns(kind.alias("kind"))


_WORDS = {
    "account": "应为收款账号（数字）",
    "serial": "不能为空，至多64个字符",
    "amount_fen": "应为带符号的金额（元，至多两位小数），且不为零",
    "trade_date": "应为YYYYMMDD格式的有效日期",
    "trade_time": "应为HHMMSS格式的时间",
    "currency": "应为156（人民币）",
    "reversal": "应为Y或N",
}
_RAW = {"amount_fen": "amount", "trade_date": "trade_date"}


def _field_problems(lines: pl.DataFrame) -> list[Problem]:
    """The pandera model over the collected frame, each failing cell worded with its line and field."""
    checked = lines.with_columns(
        pl.col("trade_date_parsed").alias("trade_date"), pl.col("trade_date").alias("raw_date")
    )
    try:
        ArrivalLine.validate(checked, lazy=True)
    except SchemaErrors as e:
        failures = e.failure_cases
    else:
        return []
    failures = failures.filter(pl.col("index").is_not_null()).select(pl.col("index").cast(pl.Int64), "column")
    unexpected = failures.filter(~pl.col("column").is_in(list(_WORDS)))
    if unexpected.height:
        raise RuntimeError(f"arrival lines do not fit ArrivalLine: {unexpected.head(5)}")
    problems = []
    seen: set[tuple[int, str]] = set()
    texts = lines.with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    for index, column in failures.unique(maintain_order=True).iter_rows():
        line_no = int(texts["line_no"][index])
        if (line_no, column) in seen:
            continue
        seen.add((line_no, column))
        key = _RAW.get(column, column)
        found = texts[key][index]
        code = "B_CURRENCY" if column == "currency" else "B_FORMAT"
        label = LABELS["amount" if column == "amount_fen" else column]
        shown = "空白" if not found else f"“{str(found)[:_SHOWN]}”"
        problems.append(
            Problem(code, f"第{line_no}行 {label}{_WORDS[column]}，实际为{shown}", row_no=line_no, column=label)
        )
    return problems


def _account_problems(lines: pl.DataFrame, account: str | None) -> list[Problem]:
    """Every line is a movement of the account the file is named for."""
    if account is None:
        return []
    other = lines.filter(pl.col("account").str.contains(r"^[0-9]{1,32}$") & (pl.col("account") != account))
    return [
        Problem(
            "B_ACCOUNT",
            f"第{line_no}行 帐号应为文件名中的{account}，实际为{found}",
            row_no=line_no,
            column=LABELS["account"],
        )
        for line_no, found in other.select("line_no", "account").iter_rows()
    ]


def _repeats(lines: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    """A movement given twice in one file is booked once; a serial given with two contents rejects the file."""
    key = ["account", "serial"]
    first = pl.col("line_no").min().over(key)
    lines = lines.with_columns(
        (pl.col("line_no") != first).alias("repeat"),
        first.alias("first_line"),
        pl.col("content").first().over(key, order_by="line_no").alias("first_content"),
    )
    conflicts = lines.filter(pl.col("repeat") & (pl.col("content") != pl.col("first_content")))
    problems = [
        Problem(
            "B_CONFLICT",
            f"第{line_no}行 银行主机流水号{serial}已在第{first_line}行出现，但两行内容不同（同一笔交易只能有一种内容）",
            row_no=line_no,
            column=LABELS["serial"],
        )
        for line_no, serial, first_line in conflicts.select("line_no", "serial", "first_line").iter_rows()
    ]
    return lines.drop("first_line", "first_content"), problems
