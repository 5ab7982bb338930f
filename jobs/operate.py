"""What operators do to batches and accounts: see, rerun, reverse, verify, export, validate a local file.

Each function takes the store (and settings where SFTP is needed) and returns
plain values for the CLI to print as a table or as JSON. Refusals are
`OperationError` (a `TerminalError`) with a message that says why and what to
do instead.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from batch.money import format_yuan, parse_yuan
from db import accounts, audit, inbox, register
from db.register import Batch
from db.tables import SUSPENSE_PREFIX
from jobs.files import write_atomically
from jobs.settings import Settings
from schemas.codes import Problem
from schemas.errors import TerminalError
from schemas.statuses import STATUS_LABELS, STEP_LABELS, BatchStatus, Outcome

if TYPE_CHECKING:
    from batch.change_report import ChangeReport
    from batch.validate import Report
    from db.store import Store

# The views (list, show, member, audit) take the engine and import no polars: they answer at once.
# What posts, restates or validates imports the ledger, the results and the validator where it runs.

SHANGHAI = ZoneInfo("Asia/Shanghai")


class OperationError(TerminalError):
    """The operation was refused or failed; nothing was changed."""


BATCH_COLUMNS = ("id", "unit_account", "month", "file_name", "status", "step", "rows", "posted_fen", "attempts",
                 "last_error", "created_at", "updated_at")  # fmt: skip


def _in_zone(at: datetime, zone: ZoneInfo) -> datetime:
    """A database time (SQLite hands back naive UTC) in the centre's zone."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone)


def local_time(at: datetime | None, zone: ZoneInfo) -> str | None:
    """A database time in the centre's zone, to the second: `2026-11-22 10:00:01`."""
    return None if at is None else _in_zone(at, zone).strftime("%Y-%m-%d %H:%M:%S")


def _batch_dict(batch: Batch, zone: ZoneInfo = SHANGHAI, max_attempts: int | None = None) -> dict[str, Any]:
    d = {k: getattr(batch, k) for k in BATCH_COLUMNS}
    for k in ("created_at", "updated_at"):
        d[k] = _in_zone(d[k], zone).isoformat(timespec="seconds")
    d["updated_local"] = local_time(batch.updated_at, zone)
    d["attention"] = attention(batch, max_attempts)
    return d


def attention(batch: Batch, max_attempts: int | None) -> str | None:
    """What a person must know about a batch at a glance, or None when it needs nobody."""
    if batch.status == BatchStatus.FAILED:
        if max_attempts is not None and batch.attempts >= max_attempts:
            return "重试次数已用完，需人工处理"
        return "失败，等待自动重试"
    if batch.last_error:
        return f"{STATUS_LABELS.get(batch.status, batch.status)}，但{STEP_LABELS[batch.step]}失败"
    return None


def list_batches(
    engine: Engine,
    status: str | None = None,
    limit: int = 500,
    *,
    unit: str | None = None,
    month: int | None = None,
    attention_only: bool = False,
    zone: ZoneInfo = SHANGHAI,
    max_attempts: int | None = None,
) -> list[dict[str, Any]]:
    """Batches needing attention first (FAILED, then any with an error), then the newest."""
    wanted = BatchStatus(status.upper()) if status else None
    with engine.connect() as conn:
        found = register.listing(conn, wanted, limit, unit=unit, month=month, attention=attention_only)
    return [_batch_dict(b, zone, max_attempts) for b in found]


def inbox_problems(engine: Engine, unit: str | None = None, zone: ZoneInfo = SHANGHAI) -> list[dict[str, Any]]:
    """Things in inboxes that no batch will ever report: each with when it was first and last seen."""
    with engine.connect() as conn:
        rows = inbox.listing(conn, unit)
    return [
        {
            "unit_account": r.unit_account,
            "name": r.name,
            "message": r.message,
            "first_seen": local_time(r.first_seen, zone),
            "last_seen": local_time(r.last_seen, zone),
            "told_employer": bool(r.told_employer),
        }
        for r in rows
    ]


