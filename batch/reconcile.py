"""The centre's monthly reconciliation (SPEC §7 `hpf report reconcile`): one line per employer, then the control totals.

`db.reconcile` reads a month's figures from the database in a fixed number of
set-based statements (GROUP BY, never one query per employer); here is the
arithmetic: each employer's status from its batches' counts, the control
totals compared, and the bytes of `reconciliation_YYYYMM.csv` and
`reconciliation_YYYYMM.xlsx`.

Employer status for the contribution month, in this precedence (SPEC §7):

- `POSTED`: the employer has a POSTED batch for the month.
- `AWAITING_FUNDS`: otherwise, a valid list for the month waits for its money.
- `REJECTED`: otherwise, when a file for the month was refused: REJECTED, or
  DUPLICATE (sent again, not processed).
- `NOT_FILED`: otherwise. Nothing arrived, or everything posted was reversed, or
  a file is still being processed (RECEIVED, or FAILED before its outcome was
  decided), or its list EXPIRED or was SUPERSEDED. A reversal rolls the employer's paid-through month back, so the
  month is owed again: finance staff must see it among the employers still to
  file, not among those whose file was refused. `files` and `rows_received`
  still count every arrival, so the line shows that something came.

A batch belongs to the month its outcome recorded. An arrival that recorded no
month (a duplicate, a file too large to read, one not yet decided) belongs to
the month its name declares, when the name is `{inbox unit}_{YYYYMM}…`.

The money columns are by booking date, the centre's day within the calendar
month (so a closed month's figures never change): `amount_posted` is what was
posted less what was reversed in the month, whatever month it was for;
`amount_received` what came into the employer's suspense (credits matched or
assigned, transfers in, less transfers out and bank reversals); the suspense
at the month's start and end. In immediate mode only `amount_posted` is given.

The control totals and the identities of SPEC §9: the lines' posted total equals
the members' side of the ledger booked in the month; the members' balances are mirrored
by CONTROL and what lists took from suspense; each employer's closing suspense
is its opening plus received less posted, and not negative; and (arrival mode)
the money at the bank is where it is: employers' suspense, unidentified,
exceptions, and what members hold from suspense. Any disagreement is a
`problem`, worded in Chinese with both figures.
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
STATUS_LABELS = {
    BatchStatus.POSTED.value: "已入账", BatchStatus.AWAITING_FUNDS.value: "待到账", BatchStatus.REJECTED.value: "已拒绝",
    NOT_FILED: "未申报",
}  # fmt: skip

XLSX_HEADERS = (
    "单位账号", "单位名称", "状态", "文件数", "收到行数", "入账行数", "在册职工数", "应缴金额（元）", "到账金额（元）",
    "入账金额（元）", "期初暂收（元）", "期末暂收（元）",
)  # fmt: skip
MONEY = ("amount_due_fen", "amount_received_fen", "amount_posted_fen", "suspense_opening_fen", "suspense_closing_fen")
SHEET = "对账"

CONTROL_LINES = (
    ("posted_this_month", "本月入账合计"),
    ("member_balances", "个人账户余额合计"),
    ("control_account", "控制账户余额"),
)
"""The control totals: English key (first CSV cell) and Chinese label (second CSV cell, and the workbook)."""
FUNDS_LINES = (
    ("bank_received", "本月银行到账净额"),
    ("bank_held", "银行账户余额（期末）"),
    ("suspense_closing", "单位暂收余额合计（期末）"),
    ("unidentified", "未识别到账（期末）"),
    ("exceptions", "异常（期末）"),
    ("posted_from_suspense", "由暂收入账的清册净额（期末）"),
)
"""The control totals of arrival mode (SPEC §9: money in = where it is)."""


@dataclass(frozen=True)
class Funds:
    """The centre's money at the month's end (arrival mode), in fen."""

    bank_received_fen: int
    """Credits booked in the month less reversals."""
    bank_held_fen: int
    suspense_closing_fen: int
    unidentified_fen: int
    exceptions_fen: int
    posted_from_suspense_fen: int


@dataclass(frozen=True)
class Reconciliation:
    month: int
    lines: pl.DataFrame
    """One row per employer, in `schemas.frames.RECONCILIATION_LINE`, ordered by unit_account."""
    posted_this_month_fen: int
    """Sum of amount_posted_fen over the lines (the POSTED batches of the month)."""
    ledger_month_fen: int
    """The members' side of the month in the ledger: deposits booked in it minus deposits reversed in it."""
    member_balances_fen: int
    """Sum of every member's balance."""
    control_fen: int
    """Minus the CONTROL account's balance: equals member_balances_fen when the books are sound."""
    problems: tuple[Problem, ...]
    """One per disagreement, worded in Chinese with both figures; empty when the control totals agree."""
    funds: Funds | None = None
    """Arrival mode's money figures; None in immediate mode."""
    checks: tuple[tuple[str, str, bool], ...] = ()
    """Each identity: (what it says, the figures compared, whether it holds), for the workbook."""

    @property
    def agree(self) -> bool:
        return not self.problems

    def control_totals(self) -> tuple[tuple[str, str, int], ...]:
        """(key, Chinese label, fen) of each control total, in report order."""
        values = (self.posted_this_month_fen, self.member_balances_fen, self.control_fen)
        lines = [(key, label, fen) for (key, label), fen in zip(CONTROL_LINES, values, strict=True)]
        if self.funds is not None:
            f = self.funds
            money = (f.bank_received_fen, f.bank_held_fen, f.suspense_closing_fen, f.unidentified_fen,
                     f.exceptions_fen, f.posted_from_suspense_fen)  # fmt: skip
            lines += [(key, label, fen) for (key, label), fen in zip(FUNDS_LINES, money, strict=True)]
        return tuple(lines)


