"""Money in the ledger (SPEC §9): booking the bank's movements, suspense, and posting lists from it.

Every movement of money between the centre's own accounts is a `fund_moves`
row with both sides as columns (a credit debits the bank and credits a
suspense account), so each balances by construction; balances are kept in
`control_accounts` beside CONTROL and checked against the moves by
`ledger.verify`. Posting a list from suspense is an ordinary `ledger.post`
whose counter account is the employer's suspense.

Booking an arrival file and each posting it allows are separate transactions
(SPEC §9: each posting its own), each run inside the caller's transaction:
booking holds the bank lock, so two workers never book one movement twice;
a posting locks the employer's suspense row, so two never spend it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Date, and_, func, insert, literal, or_, select, text, update

from batch.arrivals import ArrivalFile
from batch.matching import REVERSAL_DAYS, find_originals, match_credits, reversal_tokens
from batch.money import format_yuan
from db import ledger, register
from db.tables import (
    BANK_PREFIX,
    EXCEPTIONS,
    SUSPENSE_PREFIX,
    UNIDENTIFIED,
    bank_lines,
    bank_of,
    batches,
    control_accounts,
    employers,
    fund_moves,
    fundings,
    list_rows,
    suspense_of,
)
from schemas.arrivals import CREDIT, OTHER, REVERSAL
from schemas.codes import Problem
from schemas.errors import TerminalError
from schemas.statuses import BatchStatus, Step

_BANK_LOCK = -0x4850_4600_0000_0002
"""PostgreSQL advisory lock held while an arrival file is booked: movements are booked one file at a time."""
_CHUNK = 900
"""Values per IN list (SQLite allows 999 parameters a statement by default on old builds)."""


class FundsRefused(TerminalError):
    """A finance action that cannot be done as asked; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Booking:
    """What booking one arrival file did, for its result and the batch's counts."""

    items: pl.DataFrame
    """line_no, serial, amount_fen, matched_by, unit_account: one per line of the file."""
    credits: int
    debits: int
    reversals: int
    duplicates: int
    booked_fen: int
    unposted: list[int]
    """Posted lists reversed because a credit that paid them was reversed (they wait again)."""


# ---------------------------------------------------------------- booking