def show_batch(engine: Engine, batch_id: int, zone: ZoneInfo = SHANGHAI) -> dict[str, Any]:
    with engine.connect() as conn:
        batch = register.get(conn, batch_id)
        if batch is None:
            raise OperationError(f"没有批次{batch_id}")
        history = register.history(conn, batch_id)
        names = register.result_names(conn, batch_id)
        documents = register.results(conn, batch_id, suffix=".result.json")  # not the CSV and XLSX
    document: dict[str, Any] = next((json.loads(d) for d in documents.values()), {})
    return {
        **_batch_dict(batch, zone),
        "sha256": batch.sha256,
        "duplicate_of": batch.duplicate_of,
        "total_fen": batch.total_fen,
        "posted_rows": batch.posted_rows,
        "rejected_rows": batch.rejected_rows,
        "results": names,
        "errors": document.get("errors", []),
        "history": [
            {"at": local_time(h.at, zone), "status": h.status, "step": h.step, "message": h.message} for h in history
        ],
    }


def reverse_batch(
    store: Store,
    batch_id: int,
    reason: str,
    *,
    by: str,
    xlsx_detail_rows: int,
    today: date | None = None,
    via: str = audit.CLI,
) -> dict[str, Any]:
    """Undo a POSTED batch with compensating entries; only the employer's latest posted month.

    The batch's result files are restated as REVERSED in the same transaction
    and uploaded again by the next cycle (SPEC §6): the employer is told.
    """
    from batch.results import restated
    from db import ledger

    reason = reason.strip()
    if not reason:
        raise OperationError("冲销必须说明原因（--reason）")
    with store.engine.begin() as conn:
        reversed_ = ledger.reverse_latest(conn, batch_id, f"{reason}（操作人：{by}）", booked_on=today)
        audit.record(conn, by, "reverse", target=f"batch {batch_id}", reason=reason,
                     detail=f"{reversed_.rows}行 {format_yuan(reversed_.total_fen)}元", via=via)  # fmt: skip
        files = register.results(conn, batch_id)
        if files:
            new = restated(
                files, status=BatchStatus.REVERSED, reason=reason, posted_rows=0, posted_fen=0,
                xlsx_detail_rows=xlsx_detail_rows,
            )  # fmt: skip
            register.restate(conn, batch_id, BatchStatus.REVERSED, new, "结果文件已改为“已冲销”，待重新上传")
    return {"id": batch_id, "status": BatchStatus.REVERSED, "rows": reversed_.rows, "amount_fen": reversed_.total_fen}


# ---------------------------------------------------------------- funds (SPEC §7, §9)


def funds_view(
    settings: Settings, store: Store, *, unit: str | None, unidentified: bool, limit: int = 1000, offset: int = 0
) -> dict[str, Any]:
    """`hpf funds list`: bank movements with how each was matched, and the suspense balances."""
    from db import funds

    settings.require_funds()
    with store.engine.connect() as conn:
        lines = funds.credits(conn, unit=unit, unidentified=unidentified, limit=limit, offset=offset)
        centre = funds.centre_balances(conn)
    suspense = {
        code[1:]: b for code, b in centre.items() if code.startswith(SUSPENSE_PREFIX) and unit in (None, code[1:])
    }
    return {
        "credits": lines,
        "suspense": dict(sorted(suspense.items())),
        "unidentified_fen": centre.get("UNIDENTIFIED", 0),
        "exceptions_fen": centre.get("EXCEPTIONS", 0),
    }


def funds_attention(settings: Settings, store: Store) -> list[dict[str, Any]]:
    """Unidentified credits and exceptions, for `batches list --attention` (none in immediate mode)."""
    from db import funds

    if not settings.funds.arrival:
        return []
    with store.engine.connect() as conn:
        return funds.needing_attention(conn)


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise OperationError("必须说明原因（--reason）")
    return reason


