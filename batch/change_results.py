"""The results of a member change list (SPEC §6): the same three files as a remittance list, one line per change.

Pure, like `batch.results`: a `ChangeReport`, the decided status and (when
applied) the accounts the database gave each row in; the bytes out. The CSV
gives a new hire's account number, which the employer's remittance list may
use from then on (or leave empty, SPEC §3). IDs masked, formulas guarded.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from batch import xlsx
from batch.change_report import ChangeReport
from batch.masking import mask_id
from batch.money import yuan_expr, yuan_text
from batch.results import MAX_SHEET_ROWS, csv_bytes, errors_sheet, guard_formula, problem_frame, result_names
from schemas.change_types import SEAL_REASONS, UNSEAL_REASONS, Change
from schemas.codes import FILE_CODES
from schemas.statuses import CHANGE_RESULT_STATUSES, ROW_STATUS_LABELS, STATUS_LABELS, BatchStatus, RowStatus

CHANGE_CSV_COLUMNS = (
    "row_no",
    "change_type",
    "member_account",
    "name",
    "id_number",
    "base",
    "effective_month",
    "status",
    "reason_codes",
    "message",
)
"""The header of a change list's `X.result.csv` (SPEC §6)."""
CHANGE_HEADERS = (
    "行号",
    "变更类型",
    "个人账号",
    "姓名",
    "证件号码",
    "缴存基数",
    "生效年月",
    "状态",
    "原因代码",
    "说明",
)
CHANGE_WIDTHS = (8, 12, 22, 14, 22, 14, 10, 12, 30, 80)


def change_result_files(
    report: ChangeReport,
    *,
    batch_id: int | None,
    status: str,
    xlsx_detail_rows: int,
    applied: pl.DataFrame | None = None,
    own_names: bool = False,
) -> dict[str, bytes]:
    """The three result files of a change list. `applied`: (row_no, member_account) of an APPLIED list."""
    if status not in CHANGE_RESULT_STATUSES:
        raise ValueError(f"a change list's status is one of {', '.join(CHANGE_RESULT_STATUSES)}, not {status!r}")
    if (status == BatchStatus.APPLIED) != (applied is not None) or (applied is not None and not report.ok):
        raise ValueError("an APPLIED change list has no errors and the accounts it was applied to")
    json_name, csv_name, xlsx_name = result_names(report.file_name, batch_id if own_names else None)
    doc = change_document(report, batch_id=batch_id, status=status)
    lines = change_lines(report, status=status, applied=applied)
    head = json.dumps({k: v for k, v in doc.items() if k != "errors"}, ensure_ascii=False, indent=2)
    errors = problem_frame(report).write_ndjson()
    body = ("    " + errors.rstrip("\n").replace("\n", ",\n    ")) if errors else ""
    document = head[:-2] + (',\n  "errors": [\n' + body + "\n  ]\n}\n" if errors else ',\n  "errors": []\n}\n')
    return {
        json_name: document.encode("utf-8"),
        csv_name: csv_bytes(lines),
        xlsx_name: _workbook(doc, lines, problem_frame(report), xlsx_detail_rows),
    }


def change_document(report: ChangeReport, *, batch_id: int | None, status: str) -> dict[str, Any]:
    """`X.result.json` as a dict (`hpf validate --json` prints it): money fields null, posted_rows the rows applied."""
    head: dict[str, Any] = {
        "file": report.file_name,
        "sha256": report.sha256 or None,
        "unit_account": report.unit_account,
        "month": str(report.month) if report.month is not None else None,
        "batch_id": batch_id,
        "status": status,
        "rows": report.rows.height,
        "posted_rows": report.rows.height if status == BatchStatus.APPLIED else 0,
        "rejected_rows": report.rejected_rows,
        "total_fen": None,
        "posted_fen": None,
    }
    if report.duplicate_of is not None:
        head["duplicate_of"] = {"batch_id": report.duplicate_of, "status": report.duplicate_status}
    return {**head, "errors": [p.as_dict() for p in report.problems()]}


def change_lines(report: ChangeReport, *, status: str, applied: pl.DataFrame | None) -> pl.DataFrame:
    """One line per row in source order (`CHANGE_CSV_COLUMNS`), text cells guarded."""
    if status == BatchStatus.DUPLICATE:
        return pl.DataFrame(schema={c: pl.Int64 if c == "row_no" else pl.String for c in CHANGE_CSV_COLUMNS})
    per_row = report.row_problems.group_by("row_no", maintain_order=True).agg(
        pl.col("code").str.join(";").alias("reason_codes"), pl.col("message").str.join("；")
    )
    accounts = applied if applied is not None else report.accounts.select("row_no", "member_account")
    change = pl.col("change")
    done = pl.when(change == Change.OPEN.value).then(
        pl.when(pl.col("old_unit").is_null()).then(pl.lit("已开户，新个人账号见本行"))
        .when(pl.col("old_unit") != pl.col("new_unit")).then(pl.format("已转入本单位（原单位{}，余额随账户转入）", "old_unit"))
        .otherwise(pl.lit("已恢复为正常缴存"))
    ).when(change == Change.SEAL.value).then(
        pl.format("已封存（{}），自{}起不再缴存", pl.col("reason").replace_strict(dict(SEAL_REASONS), default=""), "effective_month")
    ).when(change == Change.UNSEAL.value).then(
        pl.format("已启封（{}），自{}起缴存基数{}元", pl.col("reason").replace_strict(dict(UNSEAL_REASONS), default=""),
                  "effective_month", yuan_text(pl.col("base_fen")))
    ).otherwise(pl.format("自{}起缴存基数为{}元", "effective_month", yuan_text(pl.col("base_fen"))))  # fmt: skip
    if status == BatchStatus.APPLIED:
        assert applied is not None
        moves = applied.select("row_no", "old_unit", "new_unit")
        row_status, message = pl.lit(RowStatus.APPLIED.value), done
    else:
        moves = pl.DataFrame(schema={"row_no": pl.Int64, "old_unit": pl.String, "new_unit": pl.String})
        row_status = (
            pl.when(pl.col("reason_codes").is_not_null())
            .then(pl.lit(RowStatus.REJECTED.value))
            .otherwise(pl.lit(RowStatus.NOT_APPLIED.value))
        )
        message = pl.col("message").fill_null(pl.lit(_not_applied(report)))
    lines = (
        report.rows.drop("member_account")
        .join(accounts.select("row_no", "member_account"), on="row_no", how="left", maintain_order="left")
        .join(report.rows.select("row_no", pl.col("member_account").alias("given")), on="row_no", maintain_order="left")
        .join(moves, on="row_no", how="left", maintain_order="left")
        .join(per_row, on="row_no", how="left", maintain_order="left")
        .select(
            pl.col("row_no").cast(pl.Int64),
            "change_type",
            pl.coalesce("member_account", "given").alias("member_account"),
            "name",
            mask_id(pl.col("id_number")).alias("id_number"),
            "base",
            "effective_month",
            row_status.alias("status"),
            "reason_codes",
            message.alias("message"),
        )
    )
    return lines.select("row_no", *(guard_formula(pl.col(c).cast(pl.String)).alias(c) for c in CHANGE_CSV_COLUMNS[1:]))