def book(conn: Connection, batch_id: int, arrival: ArrivalFile, *, today: date) -> Booking | list[Problem]:
    """Book a valid arrival file's new movements, or return the B_CONFLICT problems (and book nothing).

    Lines already booked with the same content are duplicates; a line whose
    serial was booked with other content rejects the file.
    """
    _lock_bank(conn)
    lines = arrival.lines
    assert arrival.account is not None
    booked = _already_booked(conn, arrival.account, lines["serial"].unique().to_list())
    joined = lines.join(booked, on="serial", how="left")
    conflicts = joined.filter(pl.col("booked_content").is_not_null() & (pl.col("booked_content") != pl.col("content")))
    if conflicts.height:
        return [
            Problem(
                "B_CONFLICT",
                f"第{line_no}行 银行主机流水号{serial}已由批次{earlier}登记，但内容不同（同一笔交易只能有一种内容）",
                row_no=line_no,
                column="银行主机流水号",
            )
            for line_no, serial, earlier in conflicts.select("line_no", "serial", "booked_batch").iter_rows()
        ]
    duplicate = pl.col("repeat") | pl.col("booked_content").is_not_null()
    fresh = joined.filter(~duplicate)
    credits = fresh.filter(pl.col("kind") == CREDIT)
    matched = match_credits(credits, _employers(conn)) if credits.height else _no_matches()
    fresh = fresh.join(matched, on="line_no", how="left").with_columns(
        pl.when(pl.col("kind") == CREDIT)
        .then(pl.col("matched_by"))
        .when(pl.col("kind") == REVERSAL)
        .then(pl.lit("reversal"))
        .otherwise(pl.lit(OTHER))
        .alias("matched_by")
    )
    _insert_lines(conn, batch_id, fresh)
    conn.execute(
        insert(fund_moves).from_select(
            ["kind", "line_id", "batch_id", "debit", "credit", "amount_fen", "booked_on"],
            select(
                literal("credit"),
                bank_lines.c.id,
                bank_lines.c.batch_id,
                literal(BANK_PREFIX) + bank_lines.c.account,
                bank_lines.c.suspense,
                bank_lines.c.amount_fen,
                literal(today, Date),
            ).where(bank_lines.c.batch_id == batch_id, bank_lines.c.kind == CREDIT),
        )
    )
    _apply_moves(conn, fund_moves.c.batch_id == batch_id)
    reversals = fresh.filter(pl.col("kind") == REVERSAL)
    unposted = _book_reversals(conn, batch_id, arrival.account, reversals, today) if reversals.height else []
    items = joined.select("line_no", "serial", "amount_fen", "kind", duplicate.alias("duplicate")).join(
        _booked_items(conn, batch_id), on="line_no", how="left"
    )
    items = items.select(
        "line_no",
        "serial",
        "amount_fen",
        pl.when(pl.col("duplicate"))
        .then(pl.lit("duplicate"))
        .otherwise(pl.col("matched_by").fill_null(OTHER))
        .alias("matched_by"),
        pl.when(pl.col("duplicate")).then(None).otherwise(pl.col("unit_account")).alias("unit_account"),
    ).sort("line_no")
    return Booking(
        items=items,
        credits=fresh.filter(pl.col("kind") == CREDIT).height,
        debits=fresh.filter(pl.col("kind") == OTHER).height,
        reversals=reversals.height,
        duplicates=joined.filter(duplicate).height,
        booked_fen=int(fresh.filter(pl.col("kind") != OTHER)["amount_fen"].sum()),
        unposted=unposted,
    )


def _lock_bank(conn: Connection) -> None:
    ledger.share_postings(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _BANK_LOCK})
    else:  # SQLite: take the write lock before reading what was booked
        conn.execute(update(control_accounts).where(control_accounts.c.code == "").values(balance_fen=0))


def _already_booked(conn: Connection, account: str, serials: Sequence[str]) -> pl.DataFrame:
    rows: list[tuple[str, str, int]] = []
    for i in range(0, len(serials), _CHUNK):
        rows += conn.execute(
            select(bank_lines.c.serial, bank_lines.c.content, bank_lines.c.batch_id).where(
                bank_lines.c.account == account, bank_lines.c.serial.in_(serials[i : i + _CHUNK])
            )
        ).all()
    return pl.DataFrame(
        rows, schema={"serial": pl.String, "booked_content": pl.String, "booked_batch": pl.Int64}, orient="row"
    )


def _employers(conn: Connection) -> pl.DataFrame:
    rows = conn.execute(
        select(employers.c.unit_account, employers.c.name, employers.c.status, employers.c.payer_account)
    ).all()
    return pl.DataFrame(
        rows,
        schema={"unit_account": pl.String, "name": pl.String, "status": pl.String, "payer_account": pl.String},
        orient="row",
    )


def _no_matches() -> pl.DataFrame:
    return pl.DataFrame(schema={"line_no": pl.Int64, "unit_account": pl.String, "matched_by": pl.String})


_LINE_COLUMNS = (
    "line_no", "account", "serial", "kind", "amount_fen", "trade_date", "payer_account", "payer_name",
    "memo", "summary", "content", "matched_by", "unit_account",
)  # fmt: skip


def _insert_lines(conn: Connection, batch_id: int, fresh: pl.DataFrame) -> None:
    """One executemany: credits carry the suspense their money goes to (an employer's, else UNIDENTIFIED)."""
    if not fresh.height:
        return
    suspense = (
        pl.when(pl.col("kind") != CREDIT)
        .then(None)
        .when(pl.col("unit_account").is_null())
        .then(pl.lit(UNIDENTIFIED))
        .otherwise(pl.lit(SUSPENSE_PREFIX) + pl.col("unit_account"))
    )
    rows = fresh.select(*_LINE_COLUMNS, suspense.alias("suspense"), pl.lit(batch_id).alias("batch_id"))
    conn.execute(insert(bank_lines), rows.to_dicts())