def assign_credit(
    settings: Settings, store: Store, line_id: int, unit: str, reason: str, *, by: str, via: str = audit.CLI
) -> dict[str, Any]:
    """Give an unidentified credit to an employer (暂收分摊), then post the lists it now covers."""
    from db import funds
    from jobs import funding

    settings.require_funds()
    reason = _reason(reason)
    with store.engine.begin() as conn:
        amount = funds.assign(conn, line_id, unit, actor=by, reason=reason, today=settings.today)
        audit.record(conn, by, "assign", target=f"credit {line_id}", reason=reason,
                     detail=f"分摊给单位{unit} {format_yuan(amount)}元", via=via)  # fmt: skip
    settled = funding.settle(store, settings.pipeline(), units=[unit])
    return {"credit": line_id, "unit_account": unit, "amount_fen": amount, "posted": settled.outcomes.get("POSTED", 0)}


def transfer_suspense(
    settings: Settings, store: Store, source: str, target: str, amount: str, reason: str, *, by: str,
    via: str = audit.CLI,
) -> dict[str, Any]:  # fmt: skip
    """Move suspense money between two employers (未分摊转移), then post what the receiver's money now covers."""
    from db import funds
    from jobs import funding

    settings.require_funds()
    reason = _reason(reason)
    fen = parse_yuan(amount)
    if fen is None or fen <= 0:
        raise OperationError(f"金额应为大于0的元金额（至多两位小数），实际为“{amount}”")
    with store.engine.begin() as conn:
        funds.transfer(conn, source, target, fen, actor=by, reason=reason, today=settings.today)
        audit.record(conn, by, "transfer", target=f"{source} -> {target}", reason=reason,
                     detail=f"{format_yuan(fen)}元", via=via)  # fmt: skip
    settled = funding.settle(store, settings.pipeline(), units=[target])
    return {"from": source, "to": target, "amount_fen": fen, "posted": settled.outcomes.get("POSTED", 0)}


def audit_view(engine: Engine, since: datetime | None, zone: ZoneInfo) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = audit.since(conn, since)
    return [{**r, "at": local_time(r["at"], zone)} for r in rows]


def os_user() -> str:
    """Who is at the command line, for the record (SPEC §7: the operating system user)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no passwd entry (some containers)
        import os

        return f"uid {os.getuid()}"


def republish(settings: Settings, store: Store) -> str:
    """Upload restated results now, if SFTP is configured and reachable; else the next cycle does (in words)."""
    from jobs import pipeline
    from schemas.errors import HpfError
    from sftp.client import SftpClient

    if settings.sftp is None:
        return "结果文件将在下一轮处理时重新上传到单位的outbox（未配置SFTP）。"
    try:
        with SftpClient(settings.require_sftp()) as client:
            failed = pipeline.republish(store, client)
    except HpfError as e:
        return f"结果文件暂未重新上传（{e}），下一轮处理时会再上传。"
    if failed:
        return "结果文件暂未重新上传：" + "；".join(failed) + "；下一轮处理时会再上传。"
    return "已把“已冲销”的结果文件重新上传到单位的outbox。"


def rerun_batch(settings: Settings, store: Store, batch_id: int, *, by: str, via: str = audit.CLI) -> Outcome:
    """Resume a FAILED batch from its step; its source must still be in the employer's inbox."""
    from jobs import pipeline
    from sftp.client import SftpClient

    with store.engine.connect() as conn:
        batch = register.get(conn, batch_id)
    if batch is None:
        raise OperationError(f"没有批次{batch_id}")
    if not batch.failed_before:
        raise OperationError(f"批次{batch_id}的状态是{batch.status}，没有需要重试的失败")
    with SftpClient(settings.require_sftp()) as client:
        for ready in client.ready_files(batch.unit_account):
            if (ready.name, ready.size, ready.mtime) == (batch.file_name, batch.file_size, batch.file_mtime):
                with store.engine.begin() as conn:  # the file is there: the rerun happens
                    audit.record(conn, by, "rerun", target=f"batch {batch_id}", detail=batch.file_name, via=via)
                return pipeline.process(settings.validation(), settings.pipeline(), store, client, ready)
    raise OperationError(
        f"批次{batch_id}的源文件 {batch.file_name} 已不在单位{batch.unit_account}的收件目录中（或已被改动），无法重试；"
        "如需重新处理，请单位重新上传"
    )


