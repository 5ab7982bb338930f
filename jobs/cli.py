"""The `hpf` command: thin commands over `jobs` and `batch`; exceptions become exit codes.

Exit status (SPEC §7): 0 done, 1 the operation failed (or the file has
errors, for `validate`), 2 usage error (click's own).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from batch.db import make_engine, upgrade
from batch.money import format_yuan
from batch.results import result_json
from batch.store import Store
from jobs import check, master, operate, render
from jobs.settings import ConfigError, Settings, load_settings

T = TypeVar("T")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    err.print(f"[red]错误：[/]{message}", highlight=False)
    sys.exit(1)


class Context:
    """Settings and the database, made on first use so `--help` needs neither."""

    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config)
            except ConfigError as e:
                fail("配置有误：\n" + "\n".join(f"  - {p}" for p in e.problems))
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(make_engine(self.settings.database.url))
        return self._store


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), help="配置文件（默认 ./hpf.toml 或 $HPF_CONFIG）"
)
@click.pass_context
def hpf(ctx: click.Context, config: Path | None) -> None:
    """hpf-batch：住房公积金单位汇缴清册批量处理。"""
    ctx.obj = Context(config)


@hpf.group()
def db() -> None:
    """数据库结构。"""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """创建或迁移数据库结构。"""
    try:
        upgrade(ctx.store.engine)
    except SQLAlchemyError as e:
        fail(f"数据库迁移失败：{e.__class__.__name__}: {str(e).splitlines()[0]}")
    out.print("数据库结构已是最新。")


@hpf.group()
def accounts() -> None:
    """单位和职工（主数据）。"""


@accounts.command("import")
@click.option("--employers", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="employers.csv")
@click.option("--members", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="members.csv")
@pass_context
def accounts_import(ctx: Context, employers: Path | None, members: Path | None) -> None:
    """导入或更新单位和职工主数据；有任何错误行则什么都不导入。"""
    if employers is None and members is None:
        raise click.UsageError("至少需要 --employers 或 --members 之一")
    try:
        result = master.import_accounts(ctx.settings, ctx.store, employers, members)
    except SQLAlchemyError as e:
        fail(_db_problem(e))
    if isinstance(result, list):
        for p in result[: render.MAX_SHOWN]:
            err.print(str(p), highlight=False)
        more = f"（仅显示前{render.MAX_SHOWN}个）" if len(result) > render.MAX_SHOWN else ""
        fail(f"共{len(result)}个错误{more}，未导入任何数据。")
    out.print(
        f"已导入：单位 新增{result.employers_new}、更新{result.employers_updated}；"
        f"职工 新增{result.members_new}、更新{result.members_updated}。"
    )


@accounts.command("show")
@click.argument("account")
@click.option("--json", "as_json", is_flag=True, help="输出JSON")
@pass_context
def accounts_show(ctx: Context, account: str, as_json: bool) -> None:
    """一个职工的状态、基数、余额、缴至年月和分录。"""
    view = _operate(lambda: operate.member_view(ctx.store, account))
    if as_json:
        render.print_json(view, out)
        return
    out.print(
        f"[bold]{view['member_account']}[/] {view['name']}  单位{view['unit_account']}  状态{view['status']}  "
        f"基数{format_yuan(view['base_fen'])}元  余额[bold]{format_yuan(view['balance_fen'])}[/]元  "
        f"缴至{view['paid_through'] or '-'}",
        highlight=False,
    )
    table = Table(header_style="bold")
    for header in ("分录", "批次", "类型", "部分", "月份", "金额（元）"):
        table.add_column(header)
    for e in view["entries"]:
        table.add_row(
            str(e["id"]), str(e["batch_id"]), e["kind"], e["part"], str(e["month"]), format_yuan(e["amount_fen"])
        )
    out.print(table)


@accounts.command("export")
@click.option("--out", "path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="输出CSV文件")
@pass_context
def accounts_export(ctx: Context, path: Path) -> None:
    """导出每个职工：member_account,unit_account,status,balance,paid_through。"""
    n = _operate(lambda: operate.export_accounts(ctx.store, path))
    out.print(f"已导出{n}名职工到 {path}")


@hpf.group()
def batches() -> None:
    """批次：查看、重试、冲销。"""


@batches.command("list")
@click.option(
    "--status",
    type=click.Choice(["RECEIVED", "POSTED", "REJECTED", "DUPLICATE", "FAILED", "REVERSED"], case_sensitive=False),
)
@click.option("--json", "as_json", is_flag=True, help="输出JSON")
@pass_context
def batches_list(ctx: Context, status: str | None, as_json: bool) -> None:
    """批次列表：需要处理的（FAILED）在前，然后按时间倒序。"""
    rows = _operate(lambda: operate.list_batches(ctx.store, status))
    if as_json:
        render.print_json(rows, out)
        return
    table = Table(header_style="bold")
    for header in ("ID", "单位", "月份", "文件", "状态", "步骤", "行数", "入账金额（元）", "尝试", "最近错误"):
        table.add_column(header, overflow="fold")
    for b in rows:
        color = {"FAILED": "red", "REJECTED": "yellow", "POSTED": "green"}.get(b["status"], "")
        table.add_row(
            str(b["id"]), b["unit_account"], str(b["month"] or ""), b["file_name"],
            f"[{color}]{b['status']}[/]" if color else b["status"], b["step"], str(b["rows"] or ""),
            format_yuan(b["posted_fen"] or 0), str(b["attempts"]), (b["last_error"] or "")[:80],
        )  # fmt: skip
    out.print(table)


@batches.command("show")
@click.argument("batch_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="输出JSON")
@pass_context
def batches_show(ctx: Context, batch_id: int, as_json: bool) -> None:
    """一个批次：概况、错误和状态历史。"""
    view = _operate(lambda: operate.show_batch(ctx.store, batch_id))
    if as_json:
        render.print_json(view, out)
        return
    out.print(
        f"[bold]批次{view['id']}[/] {view['file_name']}  单位{view['unit_account']}  月份{view['month'] or '-'}  "
        f"状态[bold]{view['status']}[/]（步骤{view['step']}）  行数{view['rows'] or 0}  "
        f"入账{format_yuan(view['posted_fen'] or 0)}元  尝试{view['attempts']}次",
        highlight=False,
    )
    if view["last_error"]:
        out.print(f"[red]最近错误：[/]{view['last_error']}", highlight=False)
    history = Table(title="历史", header_style="bold")
    for header in ("时间", "状态", "步骤", "说明"):
        history.add_column(header, overflow="fold")
    for h in view["history"]:
        history.add_row(h["at"] or "", h["status"], h["step"], h["message"] or "")
    out.print(history)
    errors = Table(title=f"错误（共{len(view['errors'])}个）", header_style="bold")
    for header in ("行", "列", "代码", "个人账号", "说明"):
        errors.add_column(header, overflow="fold")
    for e in view["errors"][: render.MAX_SHOWN]:
        errors.add_row(str(e["row_no"] or ""), e["column"] or "", e["code"], e["member_account"] or "", e["message"])
    if view["errors"]:
        out.print(errors)


@batches.command("rerun")
@click.argument("batch_id", type=int)
@pass_context
def batches_rerun(ctx: Context, batch_id: int) -> None:
    """从失败处重试一个FAILED批次（源文件须仍在收件目录中）。"""
    from sftp.client import SftpError

    try:
        status = _operate(lambda: operate.rerun_batch(ctx.settings, ctx.store, batch_id))
    except SftpError as e:
        fail(str(e))
    if status == "FAILED":
        fail(f"批次{batch_id}再次失败，见 hpf batches show {batch_id}")
    out.print(f"批次{batch_id}：{status}")


@batches.command("reverse")
@click.argument("batch_id", type=int)
@click.option("--reason", required=True, help="冲销原因（记入批次历史）")
@pass_context
def batches_reverse(ctx: Context, batch_id: int, reason: str) -> None:
    """以冲销分录撤销一个已入账批次（只能是该单位最近入账的月份）。"""
    done = _operate(lambda: operate.reverse_batch(ctx.store, batch_id, reason))
    out.print(f"批次{batch_id}已冲销：{done['rows']}行，{format_yuan(done['amount_fen'])}元；缴至年月已恢复。")


@hpf.group()
def report() -> None:
    """中心的报表。"""


@report.command("reconcile")
@click.option("--month", required=True, help="对账月份 YYYYMM")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="报表写入的本地目录",
)
@click.option("--json", "as_json", is_flag=True, help="输出控制合计和各状态单位数的JSON")
@pass_context
def report_reconcile(ctx: Context, month: str, out_dir: Path, as_json: bool) -> None:
    """月度对账报表：每个单位一行，然后是控制合计；CSV和XLSX，并上传到_finance/outbox。合计不一致时退出码为1。"""
    from jobs.report import reconcile_report
    from sftp.client import SftpError

    if not (len(month) == 6 and month.isdigit() and 1 <= int(month[4:]) <= 12):
        raise click.BadParameter(f"应为YYYYMM，实际为{month}", param_hint="--month")
    try:
        outcome = _operate(lambda: reconcile_report(ctx.settings, ctx.store, int(month), out_dir))
    except SftpError as e:
        fail(f"报表已写入 {out_dir}，但上传失败：{e}")
    r = outcome.reconciliation
    if as_json:
        render.print_json({
            "month": month, "statuses": dict(r.lines["status"].value_counts().iter_rows()),
            "posted_this_month_fen": r.posted_this_month_fen, "ledger_month_fen": r.ledger_month_fen,
            "member_balances_fen": r.member_balances_fen, "control_fen": r.control_fen,
            "problems": list(r.problems), "files": [str(outcome.csv_path), str(outcome.xlsx_path)],
            "uploaded": list(outcome.uploaded or []),
        }, out)  # fmt: skip
        sys.exit(1 if r.problems else 0)
    counts = r.lines["status"].value_counts().sort("status").iter_rows()
    out.print(f"{month}对账：" + "，".join(f"{status} {n}个单位" for status, n in counts), highlight=False)
    out.print(
        f"本月入账合计 {format_yuan(r.posted_this_month_fen)} 元；个人账户余额合计 {format_yuan(r.member_balances_fen)} 元；"
        f"控制账户 {format_yuan(r.control_fen)} 元",
        highlight=False,
    )
    out.print(f"报表：{outcome.csv_path}、{outcome.xlsx_path}", highlight=False)
    out.print(f"已上传：{', '.join(outcome.uploaded)}" if outcome.uploaded else f"未上传：{outcome.not_uploaded}")
    if r.problems:
        for p in r.problems:
            err.print(f"[red]✗[/] {p}", highlight=False)
        fail("控制合计不一致")


@hpf.command("verify")
@pass_context
def verify_command(ctx: Context) -> None:
    """检查全部账务不变式：余额等于分录之和、控制账户与个人账户对应、批次金额与分录一致。"""
    problems = _operate(lambda: operate.verify(ctx.store))
    if problems:
        for p in problems:
            err.print(f"[red]✗[/] {p}", highlight=False)
        fail(f"账务检查发现{len(problems)}个问题")
    out.print("账务检查通过：全部不变式成立。")


@hpf.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", help="文件所在收件目录的单位账号（检查 F_UNIT_MISMATCH）")
@click.option(
    "--marker", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="就绪标记文件 <文件名>.done"
)
@click.option("--json", "as_json", is_flag=True, help="输出 result.json 格式的JSON文档")
@pass_context
def validate_command(ctx: Context, file: Path, unit: str | None, marker: Path | None, as_json: bool) -> None:
    """按入账流程的全部规则检查一个文件，不入账。有错误时退出码为1。"""
    try:
        report = check.validate_file(ctx.settings, ctx.store, file, unit, marker)
    except SQLAlchemyError as e:
        fail(_db_problem(e))
    if as_json:
        status = "VALID" if report.ok else "REJECTED"
        out.file.write(result_json(report, batch_id=None, status=status).decode("utf-8"))
    else:
        render.print_report(report, out)
    sys.exit(0 if report.ok else 1)


@hpf.command("run-once")
@click.option("--json", "as_json", is_flag=True, help="输出本轮汇总的JSON")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="并行处理的进程数（按单位分配；同一文件不会被两个进程同时处理）",
)
@click.option("--part", hidden=True, default="0/1", help="内部使用：本进程负责第K/N份单位")
@pass_context
def run_once(ctx: Context, as_json: bool, workers: int, part: str) -> None:
    """处理一轮：取走每个就绪文件，检查、入账、回写结果、归档。轮次能运行则退出码为0。"""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from jobs import pipeline
    from sftp.client import SftpClient, SftpError

    settings = ctx.settings
    if workers > 1:
        summary = _run_workers(ctx, workers)
    else:
        index, parts = (int(x) for x in part.split("/"))
        progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                            console=err, transient=True, disable=not err.is_terminal)  # fmt: skip
        try:
            sftp = settings.require_sftp()
            with progress, SftpClient(sftp) as client:
                task = progress.add_task("连接SFTP…", total=None)
                summary = pipeline.run_cycle(
                    settings, ctx.store, client, part=(index, parts),
                    on_file=lambda r: progress.update(task, description=f"处理 {r.unit}/{r.name}（{r.size / 1e6:.1f} MB）"),
                )  # fmt: skip
        except ConfigError as e:
            fail("配置有误：" + "；".join(e.problems))
        except SftpError as e:
            fail(str(e))
        except SQLAlchemyError as e:
            fail(_db_problem(e))
    if as_json:
        render.print_json(summary.as_dict(), out)
        return
    out.print(summary.line(), highlight=False)
    for failure in summary.failed:
        err.print(f"[yellow]失败：[/]{failure}（详见 hpf batches list --status FAILED）", highlight=False)


def _run_workers(ctx: Context, workers: int) -> Any:
    """`workers` run-once processes, each over its share of the employers; their summaries added up."""
    import json
    import os
    import subprocess

    from jobs.pipeline import CycleSummary

    command = [sys.executable, "-m", "jobs.cli"] + (["--config", str(ctx.config)] if ctx.config else [])
    children = [
        subprocess.Popen([*command, "run-once", "--json", "--part", f"{k}/{workers}"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=os.environ.copy())
        for k in range(workers)
    ]  # fmt: skip
    summary, problems = CycleSummary(), []
    for child in children:
        output, errors = child.communicate()
        if child.returncode != 0:
            problems.append(errors.decode("utf-8", "replace").strip() or f"工作进程退出码{child.returncode}")
            continue
        summary.add(json.loads(output))
    if problems:
        fail("；".join(dict.fromkeys(problems)))
    return summary


@hpf.command("scheduler")
@pass_context
def scheduler_command(ctx: Context) -> None:
    """按计划运行：定时轮询收件目录、重试失败批次、每日对账报表、月末未申报报表。SIGTERM/SIGINT安全停止。"""
    from jobs.scheduler import Scheduler

    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    settings = ctx.settings
    try:
        settings.require_sftp()
        Scheduler(settings, ctx.store).run()
    except ConfigError as e:
        fail("配置有误：" + "；".join(e.problems))
    except SQLAlchemyError as e:
        fail(_db_problem(e))


@hpf.command("demo")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="在此目录保留演示数据（默认用临时目录）")
def demo_command(keep: Path | None) -> None:
    """用内置样例演示整个作业：内置SFTP服务器、SQLite、一轮处理、结果汇总。"""
    from jobs import demo

    sys.exit(demo.run(out, keep))


def _operate(action: Callable[[], T]) -> T:
    """Run an operator action; refusals and database failures become exit 1 with their message."""
    try:
        return action()
    except operate.OperationError as e:
        fail(str(e))
    except ConfigError as e:
        fail("配置有误：" + "；".join(e.problems))
    except SQLAlchemyError as e:
        fail(_db_problem(e))


def _db_problem(e: SQLAlchemyError) -> str:
    text = str(e).splitlines()[0]
    if "no such table" in text or "does not exist" in text:
        return "数据库尚未初始化：请先运行 hpf db upgrade"
    return f"数据库操作失败：{e.__class__.__name__}: {text}"


def main() -> None:
    from jobs import logs

    logs.setup(logging.WARNING)
    hpf(prog_name="hpf")


if __name__ == "__main__":  # `python -m jobs.cli`: how run-once --workers starts its workers
    main()
