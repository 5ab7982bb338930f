"""`hpf demo`: the whole job on the built-in samples, in a throw-away folder.

An embedded SFTP server serves a fresh folder, a fresh SQLite database gets
the sample master data, and the employers "upload" the November filing: good
files in CSV (UTF-8 and GB18030) and XLSX, a draft with a wrong amount, the
good file sent a second time, and a file from a closed employer; then the
bank's notices of the day pay them (one exactly, one short then topped up,
one by its name) and bring one credit nobody can be found for. One cycle
takes them all; the summary says what was posted, rejected and left in
suspense, and where the results are.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from batch.money import format_yuan
from db.engine import make_engine, upgrade
from db.store import Store
from jobs import importing, operate, pipeline
from jobs.render import styled
from jobs.settings import load_settings
from schemas.errors import TerminalError
from sftp.client import SftpClient
from sftp.server import EmbeddedSftpServer

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DATABASE = "hpf-demo.db"
DEMO_TODAY = "2026-11-22"
COLLECTION_ACCOUNT = "51050188360000000001"
"""The samples are the November 2026 filing; the demo replays that day."""

UPLOADS = (
    # (unit, sample, name in the inbox): in upload order
    ("0101000123", "invalid/r_amount/0101000123_202611.csv", "0101000123_202611_draft.csv"),
    # A hires 孙悦: her change list and the list she is paid on (account left empty) are sent together.
    ("0101000123", "cycle/0101000123/0101000123_202611.csv", "0101000123_202611.csv"),
    ("0101000123", "cycle/0101000123/BG_0101000123_202611.csv", "BG_0101000123_202611.csv"),
    ("0101000123", "cycle/0101000123/0101000123_202611.csv", "0101000123_202611_resent.csv"),
    ("0101000456", "valid/0101000456_202611.csv", "0101000456_202611.csv"),
    # D seals 何雪, who left, and files November without her.
    ("0101000321", "cycle/0101000321/BG_0101000321_202611.csv", "BG_0101000321_202611.csv"),
    ("0101000321", "cycle/0101000321/0101000321_202611.csv", "0101000321_202611.csv"),
    ("0101000789", "invalid/f_employer_status/0101000789_202611.csv", "0101000789_202611.csv"),
    # The bank's notices of the day: A paid exactly, B short then topped up, D by its name, one unidentified.
    ("_bank", f"bank/DZTZ_{COLLECTION_ACCOUNT}_20261122_001.txt", f"DZTZ_{COLLECTION_ACCOUNT}_20261122_001.txt"),
    ("_bank", f"bank/DZTZ_{COLLECTION_ACCOUNT}_20261122_002.txt", f"DZTZ_{COLLECTION_ACCOUNT}_20261122_002.txt"),
)


class DemoRefused(TerminalError):
    """The demo cannot run where it was asked to; nothing was changed."""


def run(console: Console, keep: Path | None = None) -> int:
    if keep is not None and (keep / DATABASE).exists():
        raise DemoRefused(
            f"目录 {keep} 里已有一次演示的数据（{DATABASE}）：演示每次从空目录开始，请换一个新目录，或先删除该目录"
        )
    with tempfile.TemporaryDirectory(prefix="hpf-demo-") as tmp:
        home = (keep or Path(tmp)).resolve()
        home.mkdir(parents=True, exist_ok=True)
        with EmbeddedSftpServer(home / "sftp", home / "keys") as server:
            return _demo(console, home, server, kept=keep is not None)


def _demo(console: Console, home: Path, server: EmbeddedSftpServer, *, kept: bool) -> int:
    config = home / "hpf.toml"
    config.write_text(
        f"""[database]
url = "sqlite:///{DATABASE}"

[sftp]
host = "127.0.0.1"
port = {server.port}
username = "hpf"
private_key = "{server.private_key}"
known_hosts = "{server.known_hosts}"
root = "/"

