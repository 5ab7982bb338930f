"""The results returned to the employer (SPEC §6), built from a validation report.

Pure functions: a `Report` and what the pipeline decided (status, batch id) in,
the bytes of `X.result.json`, `X.result.csv` and `X.result.xlsx` out.

- The CSV has one line per data row in source order, then one per missing member;
  it is built with polars expressions, so a million rows are never a million
  Python objects.
- ID numbers are masked (first 6 and last 4 characters) in every file.
- No text cell can start a spreadsheet formula: a cell beginning with `=`, `+`,
  `-`, `@`, a tab or a carriage return gets a leading `'` (the OWASP CSV
  injection rule), in the CSV and in the workbook alike.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from batch import xlsx
from batch.masking import mask_id
from batch.money import format_yuan, yuan_expr, yuan_text
from batch.validate import Report

if TYPE_CHECKING:
    from batch.change_report import ChangeReport
from schemas.codes import FILE_CODES
from schemas.columns import LABEL
from schemas.frames import ERROR, RESULT_CSV_COLUMNS, RESULT_LINE
from schemas.statuses import RESULT_STATUSES, ROW_STATUS_LABELS, STATUS_LABELS, BatchStatus, RowStatus

DETAIL_HEADERS = (
    "行号",
    "个人账号",
    "姓名",
    "证件号码",
    "缴存基数",
    "单位月缴存额",
    "个人月缴存额",
    "月缴存额合计",
    "状态",
    "原因代码",
    "说明",
)
DETAIL_WIDTHS = (8, 22, 14, 22, 14, 14, 14, 14, 12, 30, 80)
ERROR_HEADERS = ("行号", "列", "代码", "个人账号", "说明")
ERROR_WIDTHS = (8, 14, 26, 22, 100)

MAX_SHEET_ROWS = 1_048_576
"""Rows in one Excel worksheet, the header included."""
MAX_ERROR_LINES = 1_048_000
"""Errors listed in the 错误 sheet; beyond that a final line says where the rest are."""

_FORMULA_START = r"^[=+\-@\t\r]"
_FORMULA_START_RE = re.compile(_FORMULA_START)
_EXTENSION = re.compile(r"\.(csv|xlsx)$", re.IGNORECASE)


# ------------------------------------------------------------------ names


def result_names(file_name: str, batch_id: int | None = None) -> tuple[str, str, str]:
    """`X.result.json`, `X.result.csv`, `X.result.xlsx` for a source `X.csv` or `X.xlsx`.

    With `batch_id`, `X.{batch_id}.result.*`: the names of a batch whose plain
    names a standing batch already owns (SPEC §6). A name with another
    extension (a file rejected for F_NAME) keeps it whole, so `a.txt` and
    `a.csv` never share results.
    """
    stem = _EXTENSION.sub("", file_name)
    if batch_id is not None:
        stem = f"{stem}.{batch_id}"
    if len(f"{stem}{_LONGEST_SUFFIX}".encode()) > MAX_NAME_BYTES:
        # Too long for the file system once suffixed: cut, and keep names apart by a digest of the whole stem.
        digest = hashlib.sha256(stem.encode()).hexdigest()[:8]
        room = MAX_NAME_BYTES - len(_LONGEST_SUFFIX) - len(digest) - 1
        stem = stem.encode()[:room].decode("utf-8", "ignore") + "~" + digest
    return f"{stem}.result.json", f"{stem}.result.csv", f"{stem}.result.xlsx"


MAX_NAME_BYTES = 255
"""The longest file name most file systems (and SFTP servers on them) accept."""
_LONGEST_SUFFIX = ".result.xlsx"


@dataclass(frozen=True, slots=True)
class Decided:
    """What the pipeline decided of a report, for its result files (see `result_files`)."""

    report: Report
    batch_id: int | None
    status: str
    own_names: bool = False
    payment: dict[str, Any] | None = None


def result_files(
    report: Report,
    *,
    batch_id: int | None,
    status: str,
    xlsx_detail_rows: int,
    own_names: bool = False,
    payment: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """The three result files for source `X.csv` / `X.xlsx`: {"X.result.json": …, "X.result.csv": …, "X.result.xlsx": …}.

    status is POSTED, REJECTED or DUPLICATE. For POSTED, posted_rows = all rows and posted_fen = total_fen.
    `own_names`: named `X.{batch_id}.result.*`, because a standing batch owns the plain names.
    `payment`: the payment notice of an AWAITING_FUNDS list (SPEC §6).
    """
    return result_files_many(
        [Decided(report, batch_id, status, own_names, payment)], xlsx_detail_rows=xlsx_detail_rows
    )[0]


def result_files_many(outcomes: Sequence[Decided], *, xlsx_detail_rows: int) -> list[dict[str, bytes]]:
    """`result_files` of many reports, their lines and sheets built by one query per kind, not per file."""
    for o in outcomes:
        _check_status(o.report, o.status)
    lines = detail_lines_many([(o.report, o.status) for o in outcomes])  # once, for the CSV and the workbook
    problems = [problem_frame(o.report) for o in outcomes]
    heads = [_head(o.report, o.batch_id, o.status, payment=o.payment) for o in outcomes]
    books = _workbooks(list(zip(heads, lines, problems, strict=True)), xlsx_detail_rows)
    files = []
    for o, head, line, problem, book in zip(outcomes, heads, lines, problems, books, strict=True):
        json_name, csv_name, xlsx_name = result_names(o.report.file_name, o.batch_id if o.own_names else None)
        files.append({json_name: _json(head, problem), csv_name: csv_bytes(line), xlsx_name: book})
    return files


# ------------------------------------------------------------------- JSON


def result_document(
    report: Report,
    *,
    batch_id: int | None,
    status: str,
    posted_rows: int | None = None,
    posted_fen: int | None = None,
) -> dict[str, Any]:
    """`X.result.json` as a dict; `hpf validate --json` prints it with batch_id None.

    Unless given, posted_rows and posted_fen are every row and the whole total when
    the status is POSTED, and 0 otherwise (VALID, REJECTED, DUPLICATE post nothing).
    """
    head = _head(report, batch_id, status, posted_rows, posted_fen)
    return {**head, "errors": [p.as_dict() for p in report.problems()]}


def result_json(report: Report, *, batch_id: int | None, status: str, payment: dict[str, Any] | None = None) -> bytes:
    """`X.result.json`: `result_document` as UTF-8 JSON, Chinese as written, indented.

    Each error is one compact line, written by polars: a million errors take a
    second, not the minute of `json.dumps(indent=…)` over a million dicts.
    """
    return _json(_head(report, batch_id, status, payment=payment), problem_frame(report))


def _json(head_doc: dict[str, Any], problems: pl.DataFrame) -> bytes:
    head = json.dumps(head_doc, ensure_ascii=False, indent=2)
    errors = problems.write_ndjson()
    if not errors:
        return (head[:-2] + ',\n  "errors": []\n}\n').encode("utf-8")
    # Strings in NDJSON never hold a raw line break, so "\n" only ends a record.
    body = "    " + errors.rstrip("\n").replace("\n", ",\n    ")
    return (head[:-2] + ',\n  "errors": [\n' + body + "\n  ]\n}\n").encode("utf-8")


def problem_frame(report: Report | ChangeReport) -> pl.DataFrame:
    """`report.problems()` as a frame (the `errors` of SPEC §6): file-level first, then row order."""
    files = pl.DataFrame([p.as_dict() for p in report.file_problems], schema=ERROR, orient="row").select(ERROR.names())
    rows = report.row_problems.select(pl.col(c).cast(t) for c, t in ERROR.items())
    return pl.concat([files, rows])


def _head(
    report: Report,
    batch_id: int | None,
    status: str,
    posted_rows: int | None = None,
    posted_fen: int | None = None,
    *,
    payment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The result document without its errors."""
    posted = status == BatchStatus.POSTED
    if posted_rows is None:
        posted_rows = report.rows.height if posted else 0
    if posted_fen is None:
        posted_fen = report.total_fen if posted else 0
    head: dict[str, Any] = {
        "file": report.file_name,
        "sha256": report.sha256 or None,
        "unit_account": report.unit_account,
        "month": str(report.month) if report.month is not None else None,
        "batch_id": batch_id,
        "status": status,
        "rows": report.rows.height,
        "posted_rows": posted_rows,
        "rejected_rows": report.rejected_rows,
        "total_fen": report.total_fen,
        "posted_fen": posted_fen,
    }
    if report.duplicate_of is not None:
        head["duplicate_of"] = {"batch_id": report.duplicate_of, "status": report.duplicate_status}
    if payment is not None:
        head["payment"] = payment
    return head


