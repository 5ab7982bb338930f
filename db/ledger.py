"""The ledger: posting a batch's deposits, reversing them, and checking every invariant.

Double entry, append-only. A deposit is itself the member's side of a transfer:
it credits the member's account with its two parts (the employer's and the
employee's, kept apart as columns), and the batch's counter entries debit the
centre's CONTROL account (or the employer's suspense) by each part's total, so
every batch balances and CONTROL mirrors the members. A reversal marks the
deposits reversed on its day (their debits) and appends the opposite counter
entries; nothing else is edited and nothing is deleted. Exactly once is the
database's job: a partial unique index allows one standing deposit per member
and month, and posting advances the employer's paid-through month only from the
month before.

Every function runs inside the caller's transaction: the caller commits the
deposits together with the batch's status, or nothing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import polars as pl
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

from batch.money import format_yuan
from batch.policy import previous_month
from db import register
from db.tables import (
    BANK_PREFIX,
    CONTROL,
    EXCEPTIONS,
    SUSPENSE_PREFIX,
    UNIDENTIFIED,
    batches,
    control_accounts,
    deposits,
    employers,
    entries,
    members,
)
from schemas.codes import Problem
from schemas.errors import TerminalError
from schemas.statuses import OPENED, BatchStatus

if TYPE_CHECKING:
    import psycopg  # only a cast: a SQLite run never loads the driver (40 ms of start-up)


class PostingConflict(TerminalError):
    """The database refused the posting: another batch got there first, or the roster changed. Nothing was written."""


@dataclass(frozen=True, slots=True)
class Posted:
    rows: int
    total_fen: int


_POSTINGS = -0x4850_4600_0000_0001
"""The PostgreSQL advisory lock postings share and a master import takes alone."""


def exclude_postings(conn: Connection) -> None:
    """Hold off every posting until the caller's transaction ends (a master import checks, then writes).

    PostgreSQL: the exclusive side of a transaction-level advisory lock that
    each posting takes shared. SQLite has one writer: taking the write lock now,
    before anything is read, is enough.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _POSTINGS})
    else:
        conn.execute(update(control_accounts).where(control_accounts.c.code == CONTROL).values(code=CONTROL))