def _booked_items(conn: Connection, batch_id: int) -> pl.DataFrame:
    rows = conn.execute(
        select(bank_lines.c.line_no, bank_lines.c.matched_by, bank_lines.c.unit_account).where(
            bank_lines.c.batch_id == batch_id
        )
    ).all()
    return pl.DataFrame(
        rows, schema={"line_no": pl.Int64, "matched_by": pl.String, "unit_account": pl.String}, orient="row"
    )


def _apply_moves(conn: Connection, which: Any) -> None:
    """Add the chosen moves to the balances of their accounts, set-based (rows created the first time)."""
    sides = (
        select(fund_moves.c.credit.label("code"), fund_moves.c.amount_fen.label("delta"))
        .where(which)
        .union_all(select(fund_moves.c.debit.label("code"), (-fund_moves.c.amount_fen).label("delta")).where(which))
        .subquery()
    )
    deltas = select(sides.c.code, func.sum(sides.c.delta).label("delta")).group_by(sides.c.code).subquery()
    conn.execute(
        insert(control_accounts).from_select(
            ["code", "balance_fen"],
            select(deltas.c.code, literal(0)).where(
                ~select(control_accounts.c.code).where(control_accounts.c.code == deltas.c.code).exists()
            ),
        )
    )
    conn.execute(
        update(control_accounts)
        .where(control_accounts.c.code == deltas.c.code)
        .values(balance_fen=control_accounts.c.balance_fen + deltas.c.delta)
    )


def _move(
    conn: Connection, kind: str, debit: str, credit: str, amount_fen: int, *, booked_on: date, **extra: Any
) -> int:
    """One money move and its two balances; returns its id."""
    move_id = int(
        conn.execute(
            insert(fund_moves)
            .values(kind=kind, debit=debit, credit=credit, amount_fen=amount_fen, booked_on=booked_on, **extra)
            .returning(fund_moves.c.id)
        ).scalar_one()
    )
    _apply_moves(conn, fund_moves.c.id == move_id)
    return move_id


# ---------------------------------------------------------------- reversals