# -------------------------------------------------------------------- CSV


def guard_formula(cell: pl.Expr) -> pl.Expr:
    """A text cell that a spreadsheet would read as a formula, with a leading `'` (OWASP)."""
    return pl.when(cell.str.contains(_FORMULA_START).not_()).then(cell).otherwise(pl.lit("'") + cell)


def guard_text(text: str) -> str:
    """`guard_formula` for one Python string."""
    return "'" + text if _FORMULA_START_RE.match(text) else text


def result_csv(report: Report, *, status: str) -> bytes:
    """`X.result.csv` (SPEC §6): UTF-8 with BOM, RFC 4180, the header then every line of `detail_lines`."""
    _check_status(report, status)
    return csv_bytes(detail_lines(report, status=status))


def csv_bytes(lines: pl.DataFrame) -> bytes:
    out = io.BytesIO()  # written as bytes: a large file's text as a Python str cost more than writing it
    lines.write_csv(out, include_bom=True, line_terminator="\r\n")
    return out.getvalue()


def detail_lines(report: Report, *, status: str) -> pl.DataFrame:
    """The lines of the result CSV, in `RESULT_CSV_COLUMNS`: text cells guarded, row_no an integer.

    One line per data row in source order (POSTED, REJECTED with its codes and
    messages, or NOT_POSTED), then one per missing member (MISSING). A DUPLICATE
    file was not read: no lines.
    """
    return detail_lines_many([(report, status)])[0]