def share_postings(conn: Connection) -> None:
    """Postings and reversals run side by side, never beside a master import (`exclude_postings`)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": _POSTINGS})


def post(
    conn: Connection,
    batch_id: int,
    unit_account: str,
    month: int,
    rows: pl.DataFrame,
    *,
    roster_version: int | None = None,
    counter: str = CONTROL,
    booked_on: date | None = None,
) -> Posted:
    """Deposit `rows` (member_account, employer_fen, employee_fen) for `month`, inside the caller's transaction.

    `counter` is the account the money comes from: CONTROL in immediate mode,
    the employer's suspense in arrival mode (SPEC §9).

    Raises PostingConflict (after which the caller must roll back) when the
    employer is no longer due for `month`, a member-month is already deposited,
    or a change list changed the roster after the rows were checked against
    `roster_version`.
    """
    share_postings(conn)
    day = booked_on or date.today()
    prior = conn.execute(select(employers.c.paid_through).where(employers.c.unit_account == unit_account)).scalar()
    _advance(conn, unit_account, month, roster_version, prior)
    conn.execute(update(batches).where(batches.c.id == batch_id).values(prev_paid_through=prior))

    frame = rows.select("member_account", "employer_fen", "employee_fen")
    inserted = _insert_deposits(conn, batch_id, month, frame, day)
    if inserted != frame.height:
        raise PostingConflict(
            f"有{frame.height - inserted}个个人账号已不在职工名册中（名册在检查之后被改动），本批次未入账"
        )
    if frame.height:  # every row was inserted: the counter side is the rows' totals
        parts = {part: int(frame[f"{part}_fen"].sum()) for part in PARTS}
        _counter_entries(conn, [(batch_id, "deposit", counter, month, parts)], day)
    # Never backwards: a member who moved on may be paid a later month by the new employer first.
    later = members.c.paid_through.is_not(None) & (members.c.paid_through > month)
    _apply_to_members(conn, batch_id, sign=1, paid_through=case((later, members.c.paid_through), else_=literal(month)))
    total = int(frame["employer_fen"].sum()) + int(frame["employee_fen"].sum())
    _apply_to_control(conn, -total, counter)
    return Posted(frame.height, total)


@dataclass(frozen=True, slots=True)
class Posting:
    """One list to post with others (`post_many`): the arguments of `post`."""

    batch_id: int
    unit_account: str
    month: int
    rows: pl.DataFrame
    roster_version: int | None = None
    counter: str = CONTROL


def post_many(conn: Connection, postings: list[Posting], *, booked_on: date | None = None) -> list[Posted]:
    """`post` of several lists in the caller's transaction, their deposits written by one set of statements.

    Each list's employer is advanced on its own (so each is checked as `post`
    checks it); the deposits of all are staged and inserted together, their
    entries, balances and counters written by a statement each. A member in two
    of the lists (a move between employers within the group) is posted list by
    list instead: one UPDATE … FROM must not meet a member twice. Raises
    PostingConflict as `post` does, for any of the lists: the caller rolls back
    and posts them one at a time to learn which.
    """
    wanted = ["member_account", "employer_fen", "employee_fen"]
    frames = [p.rows if p.rows.columns == wanted else p.rows.select(wanted) for p in postings]
    keys = pl.DataFrame(
        {"batch_id": [p.batch_id for p in postings], "month": [p.month for p in postings],
         "rows": [f.height for f in frames]},
        schema={"batch_id": pl.Int64, "month": pl.Int32, "rows": pl.Int64},
    ).filter(pl.col("rows") > 0).select(pl.col("batch_id", "month").repeat_by("rows").explode())  # fmt: skip
    stacked = pl.concat([pl.concat(frames, how="vertical_relaxed"), keys], how="horizontal")
    if len(postings) < 2 or stacked["member_account"].n_unique() != stacked.height:
        return [
            post(conn, p.batch_id, p.unit_account, p.month, p.rows, roster_version=p.roster_version,
                 counter=p.counter, booked_on=booked_on)
            for p in postings
        ]  # fmt: skip
    share_postings(conn)
    day = booked_on or date.today()
    units = [p.unit_account for p in postings]
    priors = dict(
        conn.execute(
            select(employers.c.unit_account, employers.c.paid_through).where(employers.c.unit_account.in_(units))
        ).all()
    )
    _advance_many(conn, postings, priors)
    conn.execute(
        update(batches).where(batches.c.id == bindparam("p_id")).values(prev_paid_through=bindparam("p_prior")),
        [{"p_id": p.batch_id, "p_prior": priors.get(p.unit_account)} for p in postings],
    )
    inserted = _insert_group_deposits(conn, stacked, day)
    if inserted != stacked.height:
        raise PostingConflict(
            f"有{stacked.height - inserted}个个人账号已不在职工名册中（名册在检查之后被改动），本组未入账"
        )
    ids = [p.batch_id for p in postings]
    standing = and_(deposits.c.batch_id.in_(ids), deposits.c.reversed.is_(False))
    # Each list's counter side: its totals, known from the rows (every one was inserted).
    totals = [{part: int(f[f"{part}_fen"].sum()) for part in PARTS} for f in frames]
    posted = [Posted(f.height, sum(t.values())) for f, t in zip(frames, totals, strict=True)]
    _counter_entries(
        conn,
        [(p.batch_id, "deposit", p.counter, p.month, t) for p, f, t in zip(postings, frames, totals, strict=True)
         if f.height],
        day,
    )  # fmt: skip
    later = members.c.paid_through.is_not(None) & (members.c.paid_through > deposits.c.month)
    conn.execute(
        update(members)
        .where(standing, deposits.c.member_account == members.c.member_account)
        .values(
            balance_fen=members.c.balance_fen + deposits.c.employer_fen + deposits.c.employee_fen,
            paid_through=case((later, members.c.paid_through), else_=deposits.c.month),
        )
    )
    by_counter: dict[str, int] = {}
    for p, d in zip(postings, posted, strict=True):
        by_counter[p.counter] = by_counter.get(p.counter, 0) - d.total_fen
    _apply_to_controls(conn, by_counter)
    return posted


PARTS = ("employer", "employee")
"""A deposit's two parts, each a column of the deposit and an entry of the counter side."""


def _counter_entries(conn: Connection, sides: list[tuple[int, str, str, int, dict[str, int]]], day: date) -> None:
    """The counter side of batches' deposits or reversals: (batch, kind, account, month, totals by part).

    A deposit debits the counter account by the part's total, a reversal credits it back.
    """
    rows = [
        {"batch_id": batch_id, "kind": kind, "account": account, "part": part, "month": month,
         "amount_fen": -fen if kind == "deposit" else fen, "booked_on": day}
        for batch_id, kind, account, month, totals in sides
        for part, fen in totals.items()
    ]  # fmt: skip
    if rows:
        conn.execute(insert(entries), rows)