[funds]
mode = "arrival"
accounts = ["{COLLECTION_ACCOUNT}"]
""",
        "utf-8",
    )
    settings = load_settings(config, environ={"HPF_TODAY": DEMO_TODAY})
    store = Store(make_engine(settings.database.url))
    upgrade(store.engine)
    counts = importing.import_accounts(
        store, SAMPLES / "master" / "employers.csv", SAMPLES / "master" / "members.csv", today=settings.today
    )
    if isinstance(counts, list):
        console.print("样例主数据有误：", *map(str, counts))
        return 1
    for n, (unit, sample, name) in enumerate(UPLOADS):
        _upload(server.root, unit, SAMPLES / sample, name, mtime=1_795_300_000 + 60 * n)

    console.print(
        styled(
            ("hpf demo", "bold"),
            f"（{DEMO_TODAY}）：内置SFTP服务器 127.0.0.1:{server.port}，数据库 {settings.database.url}",
        )
    )
    console.print(
        f"主数据：{counts.employers_new}个单位，{counts.members_new}名职工；{len(UPLOADS)}个文件已上传到各单位收件目录。"
    )
    with SftpClient(settings.require_sftp()) as client:
        summary = pipeline.run_cycle(settings.validation(), settings.pipeline(), store, client)
    console.print(summary.line())

    table = Table(title="本轮结果", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    room = console.width - (4 + 9 + 4 + 10) - 2 * 7 - 1  # the fixed columns and the gaps: the rest for the names
    table.add_column("批次", justify="right", no_wrap=True, min_width=4)
    table.add_column("文件", no_wrap=True, overflow="ellipsis", max_width=max(12, room * 5 // 9))
    table.add_column("结果", no_wrap=True, min_width=9)
    table.add_column("行数", justify="right", no_wrap=True, min_width=4)
    table.add_column("入账（元）", justify="right", no_wrap=True, min_width=10)
    table.add_column("原因代码", no_wrap=True, overflow="ellipsis", max_width=max(10, room * 4 // 9))
    for b in sorted(operate.list_batches(store.engine), key=lambda b: b["id"]):
        shown = operate.show_batch(store.engine, b["id"])
        codes = sorted({e["code"] for e in shown["errors"]} - {"F_ROW_ERRORS"})
        color = {"POSTED": "green", "APPLIED": "green", "BOOKED": "green", "REJECTED": "red", "DUPLICATE": "yellow",
                 "AWAITING_FUNDS": "yellow"}.get(b["status"], "")  # fmt: skip
        table.add_row(
            str(b["id"]), b["file_name"], Text(b["status"], style=color), str(b["rows"] or 0),
            "-" if b["posted_fen"] is None else format_yuan(b["posted_fen"]), " ".join(codes) or "-",
        )  # fmt: skip
    console.print(table)
    console.print("每个文件的结果在该单位的 outbox/ 中：文件名.result.json、.csv、.xlsx。")
    for hire in operate.opened_accounts(store):
        console.print(
            f"新开户：{hire['name']} 个人账号{hire['member_account']}（单位{hire['unit_account']}，批次{hire['batch_id']}）"
        )
    money = operate.funds_view(settings, store, unit=None, unidentified=False)
    held = "、".join(f"{u} {format_yuan(f)}元" for u, f in money["suspense"].items() if f) or "无"
    console.print(
        f"银行到账{sum(c['kind'] == 'credit' for c in money['credits'])}笔；单位暂收余额：{held}；"
        f"未识别到账{format_yuan(money['unidentified_fen'])}元（hpf funds list --unidentified，hpf funds assign 分摊）。"
    )
    problems = operate.verify(store)
    if problems:
        console.print(styled(("账务检查未通过：", "red"), "；".join(p.message for p in problems)))
        return 1
    console.print("账务检查通过：每个余额等于其分录之和，全部账户合计为零，到账资金的去向与登记相符。")
    if kept:
        console.print(f"SFTP目录（收件、结果、归档）：{server.root}")
        console.print(f"查看被拒文件的每个错误：hpf --config {config} batches show 1")
    else:
        console.print("演示数据在临时目录中，结束后已删除；用 hpf demo --keep 目录 保留数据库和SFTP目录以便查看。")
    return 0


def _upload(root: Path, unit: str, source: Path, name: str, mtime: int) -> None:
    """An employer's upload: the file, then its ready marker."""
    inbox = root / unit / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_bytes(source.read_bytes())
    marker = source.with_name(source.name + ".done")
    (inbox / f"{name}.done").write_bytes(marker.read_bytes() if marker.exists() and name == source.name else b"")
    os.utime(inbox / name, (mtime, mtime))