def detail_lines_many(items: Sequence[tuple[Report, str]]) -> list[pl.DataFrame]:
    """`detail_lines` of many reports (each with its status) in one query, each file's lines its own frame."""
    for report, status in items:
        _check_status(report, status)
    read = [(n, r, s) for n, (r, s) in enumerate(items) if s != BatchStatus.DUPLICATE]
    empty = _guarded(_EMPTY_LINES.lazy()).collect()
    lines = [empty] * len(items)
    if not read:
        return lines
    # One file: its status and message are literals. Several: columns of a table joined by file.
    many = len(read) > 1
    keys, by_row = (["_file"], ["_file", "row_no"]) if many else ([], ["row_no"])
    if many:
        posted, fill = pl.col("_posted"), pl.col("_fill")
    else:
        _, report, status = read[0]
        posted, fill = pl.lit(status == BatchStatus.POSTED), pl.lit(_unposted_message(report, status), pl.String)

    def tag(n: int) -> list[pl.Expr]:
        return [pl.lit(n, pl.Int32).alias("_file")] if many else []

    per_row = (
        pl.concat([r.row_problems.lazy().select(*tag(n), "row_no", "code", "message") for n, r, _ in read])
        .group_by(*by_row, maintain_order=True)
        .agg(pl.col("code").str.join(";").alias("reason_codes"), pl.col("message").str.join("；"))
    )
    row_status = (
        pl.when(pl.col("reason_codes").is_not_null())
        .then(pl.lit(RowStatus.REJECTED.value))
        .when(posted)
        .then(pl.lit(RowStatus.POSTED.value))
        .otherwise(pl.lit(RowStatus.NOT_POSTED.value))
    )
    columns = ("row_no", "member_account", "name", "id_number", "base", *_AMOUNTS)
    rows = pl.concat([r.rows.lazy().select(*tag(n), *columns) for n, r, _ in read], how="vertical_relaxed")
    if many:
        fills = pl.LazyFrame(
            [(n, s == BatchStatus.POSTED, _unposted_message(r, s)) for n, r, s in read],
            schema={"_file": pl.Int32, "_posted": pl.Boolean, "_fill": pl.String},
            orient="row",
        )
        rows = rows.join(fills, on="_file", how="left", maintain_order="left")
    rows = (
        rows.join(per_row, on=by_row, how="left", maintain_order="left")
        .sort(*by_row, maintain_order=True)
        .select(
            *keys,
            pl.col("row_no").cast(pl.Int64),
            "member_account",
            "name",
            mask_id(pl.col("id_number")).alias("id_number"),
            "base",
            *_AMOUNTS,
            row_status.alias("status"),
            "reason_codes",
            pl.col("message").fill_null(fill).alias("message"),
        )
    )
    missing_messages = pl.LazyFrame(
        [(n, p.member_account, p.message) for n, r, _ in read for p in r.file_problems if p.code == "F_ROSTER_MISSING"],
        schema={"_file": pl.Int32, "member_account": pl.String, "message": pl.String},
        orient="row",
    ).unique(["_file", "member_account"], keep="first", maintain_order=True)
    if not many:
        missing_messages = missing_messages.drop("_file")
    missing = (
        pl.concat([r.missing.lazy().with_columns(*tag(n)) for n, r, _ in read], how="vertical_relaxed")
        .join(missing_messages, on=[*keys, "member_account"], how="left", maintain_order="left")
        .select(
            *keys,
            pl.lit(None, pl.Int64).alias("row_no"),
            "member_account",
            "name",
            mask_id(pl.col("id_number")).alias("id_number"),
            yuan_text(pl.col("base_fen")).alias("base"),
            *(pl.lit(None, pl.String).alias(c) for c in _AMOUNTS),
            pl.lit(RowStatus.MISSING.value).alias("status"),
            pl.lit("F_ROSTER_MISSING").alias("reason_codes"),
            pl.col("message").fill_null(pl.lit(FILE_CODES["F_ROSTER_MISSING"])),
        )
    )
    every = _guarded(pl.concat([rows, missing], how="vertical_relaxed"), *keys).collect()
    if not many:
        lines[read[0][0]] = every
        return lines
    by_file = every.partition_by("_file", as_dict=True, include_key=False)
    return [by_file.get((n,), empty) for n in range(len(items))]