def _advance_many(conn: Connection, postings: list[Posting], priors: dict[str, int | None]) -> None:
    """`_advance` of every list's employer, one statement executed for each; PostingConflict if any is not due."""
    due = employers.c.paid_through.is_(None) | (employers.c.paid_through == bindparam("a_prior"))
    current = (employers.c.roster_version == bindparam("a_version")) | bindparam("a_any", type_=Boolean)
    advanced = conn.execute(
        update(employers)
        .where(employers.c.unit_account == bindparam("a_unit"), due, current)
        .values(paid_through=bindparam("a_month"), status=_opened_becomes_normal(), updated_at=func.now()),
        [
            {"a_unit": p.unit_account, "a_month": p.month, "a_prior": previous_month(p.month),
             "a_version": p.roster_version, "a_any": p.roster_version is None}
            for p in postings
        ],
    ).rowcount  # fmt: skip
    if advanced == len(postings):
        return
    now = {
        u: (paid, version)
        for u, paid, version in conn.execute(
            select(employers.c.unit_account, employers.c.paid_through, employers.c.roster_version).where(
                employers.c.unit_account.in_([p.unit_account for p in postings])
            )
        )
    }
    for p in postings:  # the first not advanced, told as `_advance` tells it
        paid, version = now.get(p.unit_account, (None, None))
        if p.roster_version is not None and version != p.roster_version:
            raise PostingConflict(f"单位{p.unit_account}的职工名册在检查之后已有变更，本批次未入账，将按新名册重新检查")
        if paid != p.month or priors.get(p.unit_account) == p.month:
            raise PostingConflict(
                f"单位{p.unit_account}已不是{p.month}的应缴单位（已缴至{priors.get(p.unit_account)}），可能已被另一批次入账"
            )
    raise PostingConflict(f"本组{len(postings)}个清册中有{len(postings) - advanced}个未能入账，本组未入账")


def _advance(conn: Connection, unit_account: str, month: int, roster_version: int | None, prior: int | None) -> None:
    """The employer's paid-through month moved to `month`, only from the month before and the roster checked."""
    due = employers.c.paid_through.is_(None) | (employers.c.paid_through == previous_month(month))
    current = employers.c.roster_version == roster_version if roster_version is not None else literal(True)
    advanced = conn.execute(
        update(employers)
        .where(employers.c.unit_account == unit_account, due, current)
        .values(paid_through=month, status=_opened_becomes_normal(), updated_at=func.now())
    ).rowcount
    if advanced != 1 and roster_version is not None:
        version = conn.execute(
            select(employers.c.roster_version).where(employers.c.unit_account == unit_account)
        ).scalar()
        if version != roster_version:
            raise PostingConflict(f"单位{unit_account}的职工名册在检查之后已有变更，本批次未入账，将按新名册重新检查")
    if advanced != 1:
        raise PostingConflict(f"单位{unit_account}已不是{month}的应缴单位（已缴至{prior}），可能已被另一批次入账")


class ReversalRefused(TerminalError):
    """The batch cannot be reversed as asked; nothing was changed."""


def reverse_latest(conn: Connection, batch_id: int, reason: str, *, booked_on: date | None = None) -> Posted:
    """Reverse a POSTED batch that is its employer's latest posted month, and record why (in the caller's transaction).

    Months are undone from the latest, one at a time: a reversal restores the
    paid-through month the batch advanced from. Raises ReversalRefused otherwise.
    """
    share_postings(conn)
    batch = register.get(conn, batch_id, for_update=True)
    if batch is None:
        raise ReversalRefused(f"没有批次{batch_id}")
    if batch.status == BatchStatus.APPLIED:
        raise ReversalRefused(
            f"批次{batch_id}是人员变更清册，不能冲销：变更由新的变更清册更正（如以启封、原因2撤销错误的封存）"
        )
    if batch.status != BatchStatus.POSTED:
        raise ReversalRefused(f"批次{batch_id}的状态是{batch.status}，只有已入账（POSTED）的批次可以冲销")
    paid = conn.execute(select(employers.c.paid_through).where(employers.c.unit_account == batch.unit_account)).scalar()
    later = conn.execute(
        select(func.count()).where(
            batches.c.unit_account == batch.unit_account,
            batches.c.status == BatchStatus.POSTED,
            batches.c.month > batch.month,
        )
    ).scalar_one()
    if paid != batch.month or later:
        raise ReversalRefused(
            f"批次{batch_id}（{batch.month}）不是单位{batch.unit_account}最近入账的月份（已缴至{paid}）：只能从最近的月份起逐月冲销"
        )
    reversed_ = reverse(conn, batch_id, booked_on=booked_on)
    conn.execute(
        update(batches).where(batches.c.id == batch_id).values(status=BatchStatus.REVERSED, updated_at=func.now())
    )
    register.event(conn, batch_id, BatchStatus.REVERSED, batch.step, f"冲销：{reason}")
    return reversed_


