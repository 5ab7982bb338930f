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


def _move_li(store: Store) -> None:
    """李四 (sealed) moved to 0101000456 from 202612, as a change list would have done it."""
    with store.engine.begin() as conn:
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


def test_the_roster_of_an_earlier_month_undoes_the_later_events(store: Store) -> None:
    import polars as pl

    load(store)
    _move_li(store)
    empty = pl.Series([], dtype=pl.String)
    november = store.members("0101000123", empty, month=202611)
    assert november.filter(pl.col("member_account") == "100002")["status"].to_list() == ["sealed"]
    december = store.members("0101000123", empty, month=202612)
    assert "100002" not in december["member_account"].to_list()  # gone: another employer's, not named in the file
    there = store.members("0101000456", empty, month=202611)  # still listed, as another employer's member then
    assert there.filter(pl.col("member_account") == "100002")["unit_account"].to_list() == ["0101000123"]
    there = store.members("0101000456", empty, month=202612)
    assert there.filter(pl.col("member_account") == "100002")["status"].to_list() == ["normal"]


def test_a_group_looks_up_what_each_file_looks_up_alone(store: Store) -> None:
    """`Store.for_group`: the group's employers and members read at once give the store's own answers."""
    import polars as pl

    load(store)

    def same(a: pl.DataFrame, b: pl.DataFrame) -> bool:
        return a.sort("member_account").equals(b.sort("member_account"))

    units = ["0101000123", "0101000456", "0101000999"]  # the last is not registered
    group = store.for_group(units, 202611)
    for unit in units:
        assert group.employer(unit) == store.employer(unit)
    assert group.employer("0101000789") == store.employer("0101000789")  # outside the group: asked of the store
    own = pl.Series(["100001", "100002"])
    for accounts in (own, pl.Series(["100001", "200001"]), pl.Series([], dtype=pl.String)):  # one of another employer
        for month in (202611, 202612, None):
            assert same(
                group.members("0101000123", accounts, month=month), store.members("0101000123", accounts, month=month)
            )
    assert group.members("0101000123", own, month=202611) is group.members_of[("0101000123",)]  # read once
    _move_li(store)  # its roster for 202611 is not today's
    group = store.for_group(units, 202611)
    assert group.eventful == {"0101000123", "0101000456"}
    for unit in units[:2]:
        for month in (202611, 202612):
            assert same(group.members(unit, own, month=month), store.members(unit, own, month=month))
