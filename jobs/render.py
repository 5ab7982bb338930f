"""How reports look on an operator's terminal (rich) and to machines (one JSON document).

Names, messages and file names come from outside: they are data, never
markup. Every console here is made with markup, emoji codes and highlighting
off, so `[/]`, `[red]` or `:cn:` in a name prints as written; our own styling
is given as `Text` styles, never written into strings. (Text strips terminal
control characters.)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from batch.money import format_yuan
from schemas.change_types import CHANGE_LABELS, SEAL_REASONS, UNSEAL_REASONS, Change
from schemas.codes import CODES
from schemas.statuses import MEMBER_STATUSES, STATUS_LABELS, BatchStatus

if TYPE_CHECKING:
    from rich.progress import Progress

    from batch.change_report import ChangeReport
    from batch.validate import Report
    from jobs.report import ReportOutcome

MAX_SHOWN = 200
"""Problems shown in the terminal table; --json always has all of them."""


def console(*, stderr: bool = False) -> Console:
    """A console for which every string is plain text (see the module docstring)."""
    return Console(stderr=stderr, soft_wrap=True, markup=False, emoji=False, highlight=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """Our own styling: ("错误：", "red"), then plain text."""
    return Text.assemble(*parts)


def cycle_progress(console: Console) -> Progress:
    """A spinner with the file being processed, shown only on a terminal (and gone when done).

    rich.progress is imported here: the views (`batches list`, `accounts show`) never show one (6 ms).
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=True, disable=not console.is_terminal)  # fmt: skip


def print_json(document: Any, console: Console) -> None:
    console.file.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def print_report(report: Report | ChangeReport, console: Console) -> None:
    from batch.results import problem_frame

    problems = problem_frame(report)  # a frame: only the rows shown become Python values
    status = ("通过（VALID）", "green") if report.ok else ("拒绝（REJECTED）", "red")
    console.print(
        styled(
            (report.file_name, "bold"),
            f"：{report.rows.height}行数据，{report.rejected_rows}行有错误，{problems.height}个问题 → ",
            status,
        )
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
            styled(p["code"], "\n", (CODES[p["code"]], "dim")),
            p["member_account"] or "",
            p["message"],
        )
    console.print(table)
    if problems.height > MAX_SHOWN:
        console.print(f"…另有{problems.height - MAX_SHOWN}个问题未显示，使用 --json 查看全部。")


def print_member(view: dict[str, Any], console: Console) -> None:
    """`hpf accounts show`: the member's line, then the entries."""
    status = MEMBER_STATUSES.get(view["status"], view["status"])
    console.print(
        styled(
            (view["member_account"], "bold"),
            f" {view['name']}  单位{view['unit_account']}  状态{status}（{view['status']}）  "
            f"基数{format_yuan(view['base_fen'])}元  余额",
            (format_yuan(view["balance_fen"]), "bold"),
            f"元  缴至{view['paid_through'] or '-'}",
        )
    )
    table = Table(header_style="bold")
    for header in ("缴存", "批次", "类型", "部分", "月份", "金额（元）", "记账日"):
        table.add_column(header)
    for e in view["entries"]:
        table.add_row(
            str(e["id"]),
            str(e["batch_id"]),
            e["kind"],
            e["part"],
            str(e["month"]),
            format_yuan(e["amount_fen"]),
            e["booked_on"] or "",
        )
    console.print(table)
    if view.get("history"):
        console.print(history_table(view["history"]))


def history_table(events: list[dict[str, Any]]) -> Table:
    """The member's changes, oldest first: month in force, what changed from what to what, why, which list."""
    table = Table(title="变更记录", header_style="bold")
    for header in ("生效年月", "变更", "单位", "状态", "基数（元）", "原因", "批次"):
        table.add_column(header)

    def moved(old: Any, new: Any, shown: Any = str) -> str:
        return shown(new) if old is None or old == new else f"{shown(old)} → {shown(new)}"

    for e in events:
        reasons = SEAL_REASONS if e["change"] == Change.SEAL else UNSEAL_REASONS if e["change"] == Change.UNSEAL else {}
        table.add_row(
            str(e["month"]),
            CHANGE_LABELS[Change(e["change"])],
            moved(e["old_unit"], e["new_unit"]),
            moved(e["old_status"], e["new_status"], lambda s: MEMBER_STATUSES.get(s, s)),
            moved(e["old_base_fen"], e["new_base_fen"], format_yuan),
            f"{e['reason']} {reasons.get(e['reason'], '')}".strip() if e["reason"] else "",
            str(e["batch_id"]),
        )
    return table


def status_text(status: str) -> str:
    """`已入账（POSTED）`: the label people read and the code they search for."""
    label = STATUS_LABELS.get(status)
    return f"{label}（{status}）" if label else status


