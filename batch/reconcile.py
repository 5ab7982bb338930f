"""The centre's monthly reconciliation (SPEC §7 `hpf report reconcile`): one line per employer, then the control totals.

`db.reconcile` reads a month's figures from the database in a fixed number of
set-based statements (GROUP BY, never one query per employer); here is the
arithmetic: each employer's status from its batches' counts, the control
totals compared, and the bytes of `reconciliation_YYYYMM.csv` and
`reconciliation_YYYYMM.xlsx`.

Employer status for the month:

- `POSTED`: the employer has a POSTED batch for the month.
- `REJECTED`: otherwise, when a file for the month was refused: REJECTED, or
  DUPLICATE (sent again, not processed).
- `NOT_FILED`: otherwise. Nothing arrived, or everything posted was reversed, or
  a file is still being processed (RECEIVED, or FAILED before its outcome was
  decided). A reversal rolls the employer's paid-through month back, so the
  month is owed again: finance staff must see it among the employers still to
  file, not among those whose file was refused. `files` and `rows_received`
  still count every arrival, so the line shows that something came.

A batch belongs to the month its outcome recorded. An arrival that recorded no
month (a duplicate, a file too large to read, one not yet decided) belongs to
the month its name declares, when the name is `{inbox unit}_{YYYYMM}…`.

The control totals: what the month's POSTED batches say they posted must equal
the net member entries of the month in the ledger (deposits minus reversals),
and the CONTROL account, sign reversed, must equal the sum of the members'
balances. Any disagreement is a `problem`, worded in Chinese with both figures.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass

import polars as pl

from batch import xlsx
from batch.money import format_yuan, yuan_text
from batch.results import guard_formula, guard_text
from schemas.codes import Problem
from schemas.frames import RECONCILIATION_CSV_COLUMNS, RECONCILIATION_LINE
from schemas.statuses import BatchStatus

REFUSED = (BatchStatus.REJECTED, BatchStatus.DUPLICATE)
"""Batch outcomes that make a month REJECTED when nothing of it stands posted."""
NOT_FILED = "NOT_FILED"
STATUS_LABELS = {BatchStatus.POSTED.value: "已入账", BatchStatus.REJECTED.value: "已拒绝", NOT_FILED: "未申报"}

XLSX_HEADERS = ("单位账号", "单位名称", "状态", "文件数", "收到行数", "入账行数", "在册职工数", "入账金额（元）")
SHEET = "对账"

CONTROL_LINES = (
    ("posted_this_month", "本月入账合计"),
    ("member_balances", "个人账户余额合计"),
    ("control_account", "控制账户余额"),
)
"""The control totals: English key (first CSV cell) and Chinese label (second CSV cell, and the workbook)."""


@dataclass(frozen=True)
class Reconciliation:
    month: int
    lines: pl.DataFrame
    """One row per employer, in `schemas.frames.RECONCILIATION_LINE`, ordered by unit_account."""
    posted_this_month_fen: int
    """Sum of amount_posted_fen over the lines (the POSTED batches of the month)."""
    ledger_month_fen: int
    """Net member entries of the month in the ledger: deposits minus reversals."""
    member_balances_fen: int
    """Sum of every member's balance."""
    control_fen: int
    """Minus the CONTROL account's balance: equals member_balances_fen when the books are sound."""
    problems: tuple[Problem, ...]
    """One per disagreement, worded in Chinese with both figures; empty when the control totals agree."""

    @property
    def agree(self) -> bool:
        return not self.problems

    def control_totals(self) -> tuple[tuple[str, str, int], ...]:
        """(key, Chinese label, fen) of each control total, in report order."""
        values = (self.posted_this_month_fen, self.member_balances_fen, self.control_fen)
        return tuple((key, label, fen) for (key, label), fen in zip(CONTROL_LINES, values, strict=True))


def file_names(month: int) -> tuple[str, str]:
    """`reconciliation_YYYYMM.csv`, `reconciliation_YYYYMM.xlsx`."""
    return f"reconciliation_{month}.csv", f"reconciliation_{month}.xlsx"


def filing_lines(arrivals: pl.DataFrame) -> pl.DataFrame:
    """Each employer's line from the counts of its month's batches (`posted_batches`, `refused_batches`).

    POSTED if any batch of the month stands posted, else REJECTED if one was
    refused, else NOT_FILED.
    """
    status = (
        pl.when(pl.col("posted_batches") > 0)
        .then(pl.lit(BatchStatus.POSTED.value))
        .when(pl.col("refused_batches") > 0)
        .then(pl.lit(BatchStatus.REJECTED.value))
        .otherwise(pl.lit(NOT_FILED))
    )
    return arrivals.with_columns(status.alias("status")).select(
        pl.col(c).cast(t) for c, t in RECONCILIATION_LINE.items()
    )