def _not_applied(report: ChangeReport) -> str:
    codes = list(dict.fromkeys(p.code for p in report.file_problems if p.code != "F_ROW_ERRORS"))
    why = "、".join(f"{c} {FILE_CODES.get(c, '')}".strip() for c in codes)
    if why and report.row_problems.height:
        why = f"清册有文件级错误（{why}），且其他行有错误"
    elif why:
        why = f"清册有文件级错误（{why}）"
    else:
        why = "清册中其他行有错误"
    return f"本行无误，但{why}，整个变更清册未办理；请改正后将整个清册重新提交"


def _workbook(doc: dict[str, Any], lines: pl.DataFrame, problems: pl.DataFrame, detail_rows: int) -> bytes:
    status = doc["status"]
    title = (
        f"人员变更结果  单位 {doc['unit_account'] or '—'}  月份 {doc['month'] or '—'}  "
        f"{STATUS_LABELS.get(status, status)}（{status}）  批次 {doc['batch_id'] or '—'}"
    )
    shown = max(0, min(detail_rows, MAX_SHEET_ROWS - 1))
    counts = lines.group_by("change_type").len().sort("change_type")
    items: list[tuple[str, str | int | None]] = [
        ("文件", doc["file"]),
        ("SHA-256", doc["sha256"]),
        ("单位账号", doc["unit_account"]),
        ("生效月份（默认）", doc["month"]),
        ("批次号", doc["batch_id"]),
        ("处理结果", f"{STATUS_LABELS.get(status, status)}（{status}）"),
    ]
    if earlier := doc.get("duplicate_of"):
        items.append(("此前处理该文件的批次", earlier["batch_id"]))
    items += [("数据行数", doc["rows"]), ("已办理行数", doc["posted_rows"]), ("错误行数", doc["rejected_rows"])]
    items += [
        (f"其中“{row['change_type']}”", row["len"]) for row in counts.iter_rows(named=True) if status == "APPLIED"
    ]
    items.append(("错误数", problems.height))
    if shown < lines.height:
        _, csv_name, _ = result_names(doc["file"])
        items.append(("说明", f"“明细”表只列出前{shown:,}行（共{lines.height:,}行），全部行见 {csv_name}"))
    summary = pl.DataFrame(
        [(label, None if v is None else str(v), isinstance(v, int)) for label, v in items],
        schema={"label": pl.String, "value": pl.String, "number": pl.Boolean},
        orient="row",
    )
    details = lines.head(shown).with_columns(
        pl.format(
            "{}（{}）", pl.col("status").replace_strict(dict(ROW_STATUS_LABELS), default=pl.col("status")), "status"
        ).alias("status"),
        yuan_expr(pl.col("base").str.strip_chars("' ")).alias("base__fen"),
    )
    fen = pl.col("base__fen")
    detail_columns = [xlsx.Column(pl.col("row_no").cast(pl.String), number=True, width=CHANGE_WIDTHS[0])]
    for name, width in zip(CHANGE_CSV_COLUMNS[1:], CHANGE_WIDTHS[1:], strict=True):
        if name == "base":  # a number that adds up, text only where the employer's cell was unreadable
            style = pl.when(fen.is_not_null()).then(xlsx.MONEY).otherwise(xlsx.PLAIN)
            value = pl.coalesce(yuan_text(fen), pl.col(name))
            detail_columns.append(xlsx.Column(value, number=fen.is_not_null(), style=style, width=width))
        else:
            detail_columns.append(xlsx.Column(pl.col(name), width=width))
    return xlsx.workbook(
        [
            xlsx.Sheet(
                "汇总", ("项目", "内容"),
                [xlsx.Column(pl.col("label"), style=xlsx.BOLD, width=24),
                 xlsx.Column(guard_formula(pl.col("value")), number=pl.col("number"), width=90)],
                summary, page_title=title,
            ),
            xlsx.Sheet("明细", CHANGE_HEADERS, detail_columns, details, page_title=title),
            errors_sheet(doc, problems, title),
        ]
    )  # fmt: skip
