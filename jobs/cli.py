"""The `hpf` command: thin commands over `jobs` and `batch`; exceptions become exit codes.

Exit status (SPEC §7): 0 done, 1 the operation failed (or the file has
errors, for `validate`), 2 usage error (click's own).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from batch.db import make_engine, upgrade
from batch.results import result_document
from batch.store import Store
from jobs import check, master, render
from jobs.settings import ConfigError, Settings, load_settings

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
        render.print_json(result_document(report, batch_id=None, status=status), out)
    else:
        render.print_report(report, out)
    sys.exit(0 if report.ok else 1)


@hpf.command("run-once")
@pass_context
def run_once(ctx: Context) -> None:
    """处理一轮：取走每个就绪文件，检查、入账、回写结果、归档。轮次能运行则退出码为0。"""
    from jobs import pipeline
    from sftp.client import SftpClient, SftpError

    settings = ctx.settings
    try:
        sftp = settings.require_sftp()
        with SftpClient(sftp) as client:
            summary = pipeline.run_cycle(settings, ctx.store, client)
    except ConfigError as e:
        fail("配置有误：" + "；".join(e.problems))
    except SftpError as e:
        fail(str(e))
    except SQLAlchemyError as e:
        fail(_db_problem(e))
    out.print(summary.line(), highlight=False)
    for failure in summary.failed:
        err.print(f"[yellow]失败：[/]{failure}（详见 hpf batches list --status FAILED）", highlight=False)


@hpf.command("demo")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="在此目录保留演示数据（默认用临时目录）")
def demo_command(keep: Path | None) -> None:
    """用内置样例演示：SQLite、导入主数据、检查每个样例文件。"""
    from jobs import demo

    sys.exit(demo.run(out, keep))


def _db_problem(e: SQLAlchemyError) -> str:
    text = str(e).splitlines()[0]
    if "no such table" in text or "does not exist" in text:
        return "数据库尚未初始化：请先运行 hpf db upgrade"
    return f"数据库操作失败：{e.__class__.__name__}: {text}"


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    hpf(prog_name="hpf")
