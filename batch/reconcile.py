"""The centre's monthly reconciliation (SPEC §7 `hpf report reconcile`): one line per employer, then the control totals.

`reconcile` reads a month's figures from the database in a fixed number of
set-based statements (GROUP BY, never one query per employer); everything else
here is pure: a `Reconciliation` in, the bytes of `reconciliation_YYYYMM.csv`
and `reconciliation_YYYYMM.xlsx` out.

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
from typing import Any

import polars as pl
import xlsxwriter
from sqlalchemy import Connection, and_, case, func, literal, or_, select, union

from batch.db import CONTROL, batches, control_accounts, employers, entries, members
from batch.masterdata import FILING_STATUSES  # employers that may file get a line even without a file
from batch.money import format_yuan
from batch.policy import valid_month
from batch.results import guard_text

REFUSED = ("REJECTED", "DUPLICATE")
"""Batch outcomes that make a month REJECTED when nothing of it stands posted."""
STATUS_LABELS = {"POSTED": "已入账", "REJECTED": "已拒绝", "NOT_FILED": "未申报"}

CSV_COLUMNS = (
    "unit_account",
    "employer_name",
    "status",
    "files",
    "rows_received",
    "rows_posted",
    "members_active",
    "amount_posted",
)
XLSX_HEADERS = ("单位账号", "单位名称", "状态", "文件数", "收到行数", "入账行数", "在册职工数", "入账金额（元）")
SHEET = "对账"

LINE_SCHEMA = pl.Schema(
    {
        "unit_account": pl.String,
        "employer_name": pl.String,
        "status": pl.String,
        "files": pl.Int64,
        "rows_received": pl.Int64,
        "rows_posted": pl.Int64,
        "members_active": pl.Int64,
        "amount_posted_fen": pl.Int64,
    }
)

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
    """One row per employer, in `LINE_SCHEMA`, ordered by unit_account."""
    posted_this_month_fen: int
    """Sum of amount_posted_fen over the lines (the POSTED batches of the month)."""
    ledger_month_fen: int
    """Net member entries of the month in the ledger: deposits minus reversals."""
    member_balances_fen: int
    """Sum of every member's balance."""
    control_fen: int
    """Minus the CONTROL account's balance: equals member_balances_fen when the books are sound."""
    problems: tuple[str, ...]
    """Chinese sentences, one per disagreement; empty when the control totals agree."""

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


# ------------------------------------------------------------------ query


def reconcile(conn: Connection, month: int) -> Reconciliation:
    """The month's reconciliation, read in two statements (run them in one snapshot for exact totals).

    Raises ValueError for a month that is not YYYYMM.
    """
    if not valid_month(month):
        raise ValueError(f"汇缴年月应为YYYYMM（如202611），实际为{month}")
    lines = _lines(conn, month)
    ledger_month, member_balances, control_balance = conn.execute(_totals_query(month)).one()
    return build(
        month,
        lines,
        ledger_month_fen=int(ledger_month),
        member_balances_fen=int(member_balances),
        control_fen=-int(control_balance),
    )


def _lines(conn: Connection, month: int) -> pl.DataFrame:
    posted = batches.c.status == "POSTED"
    of_month = _of_month(month)
    units = union(
        select(employers.c.unit_account.label("unit_account")).where(employers.c.status.in_(sorted(FILING_STATUSES))),
        select(batches.c.unit_account.label("unit_account")).where(of_month),
    ).subquery("units")
    arrived = (
        select(
            batches.c.unit_account,
            func.count().label("files"),
            func.sum(func.coalesce(batches.c.rows, 0)).label("rows_received"),
            func.sum(case((posted, func.coalesce(batches.c.posted_rows, 0)), else_=0)).label("rows_posted"),
            func.sum(case((posted, func.coalesce(batches.c.posted_fen, 0)), else_=0)).label("amount_posted_fen"),
            func.sum(case((posted, 1), else_=0)).label("posted_batches"),
            func.sum(case((batches.c.status.in_(REFUSED), 1), else_=0)).label("refused_batches"),
        )
        .where(of_month)
        .group_by(batches.c.unit_account)
        .subquery("arrived")
    )
    active = (
        select(members.c.unit_account, func.count().label("members_active"))
        .where(members.c.status == "normal")
        .group_by(members.c.unit_account)
        .subquery("active")
    )
    query = (
        select(
            units.c.unit_account,
            employers.c.name,
            func.coalesce(arrived.c.files, 0),
            func.coalesce(arrived.c.rows_received, 0),
            func.coalesce(arrived.c.rows_posted, 0),
            func.coalesce(active.c.members_active, 0),
            func.coalesce(arrived.c.amount_posted_fen, 0),
            func.coalesce(arrived.c.posted_batches, 0),
            func.coalesce(arrived.c.refused_batches, 0),
        )
        .select_from(
            units.outerjoin(employers, employers.c.unit_account == units.c.unit_account)
            .outerjoin(arrived, arrived.c.unit_account == units.c.unit_account)
            .outerjoin(active, active.c.unit_account == units.c.unit_account)
        )
        .order_by(units.c.unit_account)
    )
    rows = []
    for unit, name, files, received, rows_posted, active_n, amount, posted_n, refused_n in conn.execute(query):
        status = "POSTED" if posted_n else "REJECTED" if refused_n else "NOT_FILED"
        rows.append(
            (unit, name, status, int(files), int(received), int(rows_posted), int(active_n), int(amount))
        )  # PostgreSQL sums bigints as numeric: int() for Decimal
    return pl.DataFrame(rows, schema=LINE_SCHEMA, orient="row")