def _book_reversals(conn: Connection, batch_id: int, account: str, reversals: pl.DataFrame, today: date) -> list[int]:
    """Each reversal takes its credit's money back from where it was booked, at most once (SPEC §9 rule 1).

    Reversals are few (a handful a day): each is one move. Where an employer's
    suspense would go below zero, its posted lists are reversed from the
    latest until it is not; what still cannot be taken back goes to EXCEPTIONS.
    """
    earliest = reversals["trade_date"].min()
    assert isinstance(earliest, date)
    tokens = reversal_tokens(reversals)
    amounts = (-reversals["amount_fen"]).unique().to_list()
    standing = and_(bank_lines.c.account == account, bank_lines.c.kind == CREDIT, bank_lines.c.reversed_by.is_(None))
    candidates = or_(
        bank_lines.c.amount_fen.in_(amounts) & (bank_lines.c.trade_date >= earliest - timedelta(days=REVERSAL_DAYS)),
        *(bank_lines.c.serial.in_(tokens[i : i + _CHUNK]) for i in range(0, len(tokens), _CHUNK)),
    )
    rows = conn.execute(
        select(
            bank_lines.c.id, bank_lines.c.batch_id, bank_lines.c.line_no, bank_lines.c.account, bank_lines.c.serial,
            bank_lines.c.amount_fen, bank_lines.c.payer_account, bank_lines.c.payer_name, bank_lines.c.trade_date,
        ).where(standing, candidates)
    ).all()  # fmt: skip
    credits = pl.DataFrame(
        rows,
        schema={"credit_id": pl.Int64, "batch_id": pl.Int64, "line_no": pl.Int64, "account": pl.String,
                "serial": pl.String, "amount_fen": pl.Int64, "payer_account": pl.String, "payer_name": pl.String,
                "trade_date": pl.Date},
        orient="row",
    )  # fmt: skip
    # A credit of this file is booked before a reversal only on an earlier line; those of earlier files always are.
    credits = credits.with_columns(
        pl.when(pl.col("batch_id") == batch_id).then(pl.col("line_no")).alias("credit_line")
    ).drop("batch_id", "line_no")
    originals = find_originals(reversals, credits)
    ids = dict(
        conn.execute(
            select(bank_lines.c.line_no, bank_lines.c.id).where(
                bank_lines.c.batch_id == batch_id, bank_lines.c.kind == REVERSAL
            )
        ).all()
    )
    bank = bank_of(account)
    unposted: list[int] = []
    by_line = dict(originals.iter_rows())
    for line_no, amount in reversals.sort("line_no").select("line_no", "amount_fen").iter_rows():
        line_id, credit_id = ids[line_no], by_line.get(line_no)
        if credit_id is None:  # nobody knows whose: an exception for a person
            _move(conn, "exception", EXCEPTIONS, bank, -amount, line_id=line_id, batch_id=batch_id,
                  reason="冲正找不到原到账记录", booked_on=today)  # fmt: skip
            conn.execute(
                update(bank_lines).where(bank_lines.c.id == line_id).values(matched_by="reversal", suspense=EXCEPTIONS)
            )
            continue
        source, unit = conn.execute(
            select(bank_lines.c.suspense, bank_lines.c.unit_account).where(bank_lines.c.id == credit_id)
        ).one()
        conn.execute(update(bank_lines).where(bank_lines.c.id == credit_id).values(reversed_by=line_id))
        conn.execute(
            update(bank_lines)
            .where(bank_lines.c.id == line_id)
            .values(matched_by="reversal", reverses=credit_id, suspense=source, unit_account=unit)
        )
        _move(conn, "reversal", source, bank, -amount, line_id=line_id, batch_id=batch_id, booked_on=today)
        if unit is not None:
            unposted += _restore_suspense(conn, unit, line_id, today)
    return unposted


def _restore_suspense(conn: Connection, unit: str, line_id: int, today: date) -> list[int]:
    """Reverse the employer's posted lists from the latest until its suspense is not negative; the rest to EXCEPTIONS.

    A list reversed here waits for money again (AWAITING_FUNDS, a new expiry
    clock); the caller restates its results in the same transaction.
    """
    code = suspense_of(unit)
    unposted = []
    while (balance := suspense_balance(conn, unit)) < 0:
        latest = conn.execute(
            select(batches.c.id)
            .where(batches.c.unit_account == unit, batches.c.status == BatchStatus.POSTED)
            .order_by(batches.c.month.desc())
            .limit(1)
        ).scalar()
        if latest is None or ledger.counter_of(conn, int(latest)) != code:
            _move(conn, "exception", EXCEPTIONS, code, -balance, line_id=line_id,
                  reason="冲正的到账已被转出，无法从单位暂收中收回", booked_on=today)  # fmt: skip
            break
        ledger.reverse(conn, int(latest), booked_on=today)
        conn.execute(fundings.delete().where(fundings.c.batch_id == int(latest)))
        conn.execute(
            update(batches)
            .where(batches.c.id == int(latest))
            .values(
                status=BatchStatus.AWAITING_FUNDS, posted_rows=0, posted_fen=0, awaiting_since=today,
                updated_at=func.now(),
            )
        )  # fmt: skip
        step = conn.execute(select(batches.c.step).where(batches.c.id == int(latest))).scalar_one()
        register.event(
            conn, int(latest), BatchStatus.AWAITING_FUNDS, Step(step), "付款到账被银行冲正：已冲销入账，待重新到账"
        )
        unposted.append(int(latest))
    return unposted