def reverse(conn: Connection, batch_id: int, *, booked_on: date | None = None) -> Posted:
    """Reverse a posted batch's standing deposits on the day, credit their counter account back, restore the months.

    Only the standing deposits: a list that waited again after a credit was reversed
    and was posted once more has the earlier posting's deposits reversed already.
    """
    day = booked_on or date.today()
    batch = conn.execute(select(batches).where(batches.c.id == batch_id)).one()
    counter = counter_of(conn, batch_id)
    standing = and_(deposits.c.batch_id == batch_id, deposits.c.reversed.is_(False))
    employer_fen, employee_fen = conn.execute(
        select(func.coalesce(func.sum(deposits.c.employer_fen), 0), func.coalesce(func.sum(deposits.c.employee_fen), 0))
        .where(standing)
    ).one()  # fmt: skip
    total = int(employer_fen) + int(employee_fen)
    parts = {"employer": int(employer_fen), "employee": int(employee_fen)}
    _counter_entries(conn, [(batch_id, "reversal", counter, batch.month, parts)], day)
    _apply_to_members(conn, batch_id, sign=-1, paid_through=deposits.c.prev_paid_through)
    rows = conn.execute(update(deposits).where(standing).values(reversed=True, reversed_on=day)).rowcount
    _apply_to_control(conn, total, counter)
    conn.execute(
        update(employers)
        .where(employers.c.unit_account == batch.unit_account)
        .values(paid_through=batch.prev_paid_through, updated_at=func.now())
    )
    return Posted(rows, int(total))


def counter_of(conn: Connection, batch_id: int) -> str:
    """The account a posted batch's money came from: its deposit entries' negative side (CONTROL or a suspense)."""
    found = conn.execute(
        select(entries.c.account)
        .where(entries.c.batch_id == batch_id, entries.c.kind == "deposit", entries.c.amount_fen < 0)
        .limit(1)
    ).scalar()
    return str(found) if found is not None else CONTROL


def _opened_becomes_normal() -> Any:
    """An employer that was only opened (02) is normal (01) once it has paid."""
    return case((employers.c.status == OPENED, "01"), else_=employers.c.status)


_STAGED = "staged_deposits"
_STAGE_SQLITE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGED} (member_account TEXT, employer_fen INTEGER, employee_fen INTEGER)"
)
_STAGE_POSTGRESQL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGED} (member_account text, employer_fen bigint, employee_fen bigint) "
    "ON COMMIT DROP"
)
ANALYZE_FROM = 10_000
"""A posting of at least this many rows refreshes the statistics of `deposits` (PostgreSQL); a smaller one is
planned well by the stale ones, and a group of small lists would pay for an ANALYZE of the table each."""
_FROM_STAGE = (
    "INSERT INTO deposits (batch_id, member_account, month, employer_fen, employee_fen, prev_paid_through, booked_on) "
    f"SELECT :batch_id, s.member_account, :month, s.employer_fen, s.employee_fen, m.paid_through, :day FROM {_STAGED} s "
    "JOIN members m ON m.member_account = s.member_account ORDER BY {order}"
)


def _staged_order(conn: Connection) -> str:
    """The rows are staged in account order (sorted by polars). SQLite reads its temporary table in the
    order written, so ordering by rowid costs nothing (by account it sorted a million rows again: 1M rows
    3.8 -> 2.1 s); PostgreSQL's heap promises no order, so it sorts the already sorted rows."""
    return "s.member_account" if conn.dialect.name == "postgresql" else "s.rowid"


def _insert_deposits(conn: Connection, batch_id: int, month: int, frame: pl.DataFrame, day: date) -> int:
    """Stage the rows in a temporary table (COPY on PostgreSQL, executemany on SQLite), then one INSERT … SELECT.

    The join writes each member's paid-through month before this posting onto the
    deposit (a reversal restores it) and takes only registered members; in account
    order, so every index grows at its end. Returns how many deposits were written.
    """
    rows = frame.select("member_account", "employer_fen", "employee_fen").sort("member_account")
    if conn.dialect.name == "postgresql":
        raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        with raw.cursor() as cur:
            cur.execute(_STAGE_POSTGRESQL)  # a group of lists posts several in one transaction
            cur.execute(f"TRUNCATE {_STAGED}")
            with cur.copy(f"COPY {_STAGED} FROM STDIN (FORMAT csv)") as copy:
                copy.write(rows.write_csv(include_header=False))
            cur.execute(f"ANALYZE {_STAGED}")  # a temporary table is never analysed by autovacuum
    else:
        sqlite = cast(sqlite3.Connection, conn.connection.dbapi_connection)
        sqlite.execute(_STAGE_SQLITE)
        sqlite.execute(f"DELETE FROM {_STAGED}")
        sqlite.executemany(f"INSERT INTO {_STAGED} VALUES (?, ?, ?)", rows.iter_rows())
    inserted = conn.execute(
        text(_FROM_STAGE.format(order=_staged_order(conn))).bindparams(bindparam("day", type_=Date)),
        {"batch_id": batch_id, "month": month, "day": day},
    ).rowcount
    if conn.dialect.name == "postgresql" and rows.height >= ANALYZE_FROM:
        # Autovacuum has not seen these rows yet: without fresh statistics the planner takes a large
        # batch for a few rows and updates a million members by a million index probes.
        conn.exec_driver_sql("ANALYZE deposits")
    else:
        conn.exec_driver_sql(f"DELETE FROM {_STAGED}")
    return inserted


