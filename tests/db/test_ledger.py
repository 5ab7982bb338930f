"""Posting, reversal, the register and the invariants, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date

import polars as pl
import pytest
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from db import accounts, ledger, register, tables
from db.store import Store
from tests.support.master import load

UNIT = "0101000123"
DAY = date(2026, 11, 25)


def _rows(*members: tuple[str, int, int]) -> pl.DataFrame:
    return pl.DataFrame(members, schema=["member_account", "employer_fen", "employee_fen"], orient="row")


def _claim(store: Store, name: str = f"{UNIT}_202611.csv", unit: str = UNIT) -> int:
    row, created = register.claim(store.engine, register.Arrival(unit, name, 100, 1))
    assert created
    return int(row.id)


def _post(store: Store, batch_id: int, month: int, rows: pl.DataFrame, unit: str = UNIT) -> ledger.Posted:
    with store.engine.begin() as conn:
        posted = ledger.post(conn, batch_id, unit, month, rows)
        conn.execute(
            update(tables.batches)
            .where(tables.batches.c.id == batch_id)
            .values(status="POSTED", step="decided", month=month, posted_fen=posted.total_fen)
        )
    return posted


def _balances(store: Store) -> dict[str, tuple[int, int | None]]:
    with store.engine.connect() as conn:
        return {r.member_account: (r.balance_fen, r.paid_through) for r in conn.execute(select(tables.members))}


def _control(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(tables.control_accounts.c.balance_fen)).scalar_one())


def _deposits(store: Store) -> list[tuple[int, str, int, int, int, bool, date | None, date | None]]:
    d = tables.deposits.c
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(d.batch_id, d.member_account, d.month, d.employer_fen, d.employee_fen, d.reversed, d.booked_on,
                   d.reversed_on).order_by(d.id)
        ).all()  # fmt: skip
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_post_credits_members_and_debits_control(store: Store) -> None:
    """The deposit is the members' side (its two parts as columns), the batch's CONTROL entries the other."""
    load(store)
    batch = _claim(store)
    with store.engine.begin() as conn:
        posted = ledger.post(conn, batch, UNIT, 202611, _rows(("100001", 60000, 60000)), booked_on=DAY)
        conn.execute(
            update(tables.batches)
            .where(tables.batches.c.id == batch)
            .values(status="POSTED", step="decided", month=202611, posted_fen=posted.total_fen)
        )
    assert posted == ledger.Posted(1, 120000)
    assert _balances(store)["100001"] == (120000, 202611)
    assert _balances(store)["100002"] == (0, 202610)  # not in the batch: untouched
    assert _control(store) == -120000
    with store.engine.connect() as conn:
        parts = conn.execute(
            select(tables.entries.c.account, tables.entries.c.part, tables.entries.c.amount_fen).order_by(
                tables.entries.c.id
            )
        ).all()
        assert ledger.verify(conn) == []
        employer = conn.execute(select(tables.employers).where(tables.employers.c.unit_account == UNIT)).one()
    assert parts == [("CONTROL", "employer", -60000), ("CONTROL", "employee", -60000)]
    assert _deposits(store) == [(batch, "100001", 202611, 60000, 60000, False, DAY, None)]
    assert employer.paid_through == 202611


def test_first_payment_makes_an_opened_employer_normal(store: Store) -> None:
    load(store)
    batch = _claim(store, "0101000456_202611.csv", "0101000456")
    _post(store, batch, 202611, _rows(("200001", 11000, 11000)), unit="0101000456")
    with store.engine.connect() as conn:
        status = conn.execute(
            select(tables.employers.c.status).where(tables.employers.c.unit_account == "0101000456")
        ).scalar()
    assert status == "01"


def test_a_month_cannot_be_posted_twice(store: Store) -> None:
    load(store)
    _post(store, _claim(store), 202611, _rows(("100001", 60000, 60000)))
    second = _claim(store, f"{UNIT}_202611_v2.csv")
    with pytest.raises(ledger.PostingConflict), store.engine.begin() as conn:
        ledger.post(conn, second, UNIT, 202611, _rows(("100001", 60000, 60000)))
    assert _balances(store)["100001"] == (120000, 202611)


def test_the_database_itself_refuses_a_second_deposit_for_a_member_month(store: Store) -> None:
    load(store)
    first, second = _claim(store), _claim(store, "other.csv")
    row = {"member_account": "100001", "month": 202611, "employer_fen": 1, "employee_fen": 1}
    with store.engine.begin() as conn:
        conn.execute(insert(tables.deposits).values(batch_id=first, **row))
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(tables.deposits).values(batch_id=second, **row))


def test_two_workers_posting_the_same_month_at_once_post_it_once(store: Store) -> None:
    load(store)
    batches = [_claim(store, f"{UNIT}_202611_{n}.csv") for n in range(2)]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def worker(batch_id: int) -> None:
        barrier.wait()
        try:
            _post(store, batch_id, 202611, _rows(("100001", 60000, 60000)))
            outcomes.append("posted")
        except (ledger.PostingConflict, IntegrityError):
            outcomes.append("refused")

    threads = [threading.Thread(target=worker, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["posted", "refused"]
    assert _balances(store)["100001"] == (120000, 202611)
    with store.engine.connect() as conn:
        assert ledger.verify(conn) == []


def test_reversal_appends_opposite_entries_and_restores_months(store: Store) -> None:
    load(store)
    batch = _claim(store)
    _post(store, batch, 202611, _rows(("100001", 60000, 60000)))
    with store.engine.begin() as conn:
        assert ledger.reverse(conn, batch) == ledger.Posted(1, 120000)  # the same day: after the deposit
        conn.execute(update(tables.batches).where(tables.batches.c.id == batch).values(status="REVERSED"))
    assert _balances(store)["100001"] == (0, 202610)
    assert _control(store) == 0
    with store.engine.connect() as conn:
        kinds = conn.execute(select(tables.entries.c.kind, tables.entries.c.amount_fen)).all()
        paid = conn.execute(
            select(tables.employers.c.paid_through).where(tables.employers.c.unit_account == UNIT)
        ).scalar()
        assert ledger.verify(conn) == []
        statement = [(r.kind, r.part, r.amount_fen, r.booked_on) for r in accounts.entries_of(conn, "100001", 10)]
    # The counter side of the deposit and of its reversal; the deposit itself kept, marked reversed on the day.
    assert sorted(kinds) == [("deposit", -60000), ("deposit", -60000), ("reversal", 60000), ("reversal", 60000)]
    [(*_, reversed_, _, reversed_on)] = _deposits(store)
    today = date.today()
    assert (reversed_, reversed_on) == (True, today)
    assert statement == [("reversal", "employee", -60000, today), ("reversal", "employer", -60000, today),
                         ("deposit", "employee", 60000, today), ("deposit", "employer", 60000, today)]  # fmt: skip
    assert paid == 202610
    # The month can be filed again, and posts.
    _post(store, _claim(store, f"{UNIT}_202611_v2.csv"), 202611, _rows(("100001", 50000, 50000)))
    assert _balances(store)["100001"] == (100000, 202611)


def test_verify_finds_a_corrupted_balance(store: Store) -> None:
    load(store)
    _post(store, _claim(store), 202611, _rows(("100001", 60000, 60000)))
    with store.engine.begin() as conn:
        conn.execute(update(tables.members).where(tables.members.c.member_account == "100001").values(balance_fen=1))
    with store.engine.connect() as conn:
        problems = ledger.verify(conn)
    assert any("100001" in p.message and "未冲销缴存之和" in p.message for p in problems)
    assert any(p.code == "L_CONTROL" and "合计应为0" in p.message for p in problems)


def test_claim_is_once_per_arrival(store: Store) -> None:
    arrival = register.Arrival(UNIT, f"{UNIT}_202611.csv", 10, 5)
    first, created = register.claim(store.engine, arrival)
    again, created_again = register.claim(store.engine, arrival)
    assert created and not created_again and first.id == again.id
    later, created_later = register.claim(store.engine, register.Arrival(UNIT, f"{UNIT}_202611.csv", 10, 6))
    assert created_later and later.id != first.id


def test_results_round_trip_and_history(store: Store) -> None:
    batch = _claim(store)
    files = {"x.result.json": b"{}", "x.result.csv": "行号\n".encode() * 1000}
    with store.engine.begin() as conn:
        register.decide(
            conn,
            batch,
            status="REJECTED",
            month=202611,
            sha256="ab" * 32,
            counts={"rows": 3, "rejected_rows": 1},
            duplicate_of=None,
            files=files,
            message="拒绝",
        )
    register.advance(store.engine, batch, "published", "结果已上传")
    register.fail(store.engine, batch, "归档失败：连接中断")
    with store.engine.connect() as conn:
        assert register.results(conn, batch) == files
        row = register.get(conn, batch)
        history = conn.execute(
            select(tables.batch_events.c.status, tables.batch_events.c.step)
            .where(tables.batch_events.c.batch_id == batch)
            .order_by(tables.batch_events.c.id)
        ).all()
    assert row is not None and (row.status, row.step, row.last_error) == ("REJECTED", "published", "归档失败：连接中断")
    assert [tuple(h) for h in history] == [
        ("RECEIVED", "claimed"),
        ("REJECTED", "decided"),
        ("REJECTED", "published"),
        ("FAILED", "published"),
    ]


# ------------------------------------------------------------ a group at once


def _mark(conn: Connection, postings: list[ledger.Posting], posted: list[ledger.Posted]) -> None:
    for p, done in zip(postings, posted, strict=True):
        conn.execute(
            update(tables.batches)
            .where(tables.batches.c.id == p.batch_id)
            .values(status="POSTED", step="decided", month=p.month, posted_fen=done.total_fen)
        )


def _entries(store: Store) -> list[tuple[int, str, str, str, int, int]]:
    e = tables.entries.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(e.batch_id, e.kind, e.account, e.part, e.month, e.amount_fen)).all()
    return sorted(tuple(r) for r in rows)  # type: ignore[misc]


def _paid(store: Store) -> dict[str, int | None]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(tables.employers.c.unit_account, tables.employers.c.paid_through)).all())


def test_post_many_writes_what_posting_each_writes(store: Store) -> None:
    """Two employers' lists in one set of statements: each deposit, entry, balance, month and counter as `post` writes them."""
    load(store)
    a, b = _claim(store), _claim(store, "0101000456_202611.csv", "0101000456")
    group = [
        ledger.Posting(a, UNIT, 202611, _rows(("100001", 60000, 60000), ("100002", 3000, 3000))),
        ledger.Posting(b, "0101000456", 202611, _rows(("200001", 11000, 11000))),
    ]
    with store.engine.begin() as conn:
        posted = ledger.post_many(conn, group)
        _mark(conn, group, posted)
        assert ledger.verify(conn) == []
        prev = dict(conn.execute(select(tables.batches.c.id, tables.batches.c.prev_paid_through)).all())
    assert posted == [ledger.Posted(2, 126000), ledger.Posted(1, 22000)]
    assert _balances(store) == {"100001": (120000, 202611), "100002": (6000, 202611), "200001": (22000, 202611)}
    assert _control(store) == -148000
    assert _paid(store) == {UNIT: 202611, "0101000456": 202611}
    assert prev == {a: 202610, b: None}
    part = [("employer", 60000, 3000, 11000), ("employee", 60000, 3000, 11000)]
    assert _entries(store) == sorted(
        [(a, "deposit", "CONTROL", p, 202611, -(x + y)) for p, x, y, _ in part]
        + [(b, "deposit", "CONTROL", p, 202611, -z) for p, _, _, z in part]
    )
    today = date.today()
    assert sorted(_deposits(store)) == [
        (a, "100001", 202611, 60000, 60000, False, today, None),
        (a, "100002", 202611, 3000, 3000, False, today, None),
        (b, "200001", 202611, 11000, 11000, False, today, None),
    ]


