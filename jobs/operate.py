"""What operators do to batches and accounts: see, rerun, reverse, verify, export.

Each function takes the store (and settings where SFTP is needed) and returns
plain values for the CLI to print as a table or as JSON. Refusals are
`OperationError` with a message that says why and what to do instead.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, update

from batch import ledger, register
from batch.db import batch_events, batches, employers, entries, members
from batch.money import format_yuan
from batch.store import Store
from jobs.settings import Settings


class OperationError(Exception):
    """The operation was refused or failed; nothing was changed."""


BATCH_COLUMNS = ("id", "unit_account", "month", "file_name", "status", "step", "rows", "posted_fen", "attempts",
                 "last_error", "created_at", "updated_at")  # fmt: skip


def _batch_dict(row: Any) -> dict[str, Any]:
    d = {k: getattr(row, k) for k in BATCH_COLUMNS}
    for k in ("created_at", "updated_at"):
        d[k] = d[k].isoformat() if d[k] is not None else None
    return d


def list_batches(store: Store, status: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """Batches needing attention first (FAILED, then any with an error), then the newest."""
    attention = case((batches.c.status == "FAILED", 0), (batches.c.last_error.is_not(None), 1), else_=2)
    query = select(batches).order_by(attention, batches.c.id.desc()).limit(limit)
    if status:
        query = query.where(batches.c.status == status.upper())
    with store.engine.connect() as conn:
        return [_batch_dict(r) for r in conn.execute(query)]


def show_batch(store: Store, batch_id: int) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = register.get(conn, batch_id)
        if row is None:
            raise OperationError(f"没有批次{batch_id}")
        history = conn.execute(
            select(batch_events.c.at, batch_events.c.status, batch_events.c.step, batch_events.c.message)
            .where(batch_events.c.batch_id == batch_id)
            .order_by(batch_events.c.id)
        ).all()
        names = register.result_names(conn, batch_id)
        documents = register.results(conn, batch_id, suffix=".result.json")  # not the CSV and XLSX
    document: dict[str, Any] = next((json.loads(d) for d in documents.values()), {})
    return {
        **_batch_dict(row),
        "sha256": row.sha256,
        "duplicate_of": row.duplicate_of,
        "total_fen": row.total_fen,
        "posted_rows": row.posted_rows,
        "rejected_rows": row.rejected_rows,
        "results": names,
        "errors": document.get("errors", []),
        "history": [
            {"at": h.at.isoformat() if h.at else None, "status": h.status, "step": h.step, "message": h.message}
            for h in history
        ],
    }


def reverse_batch(store: Store, batch_id: int, reason: str) -> dict[str, Any]:
    """Undo a POSTED batch with compensating entries; only the employer's latest posted month."""
    if not reason.strip():
        raise OperationError("冲销必须说明原因（--reason）")
    with store.engine.begin() as conn:
        batch = conn.execute(select(batches).where(batches.c.id == batch_id).with_for_update()).one_or_none()
        if batch is None:
            raise OperationError(f"没有批次{batch_id}")
        if batch.status != "POSTED":
            raise OperationError(f"批次{batch_id}的状态是{batch.status}，只有已入账（POSTED）的批次可以冲销")
        paid = conn.execute(
            select(employers.c.paid_through).where(employers.c.unit_account == batch.unit_account)
        ).scalar()
        later = conn.execute(
            select(func.count()).where(
                batches.c.unit_account == batch.unit_account,
                batches.c.status == "POSTED",
                batches.c.month > batch.month,
            )
        ).scalar_one()
        if paid != batch.month or later:
            raise OperationError(
                f"批次{batch_id}（{batch.month}）不是单位{batch.unit_account}最近入账的月份（已缴至{paid}）：只能从最近的月份起逐月冲销"
            )
        reversed_ = ledger.reverse(conn, batch_id)
        conn.execute(update(batches).where(batches.c.id == batch_id).values(status="REVERSED", updated_at=func.now()))
        register.event(conn, batch_id, "REVERSED", batch.step, f"冲销：{reason.strip()}")
    return {"id": batch_id, "status": "REVERSED", "rows": reversed_.rows, "amount_fen": reversed_.total_fen}


def rerun_batch(settings: Settings, store: Store, batch_id: int) -> str:
    """Resume a FAILED batch from its step; its source must still be in the employer's inbox."""
    from jobs import pipeline
    from sftp.client import SftpClient

    with store.engine.connect() as conn:
        batch = register.get(conn, batch_id)
    if batch is None:
        raise OperationError(f"没有批次{batch_id}")
    if batch.status != "FAILED" and not batch.last_error:
        raise OperationError(f"批次{batch_id}的状态是{batch.status}，没有需要重试的失败")
    with SftpClient(settings.require_sftp()) as client:
        for ready in client.ready_files(batch.unit_account):
            if (ready.name, ready.size, ready.mtime) == (batch.file_name, batch.file_size, batch.file_mtime):
                return pipeline.process(settings, store, client, ready)
    raise OperationError(
        f"批次{batch_id}的源文件 {batch.file_name} 已不在单位{batch.unit_account}的收件目录中（或已被改动），无法重试；"
        "如需重新处理，请单位重新上传"
    )


def member_view(store: Store, account: str, limit: int = 200) -> dict[str, Any]:
    with store.engine.connect() as conn:
        member = conn.execute(select(members).where(members.c.member_account == account)).one_or_none()
        if member is None:
            raise OperationError(f"没有个人账号{account}")
        rows = conn.execute(
            select(entries.c.id, entries.c.batch_id, entries.c.kind, entries.c.part, entries.c.month,
                   entries.c.amount_fen, entries.c.created_at)
            .where(entries.c.account == account)
            .order_by(entries.c.id.desc())
            .limit(limit)
        ).all()  # fmt: skip
    return {
        "member_account": member.member_account,
        "unit_account": member.unit_account,
        "name": member.name,
        "status": member.status,
        "base_fen": member.base_fen,
        "balance_fen": member.balance_fen,
        "paid_through": member.paid_through,
        "entries": [
            {
                "id": r.id,
                "batch_id": r.batch_id,
                "kind": r.kind,
                "part": r.part,
                "month": r.month,
                "amount_fen": r.amount_fen,
                "at": r.created_at.isoformat() if r.created_at else None,
            }
            for r in rows
        ],
    }


def export_accounts(store: Store, path: Path) -> int:
    """Every member as `member_account,unit_account,status,balance,paid_through` (balance in yuan), UTF-8 with BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(("member_account", "unit_account", "status", "balance", "paid_through"))
    n = 0
    with store.engine.connect() as conn:
        result = conn.execution_options(yield_per=50_000).execute(
            select(members.c.member_account, members.c.unit_account, members.c.status, members.c.balance_fen,
                   members.c.paid_through).order_by(members.c.member_account)
        )  # fmt: skip
        for account, unit, status, balance, paid in result:
            writer.writerow((account, unit, status, format_yuan(balance), paid or ""))
            n += 1
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    tmp.replace(path)
    return n


def verify(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return ledger.verify(conn)