_GROUP = "staged_group_deposits"
_GROUP_COLUMNS = "batch_id, month, member_account, employer_fen, employee_fen"
_GROUP_SQLITE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_GROUP} "
    "(batch_id INTEGER, month INTEGER, member_account TEXT, employer_fen INTEGER, employee_fen INTEGER)"
)
_GROUP_POSTGRESQL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_GROUP} "
    "(batch_id bigint, month integer, member_account text, employer_fen bigint, employee_fen bigint) ON COMMIT DROP"
)


def _insert_group_deposits(conn: Connection, stacked: pl.DataFrame, day: date) -> int:
    """`_insert_deposits` of several lists' rows (each with its batch and month) in one INSERT … SELECT."""
    rows = stacked.select("batch_id", "month", "member_account", "employer_fen", "employee_fen").sort("member_account")
    if conn.dialect.name == "postgresql":
        raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        with raw.cursor() as cur:
            cur.execute(_GROUP_POSTGRESQL)
            cur.execute(f"TRUNCATE {_GROUP}")
            with cur.copy(f"COPY {_GROUP} ({_GROUP_COLUMNS}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(rows.write_csv(include_header=False))
            cur.execute(f"ANALYZE {_GROUP}")
    else:
        sqlite = cast(sqlite3.Connection, conn.connection.dbapi_connection)
        sqlite.execute(_GROUP_SQLITE)
        sqlite.execute(f"DELETE FROM {_GROUP}")
        sqlite.executemany(f"INSERT INTO {_GROUP} VALUES (?, ?, ?, ?, ?)", rows.iter_rows())
    inserted = conn.execute(
        text(
            "INSERT INTO deposits (batch_id, member_account, month, employer_fen, employee_fen, prev_paid_through, "
            "booked_on) SELECT s.batch_id, s.member_account, s.month, s.employer_fen, s.employee_fen, m.paid_through, "
            f":day FROM {_GROUP} s JOIN members m ON m.member_account = s.member_account ORDER BY {_staged_order(conn)}"
        ).bindparams(bindparam("day", type_=Date)),
        {"day": day},
    ).rowcount
    conn.exec_driver_sql(f"DELETE FROM {_GROUP}")
    return inserted


def _apply_to_members(conn: Connection, batch_id: int, *, sign: int, paid_through: Any) -> None:
    """Balances and paid-through months of the batch's members: one UPDATE … FROM deposits (SQLite ≥ 3.33, PostgreSQL)."""
    conn.execute(
        update(members)
        .where(
            deposits.c.batch_id == batch_id,
            deposits.c.member_account == members.c.member_account,
            deposits.c.reversed.is_(False),
        )
        .values(
            balance_fen=members.c.balance_fen + sign * (deposits.c.employer_fen + deposits.c.employee_fen),
            paid_through=paid_through,
        )
    )


def _apply_to_controls(conn: Connection, deltas: dict[str, int]) -> None:
    """`_apply_to_control` of several accounts: rows created for those new, then one statement executed for each."""
    if not deltas:
        return
    known = set(
        conn.execute(select(control_accounts.c.code).where(control_accounts.c.code.in_(list(deltas)))).scalars()
    )
    fresh = [{"code": c, "balance_fen": 0} for c in deltas if c not in known]
    if fresh:
        conn.execute(insert(control_accounts), fresh)
    conn.execute(
        update(control_accounts)
        .where(control_accounts.c.code == bindparam("c_code"))
        .values(balance_fen=control_accounts.c.balance_fen + bindparam("c_delta")),
        [{"c_code": c, "c_delta": d} for c, d in deltas.items()],
    )


def _apply_to_control(conn: Connection, amount_fen: int, code: str = CONTROL) -> None:
    """Add to a centre account's balance (CONTROL, a suspense, …), creating its row the first time."""
    changed = conn.execute(
        update(control_accounts)
        .where(control_accounts.c.code == code)
        .values(balance_fen=control_accounts.c.balance_fen + amount_fen)
    ).rowcount
    if not changed:
        conn.execute(insert(control_accounts).values(code=code, balance_fen=amount_fen))


# ---------------------------------------------------------------- invariants


def verify(conn: Connection) -> list[Problem]:
    """Every ledger invariant that does not hold, in words; empty when the books are sound."""
    problems: list[Problem] = []
    standing = deposits.c.reversed.is_(False)
    held = (
        select(deposits.c.member_account, func.sum(deposits.c.employer_fen + deposits.c.employee_fen).label("total"))
        .where(standing)
        .group_by(deposits.c.member_account)
        .subquery()
    )
    for account, balance, total in conn.execute(
        select(members.c.member_account, members.c.balance_fen, func.coalesce(held.c.total, 0))
        .select_from(members.outerjoin(held, held.c.member_account == members.c.member_account))
        .where(members.c.balance_fen != func.coalesce(held.c.total, 0))
        .limit(1000)
    ):
        problems.append(
            Problem("L_BALANCE", f"个人账户{account}的余额{_yuan(balance)}元不等于其未冲销缴存之和{_yuan(total)}元")
        )
    problems += _centre_account_problems(conn)
    for batch_id, employer_fen, employee_fen in conn.execute(_UNBALANCED):
        problems.append(
            Problem(
                "L_UNBALANCED",
                f"批次{batch_id}的借贷不平衡：单位部分差{_yuan(employer_fen)}元，个人部分差{_yuan(employee_fen)}元"
                "（缴存与其对方分录之和应为0）",
            )
        )
    by_batch = (
        select(deposits.c.batch_id, func.sum(deposits.c.employer_fen + deposits.c.employee_fen).label("total"))
        .where(standing)
        .group_by(deposits.c.batch_id)
        .subquery()
    )
    held_by_batch = func.coalesce(by_batch.c.total, 0)
    for batch_id, status, posted, total in conn.execute(
        select(batches.c.id, batches.c.status, batches.c.posted_fen, held_by_batch)
        .select_from(batches.outerjoin(by_batch, by_batch.c.batch_id == batches.c.id))
        .where(
            case(
                (batches.c.status == BatchStatus.POSTED, func.coalesce(batches.c.posted_fen, 0) != held_by_batch),
                else_=held_by_batch != 0,
            )
        )
    ):
        if status == BatchStatus.POSTED:
            words = f"批次{batch_id}记录的入账金额{_yuan(posted or 0)}元不等于其未冲销的缴存{_yuan(total)}元"
        else:
            words = f"批次{batch_id}的状态是{status}，却有{_yuan(total)}元未冲销的缴存（只有已入账的批次有缴存）"
        problems.append(Problem("L_BATCH_TOTAL", words))
    # The ledger tables carry no foreign keys (see db.tables): every row must still have its member and batch.
    orphans = (
        ("笔缴存的个人账户不存在", select(func.count()).select_from(deposits.outerjoin(
            members, members.c.member_account == deposits.c.member_account)).where(members.c.member_account.is_(None))),
        ("笔缴存不属于任何批次", select(func.count()).select_from(deposits.outerjoin(
            batches, batches.c.id == deposits.c.batch_id)).where(batches.c.id.is_(None))),
        ("条分录不属于任何批次", select(func.count()).select_from(entries.outerjoin(
            batches, batches.c.id == entries.c.batch_id)).where(batches.c.id.is_(None))),
    )  # fmt: skip
    for words, query in orphans:
        if n := conn.execute(query).scalar_one():
            problems.append(Problem("L_ORPHAN", f"有{n}{words}"))
    for account, month, n in conn.execute(
        select(deposits.c.member_account, deposits.c.month, func.count())
        .where(deposits.c.reversed.is_(False))
        .group_by(deposits.c.member_account, deposits.c.month)
        .having(func.count() > 1)
    ):
        problems.append(Problem("L_DOUBLE_DEPOSIT", f"个人账户{account}在{month}有{n}笔未冲销的缴存（应至多一笔）"))
    return problems + _paid_through_problems(conn) + _event_problems(conn)


_UNBALANCED = text(
    "SELECT batch_id, sum(employer_fen), sum(employee_fen) FROM ("
    " SELECT batch_id, CASE WHEN part = 'employer' THEN amount_fen ELSE 0 END AS employer_fen,"
    "  CASE WHEN part = 'employee' THEN amount_fen ELSE 0 END AS employee_fen FROM entries"
    " UNION ALL SELECT batch_id, employer_fen, employee_fen FROM deposits WHERE NOT reversed) sides "
    "GROUP BY batch_id HAVING sum(employer_fen) <> 0 OR sum(employee_fen) <> 0 ORDER BY batch_id LIMIT 1000"
)
"""Each batch's standing deposits (the members' side) against its counter entries, part by part."""
_CENTRE_SUMS = text(
    "SELECT a.code, a.balance_fen, coalesce(e.total, 0) + coalesce(c.total, 0) - coalesce(d.total, 0) "
    "FROM control_accounts a "
    "LEFT JOIN (SELECT account, sum(amount_fen) AS total FROM entries GROUP BY account) e ON e.account = a.code "
    "LEFT JOIN (SELECT credit, sum(amount_fen) AS total FROM fund_moves GROUP BY credit) c ON c.credit = a.code "
    "LEFT JOIN (SELECT debit, sum(amount_fen) AS total FROM fund_moves GROUP BY debit) d ON d.debit = a.code "
    "WHERE a.balance_fen <> coalesce(e.total, 0) + coalesce(c.total, 0) - coalesce(d.total, 0) ORDER BY a.code"
)
_UNKNOWN_ACCOUNTS = text(
    "SELECT count(*) FROM (SELECT debit AS code FROM fund_moves UNION SELECT credit FROM fund_moves "
    "UNION SELECT account FROM entries) m "
    "WHERE NOT EXISTS (SELECT 1 FROM control_accounts a WHERE a.code = m.code)"
)
_BANK_LINES = text(
    "SELECT coalesce(sum(CASE WHEN kind = 'credit' THEN amount_fen ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN kind = 'reversal' THEN -amount_fen ELSE 0 END), 0) FROM bank_lines"
)


def _centre_account_problems(conn: Connection) -> list[Problem]:
    """The centre's accounts (CONTROL, banks, suspense, unidentified, exceptions) and the identities of SPEC §9."""
    problems = [
        Problem("L_BALANCE", f"账户{code}的余额{_yuan(balance)}元不等于其分录之和{_yuan(total)}元")
        for code, balance, total in conn.execute(_CENTRE_SUMS)
    ]
    if n := conn.execute(_UNKNOWN_ACCOUNTS).scalar_one():
        problems.append(Problem("L_ORPHAN", f"有{n}个分录或资金分录的账户不在中心账户表中"))
    member_total = int(conn.execute(select(func.coalesce(func.sum(members.c.balance_fen), 0))).scalar_one())
    centre_total = int(conn.execute(select(func.coalesce(func.sum(control_accounts.c.balance_fen), 0))).scalar_one())
    if member_total + centre_total:
        problems.append(
            Problem(
                "L_CONTROL",
                f"全部账户合计应为0，实际为{_yuan(member_total + centre_total)}元"
                f"（个人账户{_yuan(member_total)}元，中心各账户{_yuan(centre_total)}元）",
            )
        )
    posted = int(
        conn.execute(
            select(func.coalesce(func.sum(batches.c.posted_fen), 0)).where(batches.c.status == BatchStatus.POSTED)
        ).scalar_one()
    )
    if posted != member_total:
        problems.append(
            Problem(
                "L_CONTROL",
                f"个人账户余额合计{_yuan(member_total)}元应等于已入账清册合计减已冲销（{_yuan(posted)}元）",
            )
        )
    balances = {
        str(c): int(b) for c, b in conn.execute(select(control_accounts.c.code, control_accounts.c.balance_fen))
    }
    credited, reversed_ = (int(v) for v in conn.execute(_BANK_LINES).one())
    held = -sum(int(b) for code, b in balances.items() if code.startswith(BANK_PREFIX))
    if held != credited - reversed_:
        problems.append(
            Problem(
                "L_FUNDS",
                f"银行账户余额{_yuan(held)}元应等于登记的到账{_yuan(credited)}元减冲正{_yuan(reversed_)}元",
            )
        )
    suspense = sum(int(b) for code, b in balances.items() if code.startswith(SUSPENSE_PREFIX))
    waiting = suspense + int(balances.get(UNIDENTIFIED, 0)) + int(balances.get(EXCEPTIONS, 0))
    from_suspense = member_total + int(balances.get(CONTROL, 0))  # what members hold that did not come via CONTROL
    if credited - reversed_ != waiting + from_suspense:
        problems.append(
            Problem(
                "L_FUNDS",
                f"到账减冲正{_yuan(credited - reversed_)}元应等于单位暂收{_yuan(suspense)}元 + 未识别"
                f"{_yuan(int(balances.get(UNIDENTIFIED, 0)))}元 + 异常{_yuan(int(balances.get(EXCEPTIONS, 0)))}元"
                f" + 由暂收入账的清册净额{_yuan(from_suspense)}元",
            )
        )
    for code, balance in sorted(balances.items()):
        if (code.startswith(SUSPENSE_PREFIX) or code == UNIDENTIFIED) and balance < 0:
            problems.append(Problem("L_SUSPENSE", f"暂收账户{code}的余额为负（{_yuan(int(balance))}元）"))
    return problems


def _paid_through_problems(conn: Connection) -> list[Problem]:
    """Every paid-through month is the latest standing deposit's (members) or posted list's (employers).

    Only the ledger moves these months once something was posted: a master
    import or a hand edit that moved one would let a month be paid twice.
    """
    checks = (
        (members, "member_account", deposits, deposits.c.reversed.is_(False), "个人账户{}的缴至年月为{}，但最近一笔未冲销的缴存是{}"),
        (employers, "unit_account", batches, batches.c.status == BatchStatus.POSTED, "单位{}的缴至年月为{}，但最近入账的清册是{}"),
    )  # fmt: skip
    problems = []
    for owner, key, source, standing, words in checks:
        latest = (
            select(source.c[key], func.max(source.c.month).label("latest")).where(standing).group_by(source.c[key])
        ).subquery()
        for who, paid, month in conn.execute(
            select(owner.c[key], owner.c.paid_through, latest.c.latest)
            .join(latest, latest.c[key] == owner.c[key])
            .where(func.coalesce(owner.c.paid_through, 0) != latest.c.latest)
            .order_by(owner.c[key])
            .limit(1000)
        ):
            problems.append(Problem("L_PAID_THROUGH", words.format(who, paid or "空白", month)))
    return problems


_REPLAYED = text(
    "SELECT m.member_account, m.unit_account, m.status, m.base_fen, e.new_unit, e.new_status, e.new_base_fen "
    "FROM members m JOIN (SELECT member_account, max(id) AS id FROM member_events GROUP BY member_account) l "
    "ON l.member_account = m.member_account JOIN member_events e ON e.id = l.id "
    "WHERE m.unit_account <> e.new_unit OR m.status <> e.new_status OR m.base_fen <> e.new_base_fen "
    "ORDER BY m.member_account LIMIT 1000"
)
_CHAINED = text(
    "SELECT member_account, id, month, prev_month FROM ("
    " SELECT member_account, id, month, old_unit, old_status, old_base_fen,"
    "  LAG(id) OVER w AS prev_id, LAG(month) OVER w AS prev_month, LAG(new_unit) OVER w AS prev_unit,"
    "  LAG(new_status) OVER w AS prev_status, LAG(new_base_fen) OVER w AS prev_base"
    " FROM member_events WINDOW w AS (PARTITION BY member_account ORDER BY id)) AS chained "
    "WHERE prev_id IS NOT NULL AND (month < prev_month OR coalesce(old_unit, '') <> prev_unit "
    "OR coalesce(old_status, '') <> prev_status OR coalesce(old_base_fen, -1) <> prev_base) "
    "ORDER BY member_account, id LIMIT 1000"
)
_UNANCHORED = text(
    "SELECT count(*) FROM member_events e WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.member_account = "
    "e.member_account) OR NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = e.batch_id AND b.status = 'APPLIED')"
)


def _event_problems(conn: Connection) -> list[Problem]:
    """Every member's state is the replay of its events (SPEC §3.2), and the events follow one another.

    The members row must hold what its latest event made it; each event must
    start from what the one before it left, never earlier in the month order;
    and each belongs to a member and to an applied change list.
    """
    words = {"normal": "正常", "sealed": "封存", "closed": "销户"}

    def state(unit: str, status: str, base: int) -> str:
        return f"单位{unit}、{words.get(status, status)}、基数{_yuan(base)}元"

    problems = [
        Problem(
            "L_EVENTS",
            f"个人账户{r[0]}的当前状态（{state(r[1], r[2], r[3])}）不是其变更记录的结果（{state(r[4], r[5], r[6])}）",
        )
        for r in conn.execute(_REPLAYED)
    ]
    problems += [
        Problem(
            "L_EVENTS",
            f"个人账户{account}的变更{event}（{month}）没有接续上一条变更（{prev}）的结果，或生效年月早于上一条",
        )
        for account, event, month, prev in conn.execute(_CHAINED)
    ]
    if n := conn.execute(_UNANCHORED).scalar_one():
        problems.append(Problem("L_ORPHAN", f"有{n}条变更记录不属于任何个人账户或已办理的变更清册"))
    return problems


def _yuan(fen: int) -> str:
    return format_yuan(int(fen))