_STATUS_COLORS = {
    BatchStatus.FAILED: "red",
    BatchStatus.REJECTED: "yellow",
    BatchStatus.POSTED: "green",
    BatchStatus.APPLIED: "green",
}


def print_batches(rows: list[dict[str, Any]], console: Console, *, wide: bool = False) -> None:
    """`hpf batches list`: one line per batch at 80 columns, the file name cut with …; `wide`: every value whole."""
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    if wide:
        for header in (
            "ID",
            "单位",
            "月份",
            "文件",
            "状态",
            "步骤",
            "行数",
            "入账金额（元）",
            "尝试",
            "更新时间",
            "需要处理",
            "最近错误",
        ):
            table.add_column(header, overflow="fold")
    else:
        fixed = (("ID", 5, "right"), ("单位", 10, "left"), ("月份", 6, "left"), ("状态", 9, "left"),
                 ("行数", 5, "right"), ("入账（元）", 10, "right"))  # fmt: skip
        room = console.width - sum(w for _, w, _ in fixed) - 2 * (len(fixed) + 1) - 1
        for header, width, justify in fixed[:3]:
            table.add_column(header, justify=justify, no_wrap=True, min_width=width, max_width=width)  # type: ignore[arg-type]
        table.add_column("文件", overflow="ellipsis", no_wrap=True, max_width=max(12, room))
        for header, width, justify in fixed[3:]:
            table.add_column(header, justify=justify, no_wrap=True, min_width=width, max_width=width)  # type: ignore[arg-type]
    for b in rows:
        status = Text(b["status"], style=_STATUS_COLORS.get(b["status"], ""))
        if b.get("attention") and not wide:
            status.stylize("reverse")
        common = [str(b["id"]), b["unit_account"], str(b["month"] or ""), b["file_name"], status]
        if wide:
            table.add_row(
                *common, b["step"], str(b["rows"] or ""), format_yuan(b["posted_fen"] or 0), str(b["attempts"]),
                b.get("updated_local") or "", b.get("attention") or "", b["last_error"] or "",
            )  # fmt: skip
        else:
            table.add_row(*common, str(b["rows"] or ""), format_yuan(b["posted_fen"] or 0))
    if wide:  # every value whole on one line, however wide: the terminal wraps, the table never folds
        console = Console(
            file=console.file, width=4000, soft_wrap=True, markup=False, emoji=False, highlight=False,
            force_terminal=console.is_terminal, no_color=console.no_color,
        )  # fmt: skip
    console.print(table)
    if not wide and any(b.get("attention") for b in rows):
        console.print(
            "有批次需要处理（状态反白显示）：hpf batches list --attention --wide 查看原因，或 hpf batches show ID。"
        )


def print_inbox_problems(problems: list[dict[str, Any]], console: Console, *, wide: bool = False) -> None:
    """Inbox problems: no batch will ever report these."""
    if not problems:
        return
    table = Table(title="收件目录问题（不会生成批次，改正后自动消失）", header_style="bold", box=box.SIMPLE_HEAD)
    overflow = "fold" if wide else "ellipsis"
    for header in ("单位", "文件", "问题", "首次发现"):
        table.add_column(header, overflow=overflow, no_wrap=not wide, ratio=3 if header == "问题" else None)  # type: ignore[arg-type]
    for p in problems:
        table.add_row(p["unit_account"], p["name"], p["message"], p["first_seen"] or "")
    console.print(table)


def print_batch(view: dict[str, Any], console: Console) -> None:
    """`hpf batches show`: the batch's line, its last error, its history and its errors."""
    console.print(
        styled(
            (f"批次{view['id']}", "bold"),
            f" {view['file_name']}  单位{view['unit_account']}  月份{view['month'] or '-'}  状态",
            (status_text(view["status"]), "bold"),
            f"（步骤{view['step']}）  行数{view['rows'] or 0}  "
            f"入账{format_yuan(view['posted_fen'] or 0)}元  尝试{view['attempts']}次",
        )
    )
    if view["last_error"]:
        console.print(styled(("最近错误：", "red"), view["last_error"]))
    history = Table(title="历史", header_style="bold")
    for header in ("时间", "状态", "步骤", "说明"):
        history.add_column(header, overflow="fold")
    for h in view["history"]:
        history.add_row(h["at"] or "", h["status"], h["step"], h["message"] or "")
    console.print(history)
    errors = Table(title=f"错误（共{len(view['errors'])}个）", header_style="bold")
    for header in ("行", "列", "代码", "个人账号", "说明"):
        errors.add_column(header, overflow="fold")
    for e in view["errors"][:MAX_SHOWN]:
        errors.add_row(str(e["row_no"] or ""), e["column"] or "", e["code"], e["member_account"] or "", e["message"])
    if view["errors"]:
        console.print(errors)