def file_names(month: int) -> tuple[str, str]:
    """`reconciliation_YYYYMM.csv`, `reconciliation_YYYYMM.xlsx`."""
    return f"reconciliation_{month}.csv", f"reconciliation_{month}.xlsx"


def filing_lines(arrivals: pl.DataFrame) -> pl.DataFrame:
    """Each employer's line from the counts of its month's batches (`posted_batches`, `awaiting_batches`, …).

    POSTED if any batch of the month stands posted, else AWAITING_FUNDS if one
    waits for its money, else REJECTED if one was refused, else NOT_FILED. The
    money columns are joined by the caller.
    """
    status = (
        pl.when(pl.col("posted_batches") > 0)
        .then(pl.lit(BatchStatus.POSTED.value))
        .when(pl.col("awaiting_batches") > 0)
        .then(pl.lit(BatchStatus.AWAITING_FUNDS.value))
        .when(pl.col("refused_batches") > 0)
        .then(pl.lit(BatchStatus.REJECTED.value))
        .otherwise(pl.lit(NOT_FILED))
    )
    return arrivals.with_columns(status.alias("status")).select(
        pl.col(c).cast(t) for c, t in RECONCILIATION_LINE.items() if c in arrivals.columns or c == "status"
    )


def build(
    month: int,
    lines: pl.DataFrame,
    *,
    ledger_month_fen: int,
    member_balances_fen: int,
    control_fen: int,
    funds: Funds | None = None,
    closing_fen: dict[str, int] | None = None,
) -> Reconciliation:
    """A Reconciliation from its lines and the ledger's figures: the posted total and the problems follow.

    `closing_fen`: each employer's suspense at the month's end as the ledger has it, read apart from the
    lines, to hold the lines' arithmetic against (arrival mode).
    """
    lines = lines.select(pl.col(c).cast(t) for c, t in RECONCILIATION_LINE.items())
    posted = int(lines["amount_posted_fen"].sum())
    problems = []
    checks: list[tuple[str, str, bool]] = [
        ("本月入账合计 = 账本中本月个人账户净入账", f"{_yuan(posted)} / {_yuan(ledger_month_fen)}", posted == ledger_month_fen),
        ("个人账户余额合计 = 控制账户与暂收入账对应额", f"{_yuan(member_balances_fen)} / {_yuan(control_fen)}",
         member_balances_fen == control_fen),
    ]  # fmt: skip
    if posted != ledger_month_fen:
        problems.append(
            Problem(
                "L_MONTH_TOTAL",
                f"本月入账合计{_yuan(posted)}元（{month}记账的入账减冲销，各单位合计）与账本中{month}记账的个人账户"
                f"净入账{_yuan(ledger_month_fen)}元（缴存减冲销）不一致，相差{_yuan(posted - ledger_month_fen)}元",
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
    if funds is not None:
        suspense_problems, suspense_checks = _suspense_identities(lines, closing_fen or {})
        problems += suspense_problems
        checks += suspense_checks
        where = (
            funds.suspense_closing_fen + funds.unidentified_fen + funds.exceptions_fen + funds.posted_from_suspense_fen
        )
        checks.append(("到账资金 = 资金去向（暂收 + 未识别 + 异常 + 由暂收入账）",
                       f"{_yuan(funds.bank_held_fen)} / {_yuan(where)}", funds.bank_held_fen == where))  # fmt: skip
        if funds.bank_held_fen != where:
            problems.append(
                Problem(
                    "L_FUNDS",
                    f"期末银行账户余额{_yuan(funds.bank_held_fen)}元应等于单位暂收{_yuan(funds.suspense_closing_fen)}元"
                    f" + 未识别{_yuan(funds.unidentified_fen)}元 + 异常{_yuan(funds.exceptions_fen)}元"
                    f" + 由暂收入账的清册净额{_yuan(funds.posted_from_suspense_fen)}元（合计{_yuan(where)}元）",
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
        funds=funds,
        checks=tuple(checks),
    )


def _suspense_identities(
    lines: pl.DataFrame, closing_fen: dict[str, int]
) -> tuple[list[Problem], list[tuple[str, str, bool]]]:
    """Per employer: opening + received − posted = closing ≥ 0, the closing as the ledger has it."""
    problems = []
    worked = lines.filter(pl.col("suspense_opening_fen").is_not_null())
    for unit, opening, received, posted, closing in worked.select(
        "unit_account", "suspense_opening_fen", "amount_received_fen", "amount_posted_fen", "suspense_closing_fen"
    ).iter_rows():
        held = closing_fen.get(unit, 0)
        if opening + received - posted != closing or closing != held or closing < 0:
            problems.append(
                Problem(
                    "L_SUSPENSE",
                    f"单位{unit}：期初暂收{_yuan(opening)}元 + 到账{_yuan(received)}元 − 入账{_yuan(posted)}元"
                    f"应等于期末暂收{_yuan(closing)}元（账本中为{_yuan(held)}元），且不为负",
                )
            )
    opening = int(worked["suspense_opening_fen"].sum())
    received = int(worked["amount_received_fen"].sum())
    posted = int(worked["amount_posted_fen"].sum())
    closing = int(worked["suspense_closing_fen"].sum())
    check = ("期初暂收 + 到账 − 入账 = 期末暂收 ≥ 0（各单位）",
             f"{_yuan(opening)} + {_yuan(received)} − {_yuan(posted)} / {_yuan(closing)}", not problems)  # fmt: skip
    return problems, [check]


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
    for unit, name, status, files, received, rows_posted, active, *money in r.lines.iter_rows():
        writer.writerow(
            (
                guard_text(unit),
                guard_text(name or ""),
                guard_text(status),
                files,
                received,
                rows_posted,
                active,
                *("" if fen is None else format_yuan(fen) for fen in money),
            )
        )
    writer.writerow(())
    # Each total under amount_posted, where finance staff add the lines up.
    at = RECONCILIATION_CSV_COLUMNS.index("amount_posted")
    before, after = ("",) * (at - 2), ("",) * (len(RECONCILIATION_CSV_COLUMNS) - at - 1)
    for key, label, fen in r.control_totals():
        writer.writerow((key, label, *before, format_yuan(fen), *after))
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


# ------------------------------------------------------------------- XLSX

_MAX_NAME_WIDTH = 60


def reconciliation_xlsx(r: Reconciliation) -> bytes:
    """`reconciliation_YYYYMM.xlsx` for finance staff: sheet 对账.

    A title, a bold Chinese header (frozen, with an autofilter), one row per
    employer (amounts as numbers in #,##0.00, counts as integers, the status in
    Chinese with its code; a figure the mode does not have is an empty cell),
    then the control totals, and each identity with the figures compared, in
    green when it holds and red when not. Written by `batch.xlsx`, which cannot
    write a formula; text cells are guarded.
    """
    lines = r.lines
    status_text = pl.col("status").replace(STATUS_LABELS) + pl.lit("（") + pl.col("status") + pl.lit("）")
    name = guard_formula(pl.col("employer_name").fill_null(""))
    counts = ("files", "rows_received", "rows_posted", "members_active")
    shown = lines.select(
        guard_formula(pl.col("unit_account")).alias("unit"),
        pl.when(name != "").then(name).alias("name"),
        status_text.alias("status_text"),
        *(pl.col(c).cast(pl.String) for c in counts),
        *(yuan_text(pl.col(c)).alias(c) for c in MONEY),
    )
    totals = r.control_totals()
    amounts = [f"{a / 100:,.2f}" for c in MONEY for a in lines[c].drop_nulls()] + [
        f"{fen / 100:,.2f}" for _, _, fen in totals
    ]
    widths = _widths(lines["unit_account"].to_list(), shown["name"].fill_null("").to_list(),
                     shown["status_text"].to_list(), amounts)  # fmt: skip
    columns = [
        xlsx.Column(pl.col("unit"), width=widths[0]),
        xlsx.Column(pl.col("name"), width=widths[1]),
        xlsx.Column(pl.col("status_text"), width=widths[2]),
        *(xlsx.Column(pl.col(c), number=True, style=xlsx.COUNT, width=w) for c, w in zip(counts, widths[3:7], strict=True)),
        *(xlsx.Column(pl.col(c), number=True, style=xlsx.MONEY, width=w) for c, w in zip(MONEY, widths[7:], strict=True)),
    ]  # fmt: skip
    money_column = XLSX_HEADERS.index("入账金额（元）")
    footer: list[list[xlsx.Cell]] = [
        [
            xlsx.Cell(0, f"{label}（元）", xlsx.BOLD),
            xlsx.Cell(money_column, format_yuan(fen), xlsx.MONEY_BOLD, number=True),
        ]
        for _, label, fen in totals
    ]
    for words, figures, holds in r.checks:
        style = xlsx.GOOD if holds else xlsx.BAD
        footer.append(
            [
                xlsx.Cell(0, words, xlsx.BOLD),
                xlsx.Cell(1, figures, style),
                xlsx.Cell(2, "一致" if holds else "不一致", style),
            ]
        )
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
    columns: list[list[str]] = [units, names, statuses, [], [], [], [], *([amounts] * len(MONEY))]
    widths = []
    for col, (headline, values) in enumerate(zip(XLSX_HEADERS, columns, strict=True)):
        widest = max((_display_width(v) for v in values), default=0)
        width = max(_display_width(headline), widest, 6) + 2
        widths.append(min(width, _MAX_NAME_WIDTH) if col == 1 else width)
    return widths