# ---------------------------------------------------------------- suspense


def suspense_balance(conn: Connection, unit: str, *, for_update: bool = False) -> int:
    query = select(control_accounts.c.balance_fen).where(control_accounts.c.code == suspense_of(unit))
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return int(conn.execute(query).scalar() or 0)


def centre_balances(conn: Connection) -> dict[str, int]:
    return {str(c): int(b) for c, b in conn.execute(select(control_accounts.c.code, control_accounts.c.balance_fen))}


# ---------------------------------------------------------------- lists waiting for money


def keep_rows(conn: Connection, batch_id: int, rows: pl.DataFrame) -> None:
    """A valid list's deposits, kept until its money comes (member_account, employer_fen, employee_fen)."""
    if rows.height:
        conn.execute(insert(list_rows), rows.with_columns(pl.lit(batch_id).alias("batch_id")).to_dicts())


def list_deposits(conn: Connection, batch_id: int) -> pl.DataFrame:
    return list_deposits_many(conn, [batch_id])[batch_id]


def list_deposits_many(conn: Connection, batch_ids: list[int]) -> dict[int, pl.DataFrame]:
    """The kept deposits of each list (member_account, employer_fen, employee_fen), by account; one query."""
    rows = conn.execute(
        select(list_rows.c.batch_id, list_rows.c.member_account, list_rows.c.employer_fen, list_rows.c.employee_fen)
        .where(list_rows.c.batch_id.in_(batch_ids))
        .order_by(list_rows.c.batch_id, list_rows.c.member_account)
    ).all()
    frame = pl.DataFrame(
        rows,
        schema={"batch_id": pl.Int64, "member_account": pl.String, "employer_fen": pl.Int64, "employee_fen": pl.Int64},
        orient="row",
    )
    found = frame.partition_by("batch_id", as_dict=True, include_key=False)
    empty = frame.clear().drop("batch_id")
    return {i: found.get((i,), empty) for i in batch_ids}


def awaiting(conn: Connection, units: Iterable[str] | None = None) -> list[register.Batch]:
    """AWAITING_FUNDS lists, by employer and month (the order they are posted in)."""
    query = select(batches).where(batches.c.status == BatchStatus.AWAITING_FUNDS)
    if units is not None:
        query = query.where(batches.c.unit_account.in_(list(units)))
    return [register.Batch.of(r) for r in conn.execute(query.order_by(batches.c.unit_account, batches.c.month))]


def fund(conn: Connection, batch_id: int, unit: str, total_fen: int) -> list[str]:
    """Record which credits paid a list just posted from suspense: first in, first out; their serials.

    What had already left the suspense (earlier lists, transfers out, reversals)
    used the oldest credits; this list takes the next `total_fen`.
    """
    return fund_many(conn, [(batch_id, unit, total_fen)])[batch_id]