def _unposted_message(report: Report, status: str) -> str | None:
    """The message of a line with no error of its own: why it was not posted (None when it was)."""
    if status == BatchStatus.POSTED:
        return None
    if status == BatchStatus.AWAITING_FUNDS:
        return AWAITING_MESSAGE
    return _not_posted_message(report)


_AMOUNTS = ("employer_amount", "employee_amount", "total_amount")
AWAITING_MESSAGE = "本行无误；清册待缴款到账后入账，请按汇总表中的汇缴通知缴款（附言填写缴款识别码）"
_EMPTY_LINES = RESULT_LINE.to_frame()


def _guarded(lines: pl.LazyFrame, *keys: str) -> pl.LazyFrame:
    text = [c for c in RESULT_CSV_COLUMNS if c != "row_no"]
    return lines.select(
        *keys, pl.col("row_no").cast(pl.Int64), *(guard_formula(pl.col(c).cast(pl.String)).alias(c) for c in text)
    )


def _not_posted_message(report: Report) -> str:
    """Why a row without errors was not posted: the file's own errors and/or other rows'."""
    codes = list(dict.fromkeys(p.code for p in report.file_problems if p.code != "F_ROW_ERRORS"))
    file_level = "、".join(f"{c} {FILE_CODES.get(c, '')}".strip() for c in codes)
    other_rows = report.row_problems.height > 0
    if file_level and other_rows:
        why = f"文件有文件级错误（{file_level}），且其他行有错误"
    elif file_level:
        why = f"文件有文件级错误（{file_level}）"
    elif other_rows:
        why = "文件中其他行有错误"
    else:
        why = "文件未通过检查"
    return f"本行无误，但{why}，整个文件未入账；请改正后将整个文件重新提交"