def _of_month(month: int) -> Any:
    """The batches of the month: by the month recorded with the outcome, else by the file's name."""
    named = [
        batches.c.file_name.like(batches.c.unit_account + literal(f"\\_{month}{rest}"), escape="\\")
        for rest in (".%", "\\_%")
    ]
    return or_(batches.c.month == month, and_(batches.c.month.is_(None), or_(*named)))


def _totals_query(month: int) -> Any:
    """Ledger figures in one statement, so they come from one snapshot even outside a transaction.

    The month's member entries are found through the month's batches: entries
    are indexed by batch, not by month, and every entry carries its batch's month.
    """
    of_month = select(batches.c.id).where(batches.c.month == month)
    ledger_month = select(func.coalesce(func.sum(entries.c.amount_fen), 0)).where(
        and_(entries.c.batch_id.in_(of_month), entries.c.month == month, entries.c.account != CONTROL)
    )
    balances = select(func.coalesce(func.sum(members.c.balance_fen), 0))
    control = select(func.coalesce(func.sum(control_accounts.c.balance_fen), literal(0))).where(
        control_accounts.c.code == CONTROL
    )
    return select(ledger_month.scalar_subquery(), balances.scalar_subquery(), control.scalar_subquery())


def build(
    month: int, lines: pl.DataFrame, *, ledger_month_fen: int, member_balances_fen: int, control_fen: int
) -> Reconciliation:
    """A Reconciliation from its lines and the ledger's figures: the posted total and the problems follow."""
    lines = lines.select(pl.col(c).cast(t) for c, t in LINE_SCHEMA.items())
    posted = int(lines["amount_posted_fen"].sum())
    problems = []
    if posted != ledger_month_fen:
        problems.append(
            f"本月入账合计{_yuan(posted)}元（{month}已入账批次）与账本中{month}个人账户的净入账"
            f"{_yuan(ledger_month_fen)}元（缴存减冲销）不一致，相差{_yuan(posted - ledger_month_fen)}元"
        )
    if control_fen != member_balances_fen:
        problems.append(
            f"控制账户余额{_yuan(control_fen)}元与个人账户余额合计{_yuan(member_balances_fen)}元不一致，"
            f"相差{_yuan(control_fen - member_balances_fen)}元"
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
    writer.writerow(CSV_COLUMNS)
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
    blanks = ("",) * (len(CSV_COLUMNS) - 3)
    for key, label, fen in r.control_totals():
        writer.writerow((key, label, *blanks, format_yuan(fen)))
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


# ------------------------------------------------------------------- XLSX

_MONEY = "#,##0.00"
_COUNT = "0"
_MAX_NAME_WIDTH = 60


def reconciliation_xlsx(r: Reconciliation) -> bytes:
    """`reconciliation_YYYYMM.xlsx` for finance staff: sheet 对账.

    A title, a bold Chinese header (frozen, with an autofilter), one row per
    employer (amounts as numbers in #,##0.00, counts as integers, the status in
    Chinese with its code), then the three control totals and whether they agree.
    Cells are written with write_string/write_number only, text cells guarded.
    """
    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False, "constant_memory": True},
    )
    title = book.add_format({"bold": True, "font_size": 14})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": False})
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": _MONEY})
    money_bold = book.add_format({"num_format": _MONEY, "bold": True})
    count = book.add_format({"num_format": _COUNT})
    good = book.add_format({"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE"})
    bad = book.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"})

    sheet = book.add_worksheet(SHEET)
    lines = r.lines
    statuses = [f"{STATUS_LABELS.get(s, s)}（{s}）" for s in lines["status"]]
    names = [guard_text(n or "") for n in lines["employer_name"]]
    amounts = [f"{a / 100:,.2f}" for a in lines["amount_posted_fen"]] + [
        f"{fen / 100:,.2f}" for _, _, fen in r.control_totals()
    ]
    for col, width in enumerate(_widths(lines["unit_account"].to_list(), names, statuses, amounts)):
        sheet.set_column(col, col, width)
    sheet.freeze_panes(2, 0)
    sheet.autofilter(1, 0, 1 + lines.height, len(XLSX_HEADERS) - 1)

    sheet.write_string(0, 0, f"住房公积金汇缴对账表 {r.month}", title)
    for col, text in enumerate(XLSX_HEADERS):
        sheet.write_string(1, col, text, header)
    row = 2
    for (unit, _, _, files, received, rows_posted, active, fen), name, status in zip(
        lines.iter_rows(), names, statuses, strict=True
    ):
        sheet.write_string(row, 0, guard_text(unit))
        if name:
            sheet.write_string(row, 1, name)
        sheet.write_string(row, 2, status)
        for col, value in ((3, files), (4, received), (5, rows_posted), (6, active)):
            sheet.write_number(row, col, value, count)
        sheet.write_number(row, 7, fen / 100, money)
        row += 1

    row += 1
    for _, label, fen in r.control_totals():
        sheet.write_string(row, 0, f"{label}（元）", bold)
        sheet.write_number(row, 7, fen / 100, money_bold)
        row += 1
    sheet.write_string(row, 0, "核对结果", bold)
    if r.agree:
        sheet.write_string(row, 1, "一致", good)
    else:
        sheet.write_string(row, 1, "不一致：" + "；".join(r.problems), bad)
    book.close()
    return out.getvalue()


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