def test_post_many_refuses_the_group_when_one_list_is_not_due(store: Store) -> None:
    load(store)
    a, b = _claim(store), _claim(store, "0101000456_202611.csv", "0101000456")
    with pytest.raises(ledger.PostingConflict, match="0101000123已不是202612的应缴单位"), store.engine.begin() as conn:
        ledger.post_many(
            conn,
            [
                ledger.Posting(b, "0101000456", 202611, _rows(("200001", 11000, 11000))),
                ledger.Posting(a, UNIT, 202612, _rows(("100001", 60000, 60000))),  # 202611 is due, not 202612
            ],
        )
    assert _balances(store) == {"100001": (0, 202610), "100002": (0, 202610), "200001": (0, None)}
    assert _entries(store) == []


def test_post_many_posts_a_member_in_two_lists_list_by_list(store: Store) -> None:
    """November and December of one employer in one group: one UPDATE … FROM must not meet the member twice."""
    load(store)
    nov, dec = _claim(store), _claim(store, f"{UNIT}_202612.csv")
    group = [
        ledger.Posting(nov, UNIT, 202611, _rows(("100001", 60000, 60000))),
        ledger.Posting(dec, UNIT, 202612, _rows(("100001", 60000, 60000))),
    ]
    with store.engine.begin() as conn:
        _mark(conn, group, ledger.post_many(conn, group))
        assert ledger.verify(conn) == []
    assert _balances(store)["100001"] == (240000, 202612)
    assert _paid(store)[UNIT] == 202612