def _check_status(report: Report, status: str) -> None:
    if status not in RESULT_STATUSES:
        raise ValueError(f"result status must be one of {', '.join(RESULT_STATUSES)}, not {status!r}")
    if status == BatchStatus.POSTED and not report.ok:
        raise ValueError(f"{report.file_name} has errors and cannot have been posted")


# ------------------------------------------------------------------- XLSX


def result_xlsx(report: Report, *, batch_id: int | None, status: str, detail_rows: int) -> bytes:
    """`X.result.xlsx`: 汇总 (summary), 明细 (the first `detail_rows` CSV lines), 错误 (every error).

    Every cell is written as a string or a number explicitly (batch.xlsx has no
    way to write a formula); text cells are guarded anyway, for whoever copies them.
    """
    _check_status(report, status)
    doc = _head(report, batch_id, status)
    return _workbook(doc, detail_lines(report, status=status), problem_frame(report), detail_rows)


def _workbook(doc: dict[str, Any], lines: pl.DataFrame, problems: pl.DataFrame, detail_rows: int) -> bytes:
    """The workbook from what the JSON and the CSV hold, so a restated result is built the same way."""
    return _workbooks([(doc, lines, problems)], detail_rows)[0]


def _workbooks(items: Sequence[tuple[dict[str, Any], pl.DataFrame, pl.DataFrame]], detail_rows: int) -> list[bytes]:
    """`_workbook` of each (document, lines, problems): every book's sheets of a kind written together."""
    shown = max(0, min(detail_rows, MAX_SHEET_ROWS - 1))
    books = []
    for doc, lines, problems in items:
        title = _page_title(doc)
        books.append(
            [
                _summary(doc, lines, problems.height, shown, title),
                _details(lines if lines.height <= shown else lines.head(shown), title),
                errors_sheet(doc, problems, title),
            ]
        )
    return xlsx.workbooks(books)


def _page_title(doc: dict[str, Any]) -> str:
    status = doc["status"]
    return (
        f"汇缴结果  单位 {doc['unit_account'] or '—'}  汇缴年月 {doc['month'] or '—'}  "
        f"{STATUS_LABELS.get(status, status)}（{status}）  批次 {doc['batch_id'] or '—'}"
    )


def _summary(doc: dict[str, Any], lines: pl.DataFrame, errors: int, shown: int, title: str) -> xlsx.Sheet:
    status = doc["status"]
    _, csv_name, _ = result_names(doc["file"])
    # (label, value, is money in fen): ints become number cells, money a yuan number with the money format.
    items: list[tuple[str, str | int | None, bool]] = [
        ("文件", doc["file"], False),
        ("SHA-256", doc["sha256"], False),
        ("单位账号", doc["unit_account"], False),
        ("汇缴年月", doc["month"], False),
        ("批次号", doc["batch_id"], False),
        ("处理结果", f"{STATUS_LABELS.get(status, status)}（{status}）", False),
    ]
    if doc.get("reason"):
        items.append(("原因", doc["reason"], False))
    if payment := doc.get("payment"):
        items += [
            ("汇缴通知：缴款识别码（附言）", payment["reference"], False),
            ("汇缴通知：清册金额（元）", payment["amount_fen"], True),
            ("汇缴通知：尚需缴款（元）", payment["outstanding_fen"], True),
            ("汇缴通知：缴款截止日期", payment["pay_by"], False),
            ("汇缴通知：收款户名", payment["account_name"], False),
            ("汇缴通知：收款账号", payment["account"], False),
            ("汇缴通知：开户银行", payment["bank"], False),
        ]
    if funded := doc.get("funded_by"):
        items.append(("资金来源（银行流水号）", "、".join(funded), False))
    if receipt := doc.get("receipt"):
        items += [
            ("入账时间", receipt["posted_at"], False),
            ("本月入账人数", receipt["members_posted"], False),
            ("本月封存人数", receipt["members_sealed"], False),
            ("入账后单位暂收余额（元）", receipt["suspense_fen"], True),
        ]
    if earlier := doc.get("duplicate_of"):
        items.append(("此前处理该文件的批次", earlier["batch_id"], False))
        items.append(
            ("该批次的结果", f"{STATUS_LABELS.get(earlier['status'], earlier['status'])}（{earlier['status']}）", False)
        )
    items += [
        ("数据行数", doc["rows"], False),
        ("入账行数", doc["posted_rows"], False),
        ("错误行数", doc["rejected_rows"], False),
        ("缺少缴存行的在册职工", int((lines["status"] == RowStatus.MISSING).sum()), False),
        ("月缴存额合计（元）", doc["total_fen"], True),
        ("入账金额（元）", doc["posted_fen"], True),
        ("错误数", errors, False),
    ]
    if shown < lines.height:
        items.append(("说明", f"“明细”表只列出前{shown:,}行（共{lines.height:,}行），全部行见 {csv_name}", False))
    frame = pl.DataFrame(
        [
            (label, None if v is None else format_yuan(v) if money and isinstance(v, int) else str(v),
             isinstance(v, int), money)
            for label, v, money in items
        ],
        schema={"label": pl.String, "value": pl.String, "number": pl.Boolean, "money": pl.Boolean},
        orient="row",
    )  # fmt: skip
    return xlsx.Sheet("汇总", ("项目", "内容"), _SUMMARY_COLUMNS, frame, page_title=title)


