"""Funds in the cycle (SPEC §9): arrival files booked, awaiting lists posted from suspense, expired, superseded.

The pipeline hands a file from `_bank/inbox` to `decide_arrivals`, which
books it in one transaction with its outcome and result; `settle` then posts
each employer's awaiting lists in month order while its suspense covers the
next one, each posting its own transaction under the batch's lock, and
expires the lists that waited too long. Every list whose status changes has
its result files restated in the same transaction and uploaded again by the
cycle (`pipeline.republish`).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from batch.arrivals import ArrivalFile, read_arrivals
from batch.money import format_yuan
from batch.notice import Funds, payment_notice
from batch.results import Restatement, restated_many
from batch.stopwatch import IDLE, Stopwatch
from db import funds, ledger, register
from db.errors import database_errors
from db.locks import try_lock, try_locks
from db.store import Store
from db.tables import batches, employers, member_events, suspense_of
from jobs.crashes import crash_point
from jobs.settings import PipelineOptions
from schemas.codes import Problem
from schemas.statuses import BatchStatus
from sftp.client import BANK

log = logging.getLogger(__name__)


@dataclass
class Settled:
    """What one settling pass did."""

    outcomes: Counter[str] = field(default_factory=Counter)


def today_of(options: PipelineOptions) -> date:
    assert options.today is not None, "arrival mode needs the centre's today"
    return options.today


# ---------------------------------------------------------------- arrival files


def decide_arrivals(
    options: PipelineOptions,
    store: Store,
    file_name: str,
    data: bytes,
    marker: bytes | None,
    batch_id: int,
    *,
    max_rows: int,
    too_large: str | None = None,
    watch: Stopwatch = IDLE,
) -> BatchStatus:
    """Book one arrival file with its outcome and result in one transaction; returns its status."""
    with watch.stage("validate"):
        arrival = read_arrivals(file_name, data, accounts=options.funds.accounts, marker=marker, max_rows=max_rows)
    problems = list(arrival.problems)
    if too_large:
        problems = [Problem("F_TOO_LARGE", too_large)]
    with store.engine.connect() as conn:
        earlier = register.earlier_arrival_file(conn, arrival.sha256, BANK, before=batch_id)
    duplicate = earlier is not None and not too_large  # a file too large was never read: its bytes say nothing
    if earlier is not None and duplicate:
        problems = [Problem("F_DUPLICATE_FILE", f"与批次{earlier[0]}（{earlier[1]}）的文件内容完全相同，未再次登记")]
    with watch.stage("post"), store.engine.begin() as conn:
        booking = None
        if not problems:
            booked = funds.book(conn, batch_id, arrival, today=today_of(options))
            if isinstance(booked, list):
                problems = booked
            else:
                booking = booked
                crash_point("booking")
                _wait_again(conn, booking.unposted, options)
        status = (
            BatchStatus.BOOKED if booking is not None else BatchStatus.DUPLICATE if duplicate else BatchStatus.REJECTED
        )
        files = {arrival_result_name(file_name): _arrival_result(arrival, batch_id, status, booking, problems)}
        register.decide(
            conn,
            batch_id,
            status=status,
            month=None,
            sha256=arrival.sha256,
            counts={
                "rows": arrival.lines.height,
                "posted_rows": booking.credits + booking.reversals if booking else 0,
                "rejected_rows": len({p.row_no for p in problems if p.row_no}),
                "total_fen": int(arrival.lines["amount_fen"].sum()) if arrival.ok else None,
                "posted_fen": booking.booked_fen if booking else 0,
            },
            duplicate_of=earlier[0] if earlier is not None and duplicate else None,
            files=files,
            message=_arrival_message(status, booking, problems),
        )
    crash_point("committed")
    return status


def arrival_result_name(file_name: str) -> str:
    """`_bank/outbox/{stem}.result.json` (SPEC §9)."""
    stem = file_name[: -len(".txt")] if file_name.endswith(".txt") else file_name
    return f"{stem}.result.json"


def _arrival_result(
    arrival: ArrivalFile, batch_id: int, status: BatchStatus, booking: funds.Booking | None, problems: list[Problem]
) -> bytes:
    doc: dict[str, Any] = {
        "file": arrival.file_name,
        "sha256": arrival.sha256,
        "account": arrival.account,
        "date": arrival.day.isoformat() if arrival.day else None,
        "batch_id": batch_id,
        "status": status,
        "lines": arrival.lines.height,
        "credits": booking.credits if booking else 0,
        "debits": booking.debits if booking else 0,
        "reversals": booking.reversals if booking else 0,
        "duplicates": booking.duplicates if booking else 0,
        "booked_fen": booking.booked_fen if booking else 0,
        "errors": [{"code": p.code, "line_no": p.row_no, "field": p.column, "message": p.message} for p in problems],
        "items": booking.items.to_dicts() if booking else [],
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _arrival_message(status: BatchStatus, booking: funds.Booking | None, problems: list[Problem]) -> str:
    if booking is not None:
        return (
            f"已登记到账{booking.credits}笔、冲正{booking.reversals}笔、其他{booking.debits}笔，"
            f"重复{booking.duplicates}笔，金额{format_yuan(booking.booked_fen)}元"
        )
    codes = Counter(p.code for p in problems)
    return ("重复文件：" if status == BatchStatus.DUPLICATE else "拒绝：") + "、".join(
        f"{c}×{n}" for c, n in codes.most_common()
    )


# ---------------------------------------------------------------- lists


def awaiting_notice(
    conn: Connection, funds_settings: Funds, unit: str, month: int, total_fen: int, since: date
) -> dict[str, Any]:
    """The payment notice; the suspense first pays the employer's earlier awaiting months, so only the rest counts."""
    ahead = conn.execute(
        select(func.coalesce(func.sum(batches.c.total_fen), 0)).where(
            batches.c.unit_account == unit, batches.c.status == BatchStatus.AWAITING_FUNDS, batches.c.month < month
        )
    ).scalar_one()
    held = funds.suspense_balance(conn, unit) - int(ahead)
    return payment_notice(funds_settings, unit, month, total_fen, held, since)