def build(
    month: int, lines: pl.DataFrame, *, ledger_month_fen: int, member_balances_fen: int, control_fen: int
) -> Reconciliation:
    """A Reconciliation from its lines and the ledger's figures: the posted total and the problems follow."""
    lines = lines.select(pl.col(c).cast(t) for c, t in RECONCILIATION_LINE.items())
    posted = int(lines["amount_posted_fen"].sum())
    problems = []
    if posted != ledger_month_fen:
        problems.append(
            Problem(
                "L_MONTH_TOTAL",
                f"本月入账合计{_yuan(posted)}元（{month}已入账批次）与账本中{month}个人账户的净入账"
                f"{_yuan(ledger_month_fen)}元（缴存减冲销）不一致，相差{_yuan(posted - ledger_month_fen)}元",
            )
        )
    if control_fen != member_balances_fen:
        problems.append(
            Problem(
                "L_CONTROL",
                f"控制账户余额{_yuan(control_fen)}元与个人账户余额合计{_yuan(member_balances_fen)}元不一致，"
                f"相差{_yuan(control_fen - member_balances_fen)}元",
            )
        )
    return Reconciliation(
        month=month,
        lines=lines,
        posted_this_month_fen=posted,
        ledger_month_fen=ledger_month_fen,
        member_balances_fen=member_balances_fen,
        control_fen=control_fen,
        problems=tuple(problems),
    )


def _yuan(fen: int) -> str:
    return format_yuan(int(fen))


# -------------------------------------------------------------------- CSV


def reconciliation_csv(r: Reconciliation) -> bytes:
    """`reconciliation_YYYYMM.csv`: UTF-8 with BOM, CRLF; the employer lines, an empty line, the control totals.

    Amounts are yuan with two decimals and no separators. Every text cell is
    formula-guarded (employer names come from master data).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(RECONCILIATION_CSV_COLUMNS)
    for unit, name, status, files, received, rows_posted, active, amount in r.lines.iter_rows():
        writer.writerow(
            (
                guard_text(unit),
                guard_text(name or ""),
                guard_text(status),
                files,
                received,
                rows_posted,
                active,
                format_yuan(amount),
            )
        )
    writer.writerow(())
    blanks = ("",) * (len(RECONCILIATION_CSV_COLUMNS) - 3)
    for key, label, fen in r.control_totals():
        writer.writerow((key, label, *blanks, format_yuan(fen)))
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


# ------------------------------------------------------------------- XLSX

_MAX_NAME_WIDTH = 60


def reconciliation_xlsx(r: Reconciliation) -> bytes:
    """`reconciliation_YYYYMM.xlsx` for finance staff: sheet 对账.

    A title, a bold Chinese header (frozen, with an autofilter), one row per
    employer (amounts as numbers in #,##0.00, counts as integers, the status in
    Chinese with its code), then the three control totals and whether they agree.
    Written by `batch.xlsx`, which cannot write a formula; text cells are guarded.
    """
    lines = r.lines
    status_text = pl.col("status").replace(STATUS_LABELS) + pl.lit("（") + pl.col("status") + pl.lit("）")
    name = guard_formula(pl.col("employer_name").fill_null(""))
    shown = lines.select(
        guard_formula(pl.col("unit_account")).alias("unit"),
        pl.when(name != "").then(name).alias("name"),
        status_text.alias("status_text"),
        *(pl.col(c).cast(pl.String) for c in ("files", "rows_received", "rows_posted", "members_active")),
        yuan_text(pl.col("amount_posted_fen")).alias("amount"),
    )
    totals = r.control_totals()
    amounts = [f"{a / 100:,.2f}" for a in lines["amount_posted_fen"]] + [f"{fen / 100:,.2f}" for _, _, fen in totals]
    widths = _widths(lines["unit_account"].to_list(), shown["name"].fill_null("").to_list(),
                     shown["status_text"].to_list(), amounts)  # fmt: skip
    counts = ("files", "rows_received", "rows_posted", "members_active")
    columns = [
        xlsx.Column(pl.col("unit"), width=widths[0]),
        xlsx.Column(pl.col("name"), width=widths[1]),
        xlsx.Column(pl.col("status_text"), width=widths[2]),
        *(
            xlsx.Column(pl.col(c), number=True, style=xlsx.COUNT, width=w)
            for c, w in zip(counts, widths[3:7], strict=True)
        ),
        xlsx.Column(pl.col("amount"), number=True, style=xlsx.MONEY, width=widths[7]),
    ]
    money_column = len(XLSX_HEADERS) - 1
    footer: list[list[xlsx.Cell]] = [
        [
            xlsx.Cell(0, f"{label}（元）", xlsx.BOLD),
            xlsx.Cell(money_column, format_yuan(fen), xlsx.MONEY_BOLD, number=True),
        ]
        for _, label, fen in totals
    ]
    verdict = (
        xlsx.Cell(1, "一致", xlsx.GOOD)
        if r.agree
        else xlsx.Cell(1, "不一致：" + "；".join(p.message for p in r.problems), xlsx.BAD)
    )
    footer.append([xlsx.Cell(0, "核对结果", xlsx.BOLD), verdict])
    sheet = xlsx.Sheet(
        SHEET, XLSX_HEADERS, columns, shown,
        title=f"住房公积金汇缴对账表 {r.month}", header_style=xlsx.HEADER, autofilter=True, footer=footer,
    )  # fmt: skip
    return xlsx.workbook([sheet])


def _display_width(text: str) -> int:
    """Columns a string takes in a spreadsheet: Chinese (wide) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _widths(units: list[str], names: list[str], statuses: list[str], amounts: list[str]) -> list[int]:
    """Column widths that fit the header and the widest value, names capped so one long name cannot take the sheet."""
    columns: list[list[str]] = [units, names, statuses, [], [], [], [], amounts]
    widths = []
    for col, (headline, values) in enumerate(zip(XLSX_HEADERS, columns, strict=True)):
        widest = max((_display_width(v) for v in values), default=0)
        width = max(_display_width(headline), widest, 6) + 2
        widths.append(min(width, _MAX_NAME_WIDTH) if col == 1 else width)
    return widths