# Each kind of sheet has its columns once, so the sheets of many workbooks are written together (`xlsx.workbooks`).
_SUMMARY_COLUMNS = (
    xlsx.Column(pl.col("label"), style=xlsx.BOLD, width=24),
    xlsx.Column(
        guard_formula(pl.col("value")),
        number=pl.col("number"),
        style=pl.when(pl.col("money")).then(xlsx.MONEY).otherwise(xlsx.PLAIN),
        width=90,
    ),
)

_CANONICAL_YUAN = r"^(?:0|[1-9][0-9]{0,11})\.[0-9]{2}$"
"""An amount as `yuan_text` writes it (so already a decimal literal for a number cell)."""
_MONEY_COLUMNS = ("base", *("employer_amount", "employee_amount", "total_amount"))


def _detail_column(name: str, width: int) -> xlsx.Column:
    """明细: amounts as numbers that add up (text only where the employer's cell was unreadable), statuses in Chinese."""
    if name == "row_no":
        return xlsx.Column(pl.col("row_no").cast(pl.String), number=True, width=width)
    if name in _MONEY_COLUMNS:
        # Nearly every amount is already written as yuan_text writes it; only the others are parsed and rewritten.
        text = pl.col(name)
        canonical = text.str.contains(_CANONICAL_YUAN).fill_null(False)
        fen = yuan_expr(pl.when(canonical.not_()).then(text).str.strip_chars("' "))
        number = canonical | fen.is_not_null()
        money = pl.when(number).then(xlsx.MONEY).otherwise(xlsx.PLAIN)
        value = pl.coalesce(pl.when(canonical).then(text), yuan_text(fen), text)
        return xlsx.Column(value, number=number, style=money, width=width)
    if name == "status":
        shown = pl.col("status").replace_strict(dict(ROW_STATUS_LABELS), default=pl.col("status"))
        return xlsx.Column(pl.format("{}（{}）", shown, "status"), width=width)
    return xlsx.Column(pl.col(name), width=width)


_DETAIL_COLUMNS = tuple(_detail_column(n, w) for n, w in zip(RESULT_CSV_COLUMNS, DETAIL_WIDTHS, strict=True))


def _details(lines: pl.DataFrame, title: str) -> xlsx.Sheet:
    return xlsx.Sheet("明细", DETAIL_HEADERS, _DETAIL_COLUMNS, lines, page_title=title)


_ERROR_COLUMNS = (
    xlsx.Column(pl.col("row_no").cast(pl.String), number=True, width=ERROR_WIDTHS[0]),
    # The column for people: its Chinese label (the JSON keeps the English name for machines).
    xlsx.Column(guard_formula(pl.col("column").replace(dict(LABEL))), width=ERROR_WIDTHS[1]),
    *(
        xlsx.Column(guard_formula(pl.col(c)), width=w)
        for c, w in zip(("code", "member_account", "message"), ERROR_WIDTHS[2:], strict=True)
    ),
)