def supersede(conn: Connection, unit: str, month: int, by: int, options: PipelineOptions) -> None:
    """An awaiting list for the same month, replaced by a later valid one (in its decide transaction)."""
    older = conn.execute(
        select(batches.c.id).where(
            batches.c.unit_account == unit,
            batches.c.month == month,
            batches.c.status == BatchStatus.AWAITING_FUNDS,
            batches.c.id != by,
        )
    ).scalars()
    for batch_id in list(older):
        _restate(conn, int(batch_id), BatchStatus.SUPERSEDED, f"已被批次{by}的清册取代", options)


def _restate(
    conn: Connection, batch_id: int, status: BatchStatus, reason: str, options: PipelineOptions, **extra: Any
) -> None:
    batch = register.get(conn, batch_id)
    assert batch is not None
    _restate_many(conn, [(batch, status, reason, extra or None)], options)


Restating = tuple[register.Batch, BatchStatus, str, dict[str, Any] | None]
"""A batch as read in the transaction, its new status, why, and the fields its result document gains or loses."""


def _restate_many(conn: Connection, items: Sequence[Restating], options: PipelineOptions) -> None:
    """The batches' new statuses and their result files told again (`restated_many`), in the caller's transaction."""
    files = register.results_many(conn, [b.id for b, _, _, _ in items])
    told = []
    for batch, status, reason, extra in items:
        posted = status == BatchStatus.POSTED
        told.append(
            Restatement(
                files.get(batch.id, {}), status, "" if posted else reason,
                posted_rows=(batch.rows or 0) if posted else 0, posted_fen=(batch.total_fen or 0) if posted else 0,
                extra=extra,
            )
        )  # fmt: skip
    new = iter(restated_many([t for t in told if t.files], xlsx_detail_rows=options.xlsx_detail_rows))
    register.restate_many(
        conn,
        [
            (b, status, next(new) if t.files else {}, reason)
            for (b, status, reason, _), t in zip(items, told, strict=True)
        ],
    )