def fund_many(conn: Connection, lists: Sequence[tuple[int, str, int]]) -> dict[int, list[str]]:
    """`fund` of lists just posted together (batch id, unit, total), at most one per employer; serials by list."""
    ids = [i for i, _, _ in lists]
    units = [u for _, u, _ in lists]
    codes = [suspense_of(u) for u in units]
    out = dict(
        conn.execute(
            select(fund_moves.c.debit, func.sum(fund_moves.c.amount_fen))
            .where(fund_moves.c.debit.in_(codes))
            .group_by(fund_moves.c.debit)
        ).all()
    )
    posted = dict(
        conn.execute(
            select(batches.c.unit_account, func.sum(batches.c.posted_fen))
            .where(batches.c.unit_account.in_(units), batches.c.status == BatchStatus.POSTED, batches.c.id.not_in(ids))
            .group_by(batches.c.unit_account)
        ).all()
    )
    wanted = pl.DataFrame(
        [(i, suspense_of(u), int(out.get(suspense_of(u)) or 0) + int(posted.get(u) or 0), t) for i, u, t in lists],
        schema={"batch_id": pl.Int64, "suspense": pl.String, "used": pl.Int64, "total": pl.Int64},
        orient="row",
    )
    credits = pl.DataFrame(
        conn.execute(
            select(bank_lines.c.id, bank_lines.c.suspense, bank_lines.c.serial, bank_lines.c.amount_fen)
            .where(bank_lines.c.suspense.in_(codes), bank_lines.c.kind == CREDIT, bank_lines.c.reversed_by.is_(None))
            .order_by(bank_lines.c.id)
        ).all(),
        schema={"line_id": pl.Int64, "suspense": pl.String, "serial": pl.String, "amount_fen": pl.Int64},
        orient="row",
    )
    end = pl.col("amount_fen").cum_sum().over("suspense")
    chosen = (
        credits.with_columns(end.alias("end"))
        .join(wanted, on="suspense", maintain_order="left")
        .filter(
            (pl.col("end") > pl.col("used")) & (pl.col("end") - pl.col("amount_fen") < pl.col("used") + pl.col("total"))
        )
        .select("batch_id", "line_id", "serial")
    )
    if chosen.height:
        conn.execute(insert(fundings), chosen.select("batch_id", "line_id").to_dicts())
    serials = dict(chosen.group_by("batch_id", maintain_order=True).agg("serial").iter_rows())
    return {i: list(serials.get(i, [])) for i in ids}


def suspense_balances(conn: Connection, units: Sequence[str], *, for_update: bool = False) -> dict[str, int]:
    """`suspense_balance` of many employers, by unit (0 for one with no suspense yet); locked with `for_update`."""
    code = {suspense_of(u): u for u in units}
    codes = list(code)
    found: dict[str, int] = {}
    for i in range(0, len(codes), _CHUNK):
        query = select(control_accounts.c.code, control_accounts.c.balance_fen).where(
            control_accounts.c.code.in_(codes[i : i + _CHUNK])
        )
        if for_update and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        found |= {code[c]: int(b) for c, b in conn.execute(query)}
    return {u: found.get(u, 0) for u in units}


def expiring(conn: Connection, today: date, expire_days: int) -> list[register.Batch]:
    """Lists that have waited more than `expire_days` days (SPEC §9)."""
    limit = today - timedelta(days=expire_days)
    query = select(batches).where(batches.c.status == BatchStatus.AWAITING_FUNDS, batches.c.awaiting_since < limit)
    return [register.Batch.of(r) for r in conn.execute(query.order_by(batches.c.id))]


# ---------------------------------------------------------------- finance actions


def assign(conn: Connection, line_id: int, unit: str, *, actor: str, reason: str, today: date) -> int:
    """Give an unidentified credit to an employer's suspense (暂收分摊); returns its amount."""
    _lock_bank(conn)
    row = conn.execute(select(bank_lines).where(bank_lines.c.id == line_id)).one_or_none()
    if row is None:
        raise FundsRefused(f"没有到账记录{line_id}")
    if row.kind != CREDIT or row.suspense != UNIDENTIFIED:
        where = row.unit_account or row.suspense or "—"
        raise FundsRefused(f"到账记录{line_id}（流水号{row.serial}）不是未识别的到账（已在{where}），不能分摊")
    if row.reversed_by is not None:
        raise FundsRefused(f"到账记录{line_id}（流水号{row.serial}）已被冲正，不能分摊")
    status = conn.execute(select(employers.c.status).where(employers.c.unit_account == unit)).scalar()
    if status is None:
        raise FundsRefused(f"没有单位{unit}")
    _move(conn, "assign", UNIDENTIFIED, suspense_of(unit), int(row.amount_fen), line_id=line_id, actor=actor,
          reason=reason, booked_on=today)  # fmt: skip
    conn.execute(
        update(bank_lines).where(bank_lines.c.id == line_id).values(suspense=suspense_of(unit), unit_account=unit)
    )
    return int(row.amount_fen)