def test_a_list_posted_again_after_a_reversal_is_reversed_by_its_standing_deposits_only(store: Store) -> None:
    """A bank reversal sends a posted list back to wait (`db.funds`), it is posted again as the same batch,
    then reversed: only the second posting's deposits are reversed, and the books stay sound throughout."""
    load(store)
    batch = _claim(store)
    _post(store, batch, 202611, _rows(("100001", 60000, 60000)))
    with store.engine.begin() as conn:
        ledger.reverse(conn, batch, booked_on=DAY)
    _post(store, batch, 202611, _rows(("100001", 50000, 50000)))
    with store.engine.connect() as conn:
        assert ledger.verify(conn) == []
    with store.engine.begin() as conn:
        assert ledger.reverse(conn, batch) == ledger.Posted(1, 100000)
        conn.execute(update(tables.batches).where(tables.batches.c.id == batch).values(status="REVERSED"))
        assert ledger.verify(conn) == []
    assert _balances(store)["100001"] == (0, 202610) and _control(store) == 0
    assert [(r[3], r[5], r[7]) for r in _deposits(store)] == [(60000, True, DAY), (50000, True, date.today())]


def test_verify_finds_a_deposit_without_its_counter_side_and_money_on_a_list_not_posted(store: Store) -> None:
    load(store)
    batch = _claim(store)
    _post(store, batch, 202611, _rows(("100001", 60000, 60000)))
    with store.engine.begin() as conn:
        conn.execute(tables.entries.delete().where(tables.entries.c.part == "employee"))
        conn.execute(update(tables.batches).where(tables.batches.c.id == batch).values(status="REJECTED"))
    with store.engine.connect() as conn:
        problems = {p.code: p.message for p in ledger.verify(conn)}
    assert problems["L_UNBALANCED"] == (
        f"批次{batch}的借贷不平衡：单位部分差0.00元，个人部分差600.00元（缴存与其对方分录之和应为0）"
    )
    assert (
        problems["L_BATCH_TOTAL"] == f"批次{batch}的状态是REJECTED，却有1200.00元未冲销的缴存（只有已入账的批次有缴存）"
    )