def _wait_again(conn: Connection, batch_ids: list[int], options: PipelineOptions) -> None:
    """Lists unposted because a credit that paid them was reversed: results say they wait again, with a new notice."""
    today = today_of(options)
    for batch_id in batch_ids:
        batch = register.get(conn, batch_id)
        assert batch is not None and batch.month is not None
        notice = awaiting_notice(conn, options.funds, batch.unit_account, batch.month, batch.total_fen or 0, today)
        _restate(
            conn, batch_id, BatchStatus.AWAITING_FUNDS, "付款到账被银行冲正，本清册的入账已冲销，待重新缴款",
            options, payment=notice, funded_by=None, receipt=None,
        )  # fmt: skip


SETTLE_GROUP = 500
"""Lists posted from suspense in one transaction (distinct employers; each list's outcome still all-or-nothing)."""


def settle(store: Store, options: PipelineOptions, *, units: list[str] | None = None, post: bool = True) -> Settled:
    """Expire what waited too long, then post each employer's awaiting lists in month order while its suspense covers them.

    In rounds: each employer's earliest awaiting list first, all employers'
    together (`_post_group`, a few hundred lists a transaction), then the
    next month of those whose list was posted. An employer stops at its first
    list the money does not cover, or that cannot be posted as it stands.
    """
    done = Settled()
    today = today_of(options)
    with database_errors(), store.engine.connect() as conn:
        stale = funds.expiring(conn, today, options.funds.expire_days)
    for chunk in _chunks(stale):
        done.outcomes[BatchStatus.EXPIRED] += _expire_group(store, options, chunk)
    if not post:
        return done
    with database_errors(), store.engine.connect() as conn:
        waiting = funds.awaiting(conn, units)
    queues: dict[str, list[register.Batch]] = {}
    for batch in waiting:
        queues.setdefault(batch.unit_account, []).append(batch)
    heads = [queue.pop(0) for queue in queues.values()]
    while heads:
        with database_errors(), store.engine.connect() as conn:
            held = funds.suspense_balances(conn, [b.unit_account for b in heads])
        covered = [b for b in heads if held[b.unit_account] >= (b.total_fen or 0)]
        outcomes: dict[int, BatchStatus | None] = {}
        for chunk in _chunks(covered):
            outcomes |= _post_group(store, options, chunk)
        for status in outcomes.values():
            if status is not None and status != BatchStatus.AWAITING_FUNDS:
                done.outcomes[status] += 1
        posted = [b.unit_account for b in covered if outcomes.get(b.id) == BatchStatus.POSTED]
        heads = [queues[unit].pop(0) for unit in posted if queues[unit]]
    return done


def _chunks(lists: list[register.Batch]) -> list[list[register.Batch]]:
    return [lists[i : i + SETTLE_GROUP] for i in range(0, len(lists), SETTLE_GROUP)]


def _expire_group(store: Store, options: PipelineOptions, chunk: list[register.Batch]) -> int:
    """Expire the lists of `chunk` still awaiting (those another worker holds are left to it); how many."""
    with try_locks(store.engine, [f"batch-{b.id}" for b in chunk]) as mine:
        with database_errors(), store.engine.begin() as conn:
            now = register.get_many(conn, [b.id for b in chunk if f"batch-{b.id}" in mine])
            due = [b for b in now.values() if b.status == BatchStatus.AWAITING_FUNDS]
            reasons = [
                f"自{b.awaiting_since}起超过{options.funds.expire_days}天未收到足额缴款，清册已失效" for b in due
            ]
            _restate_many(conn, [(b, BatchStatus.EXPIRED, r, None) for b, r in zip(due, reasons, strict=True)], options)
    return len(due)


