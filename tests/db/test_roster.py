"""The member-event edge on SQLite and PostgreSQL: new account numbers, and the roster of an earlier month."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, update

from db import roster, tables
from db.store import Store
from schemas.errors import TerminalError
from tests.support.master import load


def _member(store: Store, account: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(tables.members).values(
                member_account=account, unit_account="0101000123", name="测试", id_type="03",
                id_number=f"P{account[-8:]}", base_fen=500000, status="normal",
            )
        )  # fmt: skip


def test_new_numbers_are_above_every_account_ever_held_and_never_given_twice(store: Store) -> None:
    load(store)
    with store.engine.begin() as conn:
        first = roster.allocate(conn, 3)
    assert first == 100_000_000_000  # the accounts held are short: new ones start at the first 12-digit number
    with store.engine.begin() as conn:
        assert roster.allocate(conn, 1) == first + 3  # the sequence, even though nobody took those numbers
    _member(store, "000500000000000")  # leading zeros ignored: it is 500000000000
    with store.engine.begin() as conn:
        assert roster.allocate(conn, 1) == 500000000001


def test_the_numbers_run_out_with_a_clear_error_not_a_thirteenth_digit(store: Store) -> None:
    load(store)
    _member(store, "999999999998")
    with store.engine.begin() as conn:
        assert roster.allocate(conn, 1) == 999999999999
    with pytest.raises(TerminalError, match="12位个人账号已用完"), store.engine.begin() as conn:
        roster.allocate(conn, 1)


def test_the_roster_of_an_earlier_month_undoes_the_later_events(store: Store) -> None:
    import polars as pl

    load(store)
    with (
        store.engine.begin() as conn
    ):  # 李四 (sealed) moved to 0101000456 from 202612, as a change list would have done it
        conn.execute(
            update(tables.members)
            .where(tables.members.c.member_account == "100002")
            .values(unit_account="0101000456", status="normal")
        )
        conn.execute(
            insert(tables.member_events).values(
                member_account="100002", batch_id=1, month=202612, change="open", old_unit="0101000123",
                new_unit="0101000456", old_status="sealed", new_status="normal", old_base_fen=3_296_900,
                new_base_fen=3_296_900,
            )
        )  # fmt: skip
    empty = pl.Series([], dtype=pl.String)
    november = store.members("0101000123", empty, month=202611)
    assert november.filter(pl.col("member_account") == "100002")["status"].to_list() == ["sealed"]
    december = store.members("0101000123", empty, month=202612)
    assert "100002" not in december["member_account"].to_list()  # gone: another employer's, not named in the file
    there = store.members("0101000456", empty, month=202611)  # still listed, as another employer's member then
    assert there.filter(pl.col("member_account") == "100002")["unit_account"].to_list() == ["0101000123"]
    there = store.members("0101000456", empty, month=202612)
    assert there.filter(pl.col("member_account") == "100002")["status"].to_list() == ["normal"]
