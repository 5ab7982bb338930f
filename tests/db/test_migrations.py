"""Migrations of a database that holds postings, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text

from db import engine, ledger, register, tables
from db.store import Store
from tests.support.master import load

UNIT = "0101000123"


@pytest.fixture
def at_0008(db_url: str) -> Iterator[Store]:
    """A database at revision 0008, before a deposit became the members' side of its transfer."""
    e = engine.make_engine(db_url)
    engine.upgrade(e, "0008")
    yield Store(e)
    e.dispose()


def _entry(conn, batch_id: int, kind: str, account: str, part: str, month: int, fen: int, day: date | None,  # type: ignore[no-untyped-def]
           at: datetime | None = None) -> None:  # fmt: skip
    conn.execute(
        text(
            "INSERT INTO entries (batch_id, kind, account, part, month, amount_fen, booked_on, created_at) "
            "VALUES (:b, :k, :a, :p, :m, :f, :d, :at)"
        ),
        {"b": batch_id, "k": kind, "a": account, "p": part, "m": month, "f": fen, "d": day,
         "at": at or datetime(2026, 11, 1, 12, tzinfo=UTC)},
    )  # fmt: skip


def _posting(conn, batch_id: int, member: str, month: int, fen: int, day: date | None,  # type: ignore[no-untyped-def]
             at: datetime | None = None) -> None:  # fmt: skip
    """What 0008's ledger wrote for one member's deposit: its two member entries and the two CONTROL ones."""
    for part in ("employer", "employee"):
        _entry(conn, batch_id, "deposit", member, part, month, fen, day, at)
        _entry(conn, batch_id, "deposit", "CONTROL", part, month, -fen, day, at)


def _upgrade_to(store: Store, revision: str, *, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(engine.MIGRATIONS))
    with store.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_0009_moves_each_deposits_days_onto_it_and_removes_the_member_entries(at_0008: Store) -> None:
    """A list posted, reversed by a bank reversal and posted again (two sets of deposits in one batch), and
    an older list whose entries have no booking day: each deposit gets the days of its own entries."""
    store = at_0008
    load(store)
    again, _ = register.claim(store.engine, register.Arrival(UNIT, f"{UNIT}_202611.csv", 100, 1))
    older, _ = register.claim(store.engine, register.Arrival(UNIT, f"{UNIT}_202610.csv", 100, 1))
    nov, oct_ = int(again.id), int(older.id)
    with store.engine.begin() as conn:
        deposit = text(
            "INSERT INTO deposits (batch_id, member_account, month, employer_fen, employee_fen, prev_paid_through, "
            "reversed) VALUES (:b, :m, :month, :f, :f, :prev, :r)"
        )
        conn.execute(deposit, {"b": oct_, "m": "100002", "month": 202610, "f": 3000, "prev": 202609, "r": False})
        _posting(conn, oct_, "100002", 202610, 3000, None, datetime(2026, 10, 30, 12, tzinfo=UTC))
        conn.execute(deposit, {"b": nov, "m": "100001", "month": 202611, "f": 60000, "prev": 202610, "r": True})
        _posting(conn, nov, "100001", 202611, 60000, date(2026, 11, 20))
        for part in ("employer", "employee"):
            _entry(conn, nov, "reversal", "100001", part, 202611, -60000, date(2026, 11, 21))
            _entry(conn, nov, "reversal", "CONTROL", part, 202611, 60000, date(2026, 11, 21))
        conn.execute(deposit, {"b": nov, "m": "100001", "month": 202611, "f": 50000, "prev": 202610, "r": False})
        _posting(conn, nov, "100001", 202611, 50000, date(2026, 11, 22))
        for batch_id, month, fen in ((oct_, 202610, 6000), (nov, 202611, 100000)):
            conn.execute(
                text(
                    "UPDATE batches SET status = 'POSTED', step = 'archived', month = :m, posted_fen = :f WHERE id = :b"
                ),
                {"m": month, "f": fen, "b": batch_id},
            )
        conn.execute(
            text("UPDATE members SET balance_fen = 100000, paid_through = 202611 WHERE member_account = '100001'")
        )
        conn.execute(text("UPDATE members SET balance_fen = 6000 WHERE member_account = '100002'"))
        conn.execute(text("UPDATE employers SET paid_through = 202611 WHERE unit_account = :u"), {"u": UNIT})
        conn.execute(text("UPDATE control_accounts SET balance_fen = -106000 WHERE code = 'CONTROL'"))

    engine.upgrade(store.engine)

    d = tables.deposits.c
    with store.engine.connect() as conn:
        days = conn.execute(select(d.member_account, d.employer_fen, d.booked_on, d.reversed_on).order_by(d.id)).all()
        left = conn.execute(select(tables.entries.c.account).distinct()).scalars().all()
        assert ledger.verify(conn) == []
    assert [tuple(r) for r in days] == [
        ("100002", 3000, date(2026, 10, 30), None),  # no booking day: the entries' creation date
        ("100001", 60000, date(2026, 11, 20), date(2026, 11, 21)),
        ("100001", 50000, date(2026, 11, 22), None),
    ]
    assert left == ["CONTROL"]  # each batch's counter side stays; the members' side is the deposits

    _upgrade_to(store, "0008", down=True)  # and back: the member entries are written again from the deposits
    with store.engine.connect() as conn:
        member_side = conn.execute(
            text(
                "SELECT kind, sum(amount_fen), count(*) FROM entries WHERE account <> 'CONTROL' GROUP BY kind ORDER BY kind"
            )
        ).all()
        control = conn.execute(select(func.sum(tables.entries.c.amount_fen))).scalar_one()
    assert [tuple(r) for r in member_side] == [("deposit", 226000, 6), ("reversal", -120000, 2)]
    assert control == 0