def _post_group(store: Store, options: PipelineOptions, chunk: list[register.Batch]) -> dict[int, BatchStatus | None]:
    """Post from suspense the lists of `chunk` (one per employer) that stand as planned, in one transaction.

    What each list is after (None: another worker holds it). A list that no
    longer stands as planned (its roster changed, its month paid, its money
    gone) is taken alone by `post_awaiting`, which says why; so is every list
    of a group whose writing failed, so one list never holds the others back.
    """
    engine = store.engine
    outcomes: dict[int, BatchStatus | None] = {}
    alone: list[int] = []
    ready: list[register.Batch] = []
    today = today_of(options)
    with try_locks(engine, [f"batch-{b.id}" for b in chunk]) as mine:
        outcomes |= {b.id: None for b in chunk if f"batch-{b.id}" not in mine}
        try:
            with database_errors(), engine.begin() as conn:
                ledger.share_postings(conn)
                now = register.get_many(conn, [b.id for b in chunk if b.id not in outcomes])
                units = [b.unit_account for b in now.values()]
                state = {
                    u: (p, v)
                    for u, p, v in conn.execute(
                        select(employers.c.unit_account, employers.c.paid_through, employers.c.roster_version).where(
                            employers.c.unit_account.in_(units)
                        )
                    )
                }
                held = funds.suspense_balances(conn, units, for_update=True)
                for batch in now.values():
                    paid, version = state[batch.unit_account]
                    if batch.status != BatchStatus.AWAITING_FUNDS:
                        outcomes[batch.id] = None  # another worker took it since it was listed
                    elif (
                        (batch.roster_version is not None and version != batch.roster_version)
                        or (paid is not None and batch.month is not None and paid >= batch.month)
                        or held[batch.unit_account] < (batch.total_fen or 0)
                    ):
                        alone.append(batch.id)
                    else:
                        ready.append(batch)
                if ready:
                    _post_ready(conn, ready, held, options, today)
        except ledger.PostingConflict as e:
            log.warning("一组%d个待缴清册未能一并入账（%s），改为逐个入账", len(chunk), e)
            alone = [b.id for b in chunk if b.id not in outcomes]
            ready = []
        outcomes |= {b.id: BatchStatus.POSTED for b in ready}
    if ready:
        crash_point("committed")
    for batch_id in alone:
        outcomes[batch_id] = post_awaiting(store, options, batch_id)
    return outcomes


def _post_ready(
    conn: Connection, ready: list[register.Batch], held: dict[str, int], options: PipelineOptions, today: date
) -> None:
    """Post the lists, record the credits that paid them, and restate them (in the caller's transaction).

    Their result files are told again when next read, by the republishing
    that uploads them: not in this transaction, which holds the one writer.
    """
    rows = funds.list_deposits_many(conn, [b.id for b in ready])
    postings = []
    for b in ready:
        assert b.month is not None
        postings.append(
            ledger.Posting(b.id, b.unit_account, b.month, rows[b.id], roster_version=b.roster_version,
                           counter=suspense_of(b.unit_account))
        )  # fmt: skip
    ledger.post_many(conn, postings, booked_on=today)
    crash_point("posting")
    serials = funds.fund_many(conn, [(b.id, b.unit_account, b.total_fen or 0) for b in ready])
    conn.execute(
        update(batches)
        .where(batches.c.id == bindparam("b_id"))
        .values(posted_rows=bindparam("b_rows"), posted_fen=bindparam("b_fen"), updated_at=func.now()),
        [{"b_id": b.id, "b_rows": b.rows, "b_fen": b.total_fen or 0} for b in ready],
    )
    sealed = _sealed(conn, ready)
    retellings = []
    for b in ready:
        receipt = {
            "posted_at": today.isoformat(),
            "members_posted": b.rows or 0,
            "members_sealed": sealed.get((b.unit_account, b.month), 0),
            "suspense_fen": held[b.unit_account] - (b.total_fen or 0),
        }
        told = register.Retelling(
            BatchStatus.POSTED, "", f"已由暂收资金入账（{'、'.join(serials[b.id])}）", posted_rows=b.rows or 0,
            posted_fen=b.total_fen or 0, extra={"funded_by": serials[b.id], "receipt": receipt},
            detail_rows=options.xlsx_detail_rows,
        )  # fmt: skip
        retellings.append((b, told))
    register.restate_later_many(conn, retellings)  # told when read: the republishing draws them