def reconciliation_document(outcome: ReportOutcome) -> dict[str, Any]:
    """`hpf report reconcile --json`: the control totals, the statuses counted, the files."""
    r = outcome.reconciliation
    return {
        "month": str(r.month), "statuses": dict(r.lines["status"].value_counts().iter_rows()),
        "posted_this_month_fen": r.posted_this_month_fen, "ledger_month_fen": r.ledger_month_fen,
        "member_balances_fen": r.member_balances_fen, "control_fen": r.control_fen,
        "problems": [p.message for p in r.problems], "files": [str(outcome.csv_path), str(outcome.xlsx_path)],
        "uploaded": list(outcome.uploaded or []),
    }  # fmt: skip


def print_reconciliation(outcome: ReportOutcome, console: Console) -> None:
    """`hpf report reconcile`: the statuses counted, the control totals, where the files are."""
    r = outcome.reconciliation
    counts = r.lines["status"].value_counts().sort("status").iter_rows()
    console.print(f"{r.month}对账：" + "，".join(f"{status} {n}个单位" for status, n in counts), highlight=False)
    console.print(
        f"本月入账合计 {format_yuan(r.posted_this_month_fen)} 元；个人账户余额合计 {format_yuan(r.member_balances_fen)} 元；"
        f"控制账户 {format_yuan(r.control_fen)} 元",
        highlight=False,
    )
    console.print(f"报表：{outcome.csv_path}、{outcome.xlsx_path}", highlight=False)
    console.print(f"已上传：{', '.join(outcome.uploaded)}" if outcome.uploaded else f"未上传：{outcome.not_uploaded}")


MATCHED_BY = {
    "reference": "缴款识别码", "unit_account": "单位账号", "name": "单位名称", "payer_account": "付款账号",
    "unidentified": "未识别", "reversal": "冲正", "other": "其他交易", "duplicate": "重复",
}  # fmt: skip


def print_funds(view: dict[str, Any], console: Console) -> None:
    """`hpf funds list`: the movements (newest first), then each employer's suspense and the centre's own."""
    table = Table(header_style="bold", title="银行到账")
    for header in ("编号", "日期", "流水号", "金额（元）", "付款人", "附言/摘要", "匹配", "单位", "状态"):
        table.add_column(header)
    for c in view["credits"]:
        state = "已冲正" if c["reversed_by"] else ""
        text = " / ".join(t for t in (c["memo"], c["summary"]) if t)
        table.add_row(
            str(c["id"]), c["trade_date"], c["serial"], format_yuan(c["amount_fen"]), c["payer_name"] or "",
            text, MATCHED_BY.get(c["matched_by"], c["matched_by"]), c["unit_account"] or "", state,
        )  # fmt: skip
    console.print(table)
    suspense = Table(header_style="bold", title="暂收余额")
    suspense.add_column("单位")
    suspense.add_column("余额（元）", justify="right")
    for unit, fen in view["suspense"].items():
        suspense.add_row(unit, format_yuan(fen))
    suspense.add_row("未识别（三无）", format_yuan(view["unidentified_fen"]))
    suspense.add_row("异常", format_yuan(view["exceptions_fen"]))
    console.print(suspense)


def print_funds_attention(items: list[dict[str, Any]], console: Console) -> None:
    """Money only a person can settle (`batches list --attention`)."""
    if not items:
        return
    table = Table(header_style="bold", title="需要处理的资金")
    for header in ("类型", "到账编号", "流水号", "金额（元）", "日期", "说明"):
        table.add_column(header)
    for i in items:
        table.add_row("未识别" if i["kind"] == "unidentified" else "异常", str(i["line_id"] or "—"), i["serial"] or "—",
                      format_yuan(i["amount_fen"]), i["date"], i["what"])  # fmt: skip
    console.print(table)


def print_audit(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(header_style="bold", title="审计日志")
    for header in ("时间", "操作人", "途径", "操作", "对象", "原因", "说明"):
        table.add_column(header)
    for r in rows:
        table.add_row(r["at"] or "", r["actor"], r["via"], r["action"], r["target"] or "", r["reason"] or "",
                      r["detail"] or "")  # fmt: skip
    console.print(table)


def print_users(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(header_style="bold", title="控制台用户")
    for header in ("用户名", "角色", "创建时间", "状态"):
        table.add_column(header)
    for r in rows:
        state = f"已停用（{r['disabled_at']}）" if r["disabled_at"] else "启用"
        table.add_row(r["name"], r["role"], r["created_at"] or "", state)
    console.print(table)
