"""How reports look on an operator's terminal (rich) and to machines (one JSON document)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from batch.codes import CODES
from batch.results import problem_frame
from batch.validate import Report

MAX_SHOWN = 200
"""Problems shown in the terminal table; --json always has all of them."""


def print_json(document: Any, console: Console) -> None:
    console.file.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def print_report(report: Report, console: Console) -> None:
    problems = problem_frame(report)  # a frame: only the rows shown become Python values
    status = "[green]通过（VALID）[/]" if report.ok else "[red]拒绝（REJECTED）[/]"
    console.print(
        f"[bold]{report.file_name}[/]：{report.rows.height}行数据，{report.rejected_rows}行有错误，"
        f"{problems.height}个问题 → {status}"
    )
    if not problems.height:
        return
    table = Table(show_lines=False, header_style="bold")
    for header in ("行", "列", "代码", "个人账号", "说明"):
        table.add_column(header, overflow="fold")
    for p in problems.head(MAX_SHOWN).iter_rows(named=True):
        table.add_row(
            "" if p["row_no"] is None else str(p["row_no"]),
            p["column"] or "",
            f"{p['code']}\n[dim]{CODES[p['code']]}[/]",
            p["member_account"] or "",
            p["message"],
        )
    console.print(table)
    if problems.height > MAX_SHOWN:
        console.print(f"…另有{problems.height - MAX_SHOWN}个问题未显示，使用 --json 查看全部。")