def member_view(engine: Engine, account: str, limit: int = 200, *, with_id: bool = False) -> dict[str, Any]:
    """`hpf accounts show`; `with_id` adds the ID number, for the console to show whole or masked by role."""
    with engine.connect() as conn:
        member = accounts.member(conn, account)
        if member is None:
            raise OperationError(f"没有个人账号{account}")
        rows = accounts.entries_of(conn, account, limit)
        events = accounts.history(conn, account)
    return {
        "member_account": member.member_account,
        "unit_account": member.unit_account,
        "name": member.name,
        "status": member.status,
        "base_fen": member.base_fen,
        "balance_fen": member.balance_fen,
        "paid_through": member.paid_through,
        **({"id_number": member.id_number} if with_id else {}),
        "entries": [
            {
                "id": r.id,
                "batch_id": r.batch_id,
                "kind": r.kind,
                "part": r.part,
                "month": r.month,
                "amount_fen": r.amount_fen,
                "booked_on": r.booked_on.isoformat() if r.booked_on else None,
            }
            for r in rows
        ],
        "history": [
            {
                "month": e.month,
                "change": e.change,
                "reason": e.reason,
                "batch_id": e.batch_id,
                "old_unit": e.old_unit,
                "new_unit": e.new_unit,
                "old_status": e.old_status,
                "new_status": e.new_status,
                "old_base_fen": e.old_base_fen,
                "new_base_fen": e.new_base_fen,
                "at": e.created_at.isoformat() if e.created_at else None,
            }
            for e in events
        ],
    }


def export_accounts(store: Store, path: Path) -> int:
    """Every member as `member_account,unit_account,status,balance,paid_through` (balance in yuan), UTF-8 with BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("member_account", "unit_account", "status", "balance", "paid_through"))
    n = 0
    with store.engine.connect() as conn:
        for account, unit, status, balance, paid in accounts.balances(conn):
            writer.writerow((account, unit, status, format_yuan(balance), paid or ""))
            n += 1
    write_atomically(path, b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return n


def opened_accounts(store: Store) -> list[dict[str, Any]]:
    """The accounts change lists opened, oldest first (the demo names them)."""
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in accounts.opened(conn)]


def verify(store: Store) -> list[Problem]:
    from db import ledger

    with store.engine.connect() as conn:
        return ledger.verify(conn)


def validate_file(
    settings: Settings, store: Store, path: Path, unit: str | None, marker: Path | None
) -> Report | ChangeReport:
    """`hpf validate`: one local file (a remittance or change list) checked exactly as the pipeline would, applying nothing."""
    from batch.validate import Submission
    from jobs import decisions

    submission = Submission(
        file_name=path.name,
        data=path.read_bytes(),
        inbox_unit=unit,
        marker=marker.read_bytes() if marker is not None else None,
    )
    return decisions.check(submission, settings.validation(), store)


def add_user(engine: Engine, name: str, role: str, password: str, *, by: str) -> None:
    """`hpf users add`: a console user with an argon2 hash of its password, audited under `by`."""
    from batch.credentials import hashed, name_problem, password_problem
    from db import users
    from schemas.roles import Role

    problem = name_problem(name) or password_problem(password, name)
    if problem:
        raise users.UserError(problem)
    with engine.begin() as conn:
        users.add(conn, name, Role(role), hashed(password), by=by)


def disable_user(engine: Engine, name: str, *, by: str, reason: str | None) -> None:
    from db import users

    with engine.begin() as conn:
        users.disable(conn, name, by=by, reason=reason)


def users_view(engine: Engine, zone: ZoneInfo) -> list[dict[str, Any]]:
    from db import users

    with engine.connect() as conn:
        rows = users.listed(conn)
    return [
        {**r, "created_at": local_time(r["created_at"], zone), "disabled_at": local_time(r["disabled_at"], zone)}
        for r in rows
    ]
