"""The `hpf` command: thin commands (parse, call, render) over `jobs`; exceptions become exit codes.

Exit status (SPEC §7): 0 done, 1 the operation failed (or the file has
errors, for `validate`), 2 usage error (click's own).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from jobs import clicktext
from schemas.errors import HpfError
from schemas.statuses import BatchStatus, Outcome

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine
    from sqlalchemy.exc import SQLAlchemyError

    from db.store import Store
    from jobs import importing, operate, render
    from jobs.settings import ConfigError, Settings
else:
    # Imported on first use: `hpf --help` and the quick commands never load polars, pandera or paramiko.
    class _Module:
        def __init__(self, name: str) -> None:
            self._name = name

        def __getattr__(self, attr: str) -> Any:
            return getattr(importlib.import_module(self._name), attr)

    importing, operate, render = (_Module(f"jobs.{m}") for m in ("importing", "operate", "render"))

T = TypeVar("T")
clicktext.install()  # before any command is parsed: click's usage errors in Chinese too


@functools.cache
def out() -> Console:
    return render.console()


@functools.cache
def err() -> Console:
    return render.console(stderr=True)


def fail(message: str) -> NoReturn:
    err().print(render.styled(("错误：", "red"), message))
    sys.exit(1)


class App:
    """Settings and the database, made on first use so `--help` needs neither."""

    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None
        self._engine: Engine | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from jobs.settings import ConfigError, load_settings

            try:
                self._settings = load_settings(self.config)
            except ConfigError as e:
                fail("配置有误：\n" + "\n".join(f"  - {p}" for p in e.problems))
        return self._settings

    @property
    def engine(self) -> Engine:
        """The database alone, for the views: no polars, no pandera."""
        if self._engine is None:
            from db.engine import make_engine

            self._engine = make_engine(self.settings.database.url)
        return self._engine

    @property
    def store(self) -> Store:
        if self._store is None:
            from db.store import Store

            self._store = Store(self.engine)
        return self._store


pass_context = click.make_pass_decorator(App)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), help="配置文件（默认 ./hpf.toml 或 $HPF_CONFIG）"
)
@click.pass_context
def hpf(ctx: click.Context, config: Path | None) -> None:
    """hpf-batch：住房公积金单位汇缴清册批量处理。"""
    ctx.obj = App(config)


@hpf.group()
def db() -> None:
    """数据库结构。"""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: App) -> None:
    """创建或迁移数据库结构。"""
    from sqlalchemy.exc import SQLAlchemyError

    from db.engine import upgrade
    from db.errors import describe

    try:
        before, after = upgrade(ctx.store.engine)
    except SQLAlchemyError as e:
        fail(f"数据库迁移失败：{describe(e)}")
    if before is None:
        out().print(f"已创建数据库结构（版本 {after}）。")
    elif before != after:
        out().print(f"数据库结构已从版本 {before} 升级到 {after}。")
    else:
        out().print(f"数据库结构已是最新（版本 {after}），无需变更。")


@hpf.group()
def accounts() -> None:
    """单位和职工（主数据）。"""


@accounts.command("import")
@click.option("--employers", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="employers.csv")
@click.option("--members", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="members.csv")
@pass_context
def accounts_import(ctx: App, employers: Path | None, members: Path | None) -> None:
    """导入或更新单位和职工主数据；有任何错误行则什么都不导入。"""
    from sqlalchemy.exc import SQLAlchemyError

    from db.errors import describe

    if employers is None and members is None:
        raise click.UsageError("至少需要 --employers 或 --members 之一")
    try:
        result = importing.import_accounts(ctx.store, employers, members, today=ctx.settings.today)
    except SQLAlchemyError as e:
        fail(describe(e))
    if isinstance(result, list):
        for p in result[: render.MAX_SHOWN]:
            err().print(str(p))
        more = f"（仅显示前{render.MAX_SHOWN}个）" if len(result) > render.MAX_SHOWN else ""
        fail(f"共{len(result)}个错误{more}，未导入任何数据。")
    out().print(
        f"已导入：单位 新增{result.employers_new}、更新{result.employers_updated}；"
        f"职工 新增{result.members_new}、更新{result.members_updated}。"
    )


@accounts.command("show")
@click.argument("account")
@click.option("--json", "as_json", is_flag=True, help="输出JSON")
@pass_context
def accounts_show(ctx: App, account: str, as_json: bool) -> None:
    """一个职工的状态、基数、余额、缴至年月和分录。"""
    view = _operate(lambda: operate.member_view(ctx.engine, account))
    render.print_json(view, out()) if as_json else render.print_member(view, out())


@accounts.command("export")
@click.option("--out", "path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="输出CSV文件")
@pass_context
def accounts_export(ctx: App, path: Path) -> None:
    """导出每个职工：member_account,unit_account,status,balance,paid_through。"""
    n = _operate(lambda: operate.export_accounts(ctx.store, path))
    out().print(f"已导出{n}名职工到 {path}")


@hpf.group()
def batches() -> None:
    """批次：查看、重试、冲销。"""


@batches.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in BatchStatus], case_sensitive=False),
    help="只列出该状态（FAILED 也包括结果上传或归档失败的批次）",
)
@click.option("--attention", is_flag=True, help="只列出需要人工处理的：失败的批次和收件目录问题")
@click.option("--unit", help="只列出该单位")
@click.option("--month", help="只列出该汇缴年月 YYYYMM")
@click.option("--limit", type=click.IntRange(1, 100_000), default=500, show_default=True, help="最多列出多少个批次")
@click.option("--wide", is_flag=True, help="显示全部列和完整的值")
@click.option("--json", "as_json", is_flag=True, help="输出JSON")
@pass_context
def batches_list(
    ctx: App, status: str | None, attention: bool, unit: str | None, month: str | None, limit: int, wide: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """批次列表：需要处理的（FAILED）在前，然后按时间倒序。"""
    if month is not None:
        _month(month)
    schedule = ctx.settings.schedule
    rows = _operate(
        lambda: operate.list_batches(
            ctx.engine, status, limit, unit=unit, month=int(month) if month else None, attention_only=attention,
            zone=schedule.zone, max_attempts=schedule.max_attempts,
        )
    )  # fmt: skip
    problems = _operate(lambda: operate.inbox_problems(ctx.engine, unit, schedule.zone)) if attention else []
    money = _operate(lambda: operate.funds_attention(ctx.settings, ctx.store)) if attention and not unit else []
    if as_json:
        document: Any = {"batches": rows, "inbox_problems": problems} if attention else rows
        if attention and ctx.settings.funds.arrival:
            document["funds"] = money
        render.print_json(document, out())
        return
    render.print_batches(rows, out(), wide=wide)
    if attention:
        render.print_inbox_problems(problems, out(), wide=wide)
        render.print_funds_attention(money, out())
        if not rows and not problems and not money:
            out().print("没有需要人工处理的批次、收件目录问题或资金。")


@batches.command("show")
@click.argument("batch_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="输出JSON")
@pass_context
def batches_show(ctx: App, batch_id: int, as_json: bool) -> None:
    """一个批次：概况、错误和状态历史。"""
    view = _operate(lambda: operate.show_batch(ctx.engine, batch_id, ctx.settings.schedule.zone))
    render.print_json(view, out()) if as_json else render.print_batch(view, out())


@batches.command("rerun")
@click.argument("batch_id", type=int)
@pass_context
def batches_rerun(ctx: App, batch_id: int) -> None:
    """从失败处重试一个FAILED批次（源文件须仍在收件目录中）。"""
    by = operate.os_user()
    status = _operate(lambda: operate.rerun_batch(ctx.settings, ctx.store, batch_id, by=by))
    if status == Outcome.FAILED:
        fail(f"批次{batch_id}再次失败，见 hpf batches show {batch_id}")
    out().print(f"批次{batch_id}：{status}")


@batches.command("reverse")
@click.argument("batch_id", type=int)
@click.option("--reason", required=True, help="冲销原因（记入批次历史）")
@click.option("--yes", is_flag=True, help="不再询问，直接冲销")
@pass_context
def batches_reverse(ctx: App, batch_id: int, reason: str, yes: bool) -> None:
    """以冲销分录撤销一个已入账批次（只能是该单位最近入账的月份）；结果文件随后改为“已冲销”重新上传。"""
    if not yes:
        view = _operate(lambda: operate.show_batch(ctx.engine, batch_id))
        prompt = (
            f"将冲销批次{batch_id}（单位{view['unit_account']}，{view['month']}，{view['file_name']}，"
            f"入账{_yuan(view['posted_fen'] or 0)}元），确认吗？"
        )
        if not sys.stdin.isatty() or not click.confirm(prompt, default=False):
            fail("未冲销：请确认后重试，或加 --yes")
    by = operate.os_user()
    done = _operate(
        lambda: operate.reverse_batch(
            ctx.store,
            batch_id,
            reason,
            by=by,
            xlsx_detail_rows=ctx.settings.limits.xlsx_detail_rows,
            today=ctx.settings.today,
        )
    )
    out().print(
        f"批次{batch_id}已冲销：{done['rows']}行，{_yuan(done['amount_fen'])}元；缴至年月已恢复（操作人：{by}）。"
    )
    out().print(_operate(lambda: operate.republish(ctx.settings, ctx.store)))


@hpf.group()
def funds() -> None:
    """银行到账与暂收资金（SPEC §9）：查询、分摊未识别到账、单位间转移。"""


@funds.command("list")
@click.option("--unidentified", is_flag=True, help="只列未识别（三无）且未冲正的到账")
@click.option("--unit", help="只列该单位的到账")
@click.option("--json", "as_json", is_flag=True, help="输出JSON")
@pass_context
def funds_list(ctx: App, unidentified: bool, unit: str | None, as_json: bool) -> None:
    """银行到账（及其匹配方式）和各单位暂收余额。"""
    view = _operate(lambda: operate.funds_view(ctx.settings, ctx.store, unit=unit, unidentified=unidentified))
    if as_json:
        render.print_json(view, out())
        return
    render.print_funds(view, out())


@funds.command("assign")
@click.argument("credit", type=int)
@click.option("--unit", required=True, help="分摊给的单位账号")
@click.option("--reason", required=True, help="分摊原因（记入审计日志）")
@pass_context
def funds_assign(ctx: App, credit: int, unit: str, reason: str) -> None:
    """把一笔未识别到账分摊给单位的暂收（暂收分摊）；其足额的待到账清册随即入账。"""
    by = operate.os_user()
    done = _operate(lambda: operate.assign_credit(ctx.settings, ctx.store, credit, unit, reason, by=by))
    out().print(
        f"到账{credit}（{_yuan(done['amount_fen'])}元）已分摊给单位{unit}；入账清册{done['posted']}个（操作人：{by}）。"
    )
    out().print(_operate(lambda: operate.republish(ctx.settings, ctx.store)))


@funds.command("transfer")
@click.option("--from", "source", required=True, help="转出单位账号")
@click.option("--to", "target", required=True, help="转入单位账号")
@click.option("--amount", required=True, help="金额（元）")
@click.option("--reason", required=True, help="转移原因（记入审计日志）")
@pass_context
def funds_transfer(ctx: App, source: str, target: str, amount: str, reason: str) -> None:
    """在两个单位的暂收余额之间转移资金（未分摊转移），转出方余额不能为负。"""
    by = operate.os_user()
    done = _operate(lambda: operate.transfer_suspense(ctx.settings, ctx.store, source, target, amount, reason, by=by))
    out().print(
        f"已从单位{source}转移{_yuan(done['amount_fen'])}元到单位{target}；入账清册{done['posted']}个（操作人：{by}）。"
    )
    out().print(_operate(lambda: operate.republish(ctx.settings, ctx.store)))


@hpf.group()
def users() -> None:
    """控制台用户：新增、停用、列表（只能在命令行上管理；每次变更记入审计日志）。"""


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["viewer", "operator", "finance"]),
    help="角色：viewer 只读（身份证号脱敏），operator 另可重试、冲销，finance 另可分摊、转移资金和下载报表",
)
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行），不在终端提示")
@pass_context
def users_add(ctx: App, name: str, role: str, password_stdin: bool) -> None:
    """新增控制台用户 NAME；密码以 argon2 哈希保存，不保存明文。"""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再输入一次密码")
    by = operate.os_user()
    _operate(lambda: operate.add_user(ctx.engine, name, role, password, by=by))
    out().print(f"用户 {name}（{role}）已新增（操作人：{by}）。")


@users.command("disable")
@click.argument("name")
@click.option("--reason", help="停用原因（记入审计日志）")
@pass_context
def users_disable(ctx: App, name: str, reason: str | None) -> None:
    """停用用户 NAME：不能再登录，其控制台会话随即失效。"""
    by = operate.os_user()
    _operate(lambda: operate.disable_user(ctx.engine, name, by=by, reason=reason))
    out().print(f"用户 {name} 已停用（操作人：{by}）。")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="输出JSON")
@pass_context
def users_list(ctx: App, as_json: bool) -> None:
    """全部用户及其角色、创建和停用时间（不显示密码哈希）。"""
    rows = _operate(lambda: operate.users_view(ctx.engine, ctx.settings.schedule.zone))
    if as_json:
        render.print_json(rows, out())
        return
    render.print_users(rows, out())


@hpf.command("audit")
@click.option("--since", "since", help="起始日期 YYYY-MM-DD（中心时区）")
@click.option("--json", "as_json", is_flag=True, help="输出JSON")
@pass_context
def audit_command(ctx: App, since: str | None, as_json: bool) -> None:
    """谁在何时做了什么：重试、冲销、分摊、转移、用户变更与控制台登录。"""
    from datetime import datetime

    zone = ctx.settings.schedule.zone
    moment = None
    if since:
        try:
            moment = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=zone)
        except ValueError:
            raise click.UsageError(f"--since 应为 YYYY-MM-DD，实际为“{since}”") from None
    rows = _operate(lambda: operate.audit_view(ctx.engine, moment, zone))
    if as_json:
        render.print_json(rows, out())
        return
    render.print_audit(rows, out())


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
def report_reconcile(ctx: App, month: str, out_dir: Path, as_json: bool) -> None:
    """月度对账报表：每个单位一行，然后是控制合计；CSV和XLSX，并上传到_finance/outbox。合计不一致时退出码为1。"""
    from jobs.report import reconcile_report

    _month(month)
    from sftp.errors import SftpError

    try:
        with _reported(but=SftpError):
            outcome = reconcile_report(
                ctx.settings.sftp, ctx.store, int(month), out_dir, arrival=ctx.settings.funds.arrival
            )
    except SftpError as e:
        fail(f"报表已写入本地目录 {out_dir.resolve()}，但上传到 SFTP 的 _finance/outbox 失败：{e}")
    problems = outcome.reconciliation.problems
    if as_json:
        render.print_json(render.reconciliation_document(outcome), out())
        sys.exit(1 if problems else 0)
    render.print_reconciliation(outcome, out())
    if problems:
        for p in problems:
            err().print(render.styled(("✗ ", "red"), p.message))
        fail("控制合计不一致")


@hpf.command("verify")
@pass_context
def verify_command(ctx: App) -> None:
    """检查全部账务不变式：余额等于分录之和、控制账户与个人账户对应、批次金额与分录一致。"""
    problems = _operate(lambda: operate.verify(ctx.store))
    if problems:
        for p in problems:
            err().print(render.styled(("✗ ", "red"), p.message))
        fail(f"账务检查发现{len(problems)}个问题")
    out().print("账务检查通过：全部不变式成立。")


@hpf.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", help="文件所在收件目录的单位账号（检查 F_UNIT_MISMATCH）")
@click.option(
    "--marker", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="就绪标记文件 <文件名>.done"
)
@click.option("--json", "as_json", is_flag=True, help="输出 result.json 格式的JSON文档")
@pass_context
def validate_command(ctx: App, file: Path, unit: str | None, marker: Path | None, as_json: bool) -> None:
    """按入账流程的全部规则检查一个文件，不入账。有错误时退出码为1。"""
    from batch.change_report import ChangeReport
    from batch.change_results import change_document
    from batch.results import result_json

    report = _operate(lambda: operate.validate_file(ctx.settings, ctx.store, file, unit, marker))
    if as_json:
        status = "VALID" if report.ok else "REJECTED"
        if isinstance(report, ChangeReport):
            doc = change_document(report, batch_id=None, status=status)
            out().file.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        else:
            out().file.write(result_json(report, batch_id=None, status=status).decode("utf-8"))
    else:
        render.print_report(report, out())
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
def run_once(ctx: App, as_json: bool, workers: int, part: str) -> None:
    """处理一轮：取走每个就绪文件，检查、入账、回写结果、归档。轮次能运行则退出码为0。"""
    from jobs import pipeline
    from jobs.workers import run_workers
    from sftp.client import SftpClient

    settings = ctx.settings
    started = datetime.now(UTC)
    with _reported():
        settings.require_sftp()
        settings.require_accounts()
        if workers > 1:
            summary = run_workers(ctx.config, workers)
        else:
            index, parts = (int(x) for x in part.split("/"))
            progress = render.cycle_progress(err())
            try:
                with progress, SftpClient(settings.require_sftp()) as client:
                    task = progress.add_task("连接SFTP…", total=None)
                    summary = pipeline.run_cycle(
                        settings.validation(), settings.pipeline(), ctx.store, client, part=(index, parts),
                        on_file=lambda r: progress.update(task, description=f"处理 {r.unit}/{r.name}（{r.size / 1e6:.1f} MB）"),
                    )  # fmt: skip
            except HpfError as e:
                pipeline.note_cycle(ctx.store, started, error=str(e))
                raise
        pipeline.note_cycle(ctx.store, started, summary)
    if as_json:
        render.print_json(summary.as_dict(), out())
        return
    out().print(summary.line())  # each failure has had its own log line (unit, file, step, reason)
    if summary.failed or summary.exhausted or summary.inbox_problems:
        err().print(render.styled(("需要处理：", "yellow"), "hpf batches list --attention"))


@hpf.command("scheduler")
@pass_context
def scheduler_command(ctx: App) -> None:
    """按计划运行：定时轮询收件目录、重试失败批次、每日对账报表、月末未申报报表。SIGTERM/SIGINT安全停止。"""
    from jobs.scheduler import Scheduler

    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    settings = ctx.settings
    with _reported():
        settings.require_sftp()
        settings.require_accounts()
        Scheduler(settings, ctx.store).run()


@hpf.command("web")
@click.option("--host", help="监听地址（默认取 web.host，即 127.0.0.1；对外提供请放在 TLS 反向代理之后）")
@click.option("--port", type=click.IntRange(1, 65535), help="端口（默认取 web.port，即 8080）")
@pass_context
def web_command(ctx: App, host: str | None, port: int | None) -> None:
    """提供浏览器控制台（SPEC §10）：用户由 hpf users add 建立，按角色授权，所有操作记入审计。"""
    from web.serve import serve  # the one import of the console: only this command loads FastAPI

    settings = ctx.settings
    with _reported():
        serve(settings, ctx.store, host or settings.web.host, port or settings.web.port)


@hpf.command("demo")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="在此目录保留演示数据（默认用临时目录）")
def demo_command(keep: Path | None) -> None:
    """用内置样例演示整个作业：内置SFTP服务器、SQLite、一轮处理、结果汇总。"""
    from jobs import demo

    with _reported():
        code = demo.run(out(), keep)
    sys.exit(code)


@contextlib.contextmanager
def _reported(but: type[Exception] | None = None) -> Iterator[None]:
    """Refusals, configuration problems and failures of the database or SFTP become exit 1 with their message.

    `but`: a kind of error the caller words itself.
    """
    try:
        yield
    except _config_error() as e:  # an except clause is evaluated only when something was raised
        fail("配置有误：" + "；".join(e.problems))
    except HpfError as e:
        if but is not None and isinstance(e, but):
            raise
        fail(str(e))
    except _database_error() as e:
        from db.errors import describe

        fail(describe(e))


def _config_error() -> type[ConfigError]:
    from jobs.settings import ConfigError

    return ConfigError


def _database_error() -> type[SQLAlchemyError]:
    from sqlalchemy.exc import SQLAlchemyError

    return SQLAlchemyError


def _yuan(fen: int) -> str:
    from batch.money import format_yuan

    return format_yuan(fen)


def _month(text: str) -> int:
    """A `--month` value: YYYYMM, or a usage error (exit 2)."""
    if not (len(text) == 6 and text.isdigit() and 1 <= int(text[4:]) <= 12):
        raise click.BadParameter(f"应为YYYYMM，实际为{text}", param_hint="--month")
    return int(text)


def _operate(action: Callable[[], T]) -> T:
    """Run an operator action under `_reported`."""
    with _reported():
        return action()
    raise AssertionError("unreachable")  # fail() exits


def main() -> None:
    from jobs import process

    process.setup(logging.WARNING)
    hpf(prog_name="hpf")


if __name__ == "__main__":  # `python -m jobs.cli`: how run-once --workers starts its workers
    main()