def _sealed(conn: Connection, ready: list[register.Batch]) -> dict[tuple[str, int | None], int]:
    """Members each list's employer sealed in the list's month (the receipt's 本月封存人数), by (unit, month)."""
    rows = conn.execute(
        select(member_events.c.old_unit, member_events.c.month, func.count())
        .where(
            member_events.c.old_unit.in_([b.unit_account for b in ready]),
            member_events.c.month.in_({b.month for b in ready}),
            member_events.c.change == "seal",
        )
        .group_by(member_events.c.old_unit, member_events.c.month)
    ).all()
    return {(str(u), int(m)): int(n) for u, m, n in rows}


def post_awaiting(store: Store, options: PipelineOptions, batch_id: int) -> BatchStatus | None:
    """Post one awaiting list from its employer's suspense if it is due and covered; its status after, None if busy."""
    with try_lock(store.engine, f"batch-{batch_id}") as mine:
        if not mine:
            return None
        try:
            with database_errors(), store.engine.begin() as conn:
                ledger.share_postings(conn)
                batch = register.get(conn, batch_id)
                if batch is None or batch.status != BatchStatus.AWAITING_FUNDS:
                    return batch.status if batch else None
                assert batch.month is not None
                unit = batch.unit_account
                paid, version = conn.execute(
                    select(employers.c.paid_through, employers.c.roster_version).where(employers.c.unit_account == unit)
                ).one()
                if batch.roster_version is not None and version != batch.roster_version:
                    _restate(
                        conn,
                        batch_id,
                        BatchStatus.SUPERSEDED,
                        "清册检查之后单位职工名册已变更，请按新名册重新报送清册",
                        options,
                    )
                    return BatchStatus.SUPERSEDED
                if paid is not None and paid >= batch.month:
                    _restate(
                        conn,
                        batch_id,
                        BatchStatus.SUPERSEDED,
                        f"单位已缴至{paid}，本清册的月份已由其他清册入账",
                        options,
                    )
                    return BatchStatus.SUPERSEDED
                total = batch.total_fen or 0
                held = funds.suspense_balance(conn, unit, for_update=True)
                if held < total:
                    return BatchStatus.AWAITING_FUNDS
                ledger.post(
                    conn, batch_id, unit, batch.month, funds.list_deposits(conn, batch_id),
                    roster_version=batch.roster_version, counter=suspense_of(unit), booked_on=today_of(options),
                )  # fmt: skip
                crash_point("posting")
                serials = funds.fund(conn, batch_id, unit, total)
                conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id)
                    .values(posted_rows=batch.rows, posted_fen=total, updated_at=func.now())
                )
                sealed = conn.execute(
                    select(func.count()).where(
                        member_events.c.old_unit == unit,
                        member_events.c.month == batch.month,
                        member_events.c.change == "seal",
                    )
                ).scalar_one()
                receipt = {
                    "posted_at": today_of(options).isoformat(),
                    "members_posted": batch.rows or 0,
                    "members_sealed": int(sealed),
                    "suspense_fen": held - total,
                }
                _restate(conn, batch_id, BatchStatus.POSTED, f"已由暂收资金入账（{'、'.join(serials)}）", options,
                         funded_by=serials, receipt=receipt)  # fmt: skip
            crash_point("committed")
            return BatchStatus.POSTED
        except ledger.PostingConflict as e:
            with database_errors(), store.engine.begin() as conn:
                now = register.get(conn, batch_id)
                assert now is not None
                register.event(conn, batch_id, BatchStatus.AWAITING_FUNDS, now.step, f"未能入账：{e}")
            log.warning("批次%s未能入账：%s", batch_id, e)
            return BatchStatus.AWAITING_FUNDS