def transfer(
    conn: Connection, source: str, target: str, amount_fen: int, *, actor: str, reason: str, today: date
) -> None:
    """Move suspense money between two employers (未分摊转移), never below zero."""
    if source == target:
        raise FundsRefused("转出和转入单位不能相同")
    if amount_fen <= 0:
        raise FundsRefused("转移金额必须大于0")
    ledger.share_postings(conn)
    for unit in (source, target):
        if conn.execute(select(employers.c.unit_account).where(employers.c.unit_account == unit)).scalar() is None:
            raise FundsRefused(f"没有单位{unit}")
    held = suspense_balance(conn, source, for_update=True)
    if held < amount_fen:
        raise FundsRefused(
            f"单位{source}的暂收余额只有{format_yuan(held)}元，不能转出{format_yuan(amount_fen)}元（余额不能为负）"
        )
    _move(conn, "transfer", suspense_of(source), suspense_of(target), amount_fen, actor=actor, reason=reason,
          booked_on=today)  # fmt: skip


def needing_attention(conn: Connection, limit: int = 1000) -> list[dict[str, Any]]:
    """What only a person can settle: unidentified credits not yet assigned, and money booked to EXCEPTIONS."""
    unidentified = conn.execute(
        select(bank_lines.c.id, bank_lines.c.serial, bank_lines.c.amount_fen, bank_lines.c.payer_name,
               bank_lines.c.memo, bank_lines.c.trade_date)
        .where(bank_lines.c.suspense == UNIDENTIFIED, bank_lines.c.kind == CREDIT, bank_lines.c.reversed_by.is_(None))
        .order_by(bank_lines.c.id).limit(limit)
    ).all()  # fmt: skip
    exceptions = conn.execute(
        select(fund_moves.c.line_id, bank_lines.c.serial, fund_moves.c.amount_fen, fund_moves.c.reason,
               fund_moves.c.booked_on)
        .join(bank_lines, bank_lines.c.id == fund_moves.c.line_id, isouter=True)
        .where(fund_moves.c.kind == "exception").order_by(fund_moves.c.id).limit(limit)
    ).all()  # fmt: skip
    return [
        {"kind": "unidentified", "line_id": i, "serial": serial, "amount_fen": amount,
         "what": f"未识别到账（付款人：{payer or '—'}，附言：{memo or '—'}），请用 hpf funds assign 分摊",
         "date": day.isoformat()}
        for i, serial, amount, payer, memo, day in unidentified
    ] + [
        {"kind": "exception", "line_id": i, "serial": serial, "amount_fen": amount, "what": reason or "异常",
         "date": day.isoformat()}
        for i, serial, amount, reason, day in exceptions
    ]  # fmt: skip


def credits(
    conn: Connection, *, unit: str | None = None, unidentified: bool = False, limit: int = 1000, offset: int = 0
) -> list[dict[str, Any]]:
    """Bank movements, newest first, with how each was matched (`hpf funds list`)."""
    query = select(bank_lines).order_by(bank_lines.c.id.desc()).limit(limit).offset(offset)
    if unit is not None:
        query = query.where(bank_lines.c.unit_account == unit)
    if unidentified:
        query = query.where(bank_lines.c.suspense == UNIDENTIFIED, bank_lines.c.reversed_by.is_(None))
    return [
        {
            "id": r.id, "batch_id": r.batch_id, "line_no": r.line_no, "account": r.account, "serial": r.serial,
            "kind": r.kind, "amount_fen": r.amount_fen, "trade_date": r.trade_date.isoformat(),
            "payer_account": r.payer_account, "payer_name": r.payer_name, "memo": r.memo, "summary": r.summary,
            "matched_by": r.matched_by, "unit_account": r.unit_account, "suspense": r.suspense,
            "reversed_by": r.reversed_by, "reverses": r.reverses,
        }
        for r in conn.execute(query)
    ]  # fmt: skip