def errors_sheet(doc: dict[str, Any], problems: pl.DataFrame, title: str) -> xlsx.Sheet:
    """错误: every error, up to what a sheet holds, then a line saying where the rest are."""
    shown = problems
    if problems.height > MAX_ERROR_LINES:
        json_name, _, _ = result_names(doc["file"])
        note = f"共{problems.height:,}处错误，此表只列出前{MAX_ERROR_LINES:,}处，全部错误见 {json_name}"
        shown = pl.concat([problems.head(MAX_ERROR_LINES), pl.DataFrame({"message": [note]})], how="diagonal")
    return xlsx.Sheet("错误", ERROR_HEADERS, _ERROR_COLUMNS, shown, page_title=title)


# ------------------------------------------------------------- restating


@dataclass(frozen=True, slots=True)
class Restatement:
    """A published result to be told again: the batch's stored files and what stands now."""

    files: dict[str, bytes]
    status: str
    reason: str
    posted_rows: int
    posted_fen: int
    extra: dict[str, Any] | None = None
    """Fields of the document replaced or added (the payment notice, `funded_by`, `receipt`; None removes one)."""


def restated(
    files: dict[str, bytes],
    *,
    status: str,
    reason: str,
    posted_rows: int,
    posted_fen: int,
    xlsx_detail_rows: int,
    extra: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """A published result told again with a new status (SPEC §6): POSTED, AWAITING_FUNDS again, EXPIRED, …

    Built from the batch's own stored result files, under the same names (the
    source was archived long ago). POSTED: every line waiting for money is
    posted. Otherwise every line that was posted is NOT_POSTED with the reason;
    `posted_rows` / `posted_fen` say what stands now.
    """
    one = Restatement(files, status, reason, posted_rows, posted_fen, extra)
    return restated_many([one], xlsx_detail_rows=xlsx_detail_rows)[0]


_MARK = "#"
"""The row_no cell of the line put before each file's lines when many CSVs are read as one (a real one is a number)."""


def restated_many(items: Sequence[Restatement], *, xlsx_detail_rows: int) -> list[dict[str, bytes]]:
    """`restated` of many results at once: their CSVs read as one, their lines changed and written by one query each.

    An arrival file can pay twenty thousand waiting lists in one cycle; one
    query per list would cost more than the lists' rows.
    """
    if not items:
        return []
    names, docs, errors = [], [], []
    for item in items:
        json_name = next(n for n in item.files if n.endswith(".result.json"))
        csv_name = next(n for n in item.files if n.endswith(".result.csv"))
        xlsx_name = next(n for n in item.files if n.endswith(".result.xlsx"))
        names.append((json_name, csv_name, xlsx_name))
        doc = json.loads(item.files[json_name])
        errors.append(doc.pop("errors"))
        doc.update(status=item.status, posted_rows=item.posted_rows, posted_fen=item.posted_fen)
        doc.update(reason=item.reason or None)
        for key, value in (item.extra or {}).items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        if not doc["reason"]:
            del doc["reason"]
        docs.append(doc)
    lines = _stacked_lines([item.files[csv] for item, (_, csv, _) in zip(items, names, strict=True)])
    changes = pl.LazyFrame(
        [_line_change(item.status, item.reason) for item in items],
        schema={"_before": pl.String, "_after": pl.String, "_why": pl.String, "_any": pl.Boolean},
        orient="row",
    ).with_row_index("_file")
    moved = (
        pl.when(pl.col("_any"))
        .then(pl.col("status").is_in([RowStatus.POSTED, RowStatus.NOT_POSTED]))
        .otherwise(pl.col("status") == pl.col("_before"))
    )
    changed = _guarded(
        lines.lazy()
        .join(changes.with_columns(pl.col("_file").cast(pl.Int64)), on="_file", how="left", maintain_order="left")
        .with_columns(
            pl.when(moved).then(pl.col("_after")).otherwise(pl.col("status")).alias("status"),
            pl.when(moved).then(pl.col("_why")).otherwise(pl.col("message")).alias("message"),
        ),
        "_file",
    ).collect()
    by_file = changed.partition_by("_file", as_dict=True, include_key=False)
    empty = changed.clear().drop("_file")
    each = [by_file.get((n,), empty) for n in range(len(items))]
    none = ERROR.to_frame()  # frames are immutable: every list without errors shares one
    problems = [pl.DataFrame(e, schema=ERROR, orient="row") if e else none for e in errors]
    books = _workbooks(list(zip(docs, each, problems, strict=True)), xlsx_detail_rows)
    csvs = _csvs(changed, [f.height for f in each])
    return [
        {
            json_name: (json.dumps({**doc, "errors": e}, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
            csv_name: csv,
            xlsx_name: book,
        }
        for (json_name, csv_name, xlsx_name), doc, e, csv, book in zip(names, docs, errors, csvs, books, strict=True)
    ]


def _line_change(status: str, reason: str) -> tuple[str | None, str, str | None, bool]:
    """How a restatement changes a line: (status it takes from, status it gives, message, takes from both)."""
    if status == BatchStatus.POSTED:
        return RowStatus.NOT_POSTED.value, RowStatus.POSTED.value, None, False
    if status == BatchStatus.AWAITING_FUNDS:
        return RowStatus.POSTED.value, RowStatus.NOT_POSTED.value, f"{reason}；{AWAITING_MESSAGE}", False
    label = STATUS_LABELS.get(status, status)
    every = status in (BatchStatus.EXPIRED, BatchStatus.SUPERSEDED)
    return RowStatus.POSTED.value, RowStatus.NOT_POSTED.value, f"本批次{label}（{status}）：{reason}；本行未入账", every


def _stacked_lines(csvs: Sequence[bytes]) -> pl.DataFrame:
    """Result CSVs read as one: each file's lines after a line whose row_no is the mark, `_file` numbering them."""
    header = ",".join(RESULT_CSV_COLUMNS).encode()
    blank = b"," * (len(RESULT_CSV_COLUMNS) - 1)
    parts = [header, b"\r\n"]
    for data in csvs:
        body = data.removeprefix("\ufeff".encode()).partition(b"\n")[2]
        parts += [_MARK.encode(), blank, b"\r\n", body]
        if body and not body.endswith(b"\n"):
            parts.append(b"\r\n")
    every = pl.read_csv(b"".join(parts), infer_schema=False, encoding="utf8").select(RESULT_CSV_COLUMNS)
    mark = pl.col("row_no").eq(_MARK).fill_null(False)
    return (
        every.lazy()
        .with_columns((mark.cast(pl.Int64).cum_sum() - 1).alias("_file"))
        .filter(~mark)
        .with_columns(pl.col("row_no").cast(pl.Int64))
        .collect()
    )


def _csvs(lines: pl.DataFrame, heights: Sequence[int]) -> list[bytes]:
    """Each file's CSV from the stacked lines (in file order, `heights` lines each), written as one text.

    Without a line break in any cell each line of the text is one row, and the
    text is cut at line ends; otherwise each file is written on its own.
    """
    body = lines.drop("_file")
    header = csv_bytes(body.clear())
    text_columns = [c for c in body.columns if body.schema[c] == pl.String]
    broken = (
        body.select(pl.any_horizontal(pl.col(text_columns).str.contains("[\r\n]")).any()).item()
        if text_columns
        else False
    )
    if broken or len(heights) == 1:
        cuts = [0, *itertools.accumulate(heights)]
        return [csv_bytes(body.slice(a, b - a)) for a, b in itertools.pairwise(cuts)]
    out = io.BytesIO()
    body.write_csv(out, include_header=False, line_terminator="\r\n")
    text = out.getvalue().split(b"\r\n")
    done, at = [], 0
    for height in heights:
        done.append(header + b"".join(line + b"\r\n" for line in text[at : at + height]))
        at += height
    return done
