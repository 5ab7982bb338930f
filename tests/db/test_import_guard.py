"""Master import never moves what the ledger owns, and `verify` catches a paid-through month that moved (SPEC §8)."""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy import update

from batch.master_files import parse_employers, parse_members
from db import ledger, register, tables
from db.store import ImportCounts, Store
from schemas.codes import Problem
from tests.support.master import EMPLOYERS, MEMBERS, load

UNIT = "0101000123"
TODAY = date(2026, 11, 22)


def _import(store: Store, employers: str | None, members: str | None) -> ImportCounts | list[Problem]:
    e = parse_employers(employers.encode(), "employers.csv") if employers else None
    units = store.unit_accounts() | (set(e["unit_account"]) if isinstance(e, pl.DataFrame) else set())
    m = parse_members(members.encode(), "members.csv", units, TODAY) if members else None
    assert not isinstance(e, list) and not isinstance(m, list), (e, m)
    return store.import_master(e, m)


def _post_november(store: Store) -> int:
    row, _ = register.claim(store.engine, register.Arrival(UNIT, f"{UNIT}_202611.csv", 100, 1))
    frame = pl.DataFrame(
        [("100001", 60000, 60000)], schema=["member_account", "employer_fen", "employee_fen"], orient="row"
    )
    with store.engine.begin() as conn:
        posted = ledger.post(conn, row.id, UNIT, 202611, frame)
        conn.execute(
            update(tables.batches)
            .where(tables.batches.c.id == row.id)
            .values(status="POSTED", step="decided", month=202611, posted_fen=posted.total_fen)
        )
    return row.id


def test_reimport_after_posting_is_refused_line_by_line_and_changes_nothing(store: Store) -> None:
    load(store)
    _post_november(store)
    result = _import(store, EMPLOYERS, MEMBERS)  # the same files again: paid-through 202610 for both
    assert isinstance(result, list)
    where = {(p.source, p.row_no, p.column) for p in result}
    assert where == {("employers.csv", 2, "paid_through"), ("members.csv", 2, "paid_through")}
    assert all("变更清册" in p.message and "202611" in p.message for p in result)
    assert store.employer(UNIT).paid_through == 202611  # type: ignore[union-attr]
    with store.engine.connect() as conn:
        assert ledger.verify(conn) == []


def test_touched_status_and_base_are_refused_untouched_ones_still_load(store: Store) -> None:
    load(store)
    _post_november(store)
    current = EMPLOYERS.replace(",202610\n", ",202611\n", 1)
    members = MEMBERS.replace("5000.00,normal,202610", "6000.00,sealed,202611")
    result = _import(store, current, members)
    assert isinstance(result, list)
    assert {(p.row_no, p.column) for p in result} == {(2, "base"), (2, "status")}
    # 100002 was never posted: its status may still be corrected by import.
    fixed = MEMBERS.replace("5000.00,normal,202610", "5000.00,normal,202611").replace(
        '"32,969",sealed,202610', '"32,969",normal,202610'
    )
    assert isinstance(_import(store, current, fixed), ImportCounts)
    with store.engine.connect() as conn:
        assert ledger.verify(conn) == []


def test_verify_catches_a_paid_through_month_moved_behind_the_ledger(store: Store) -> None:
    load(store)
    _post_november(store)
    with store.engine.begin() as conn:
        conn.execute(
            update(tables.members).where(tables.members.c.member_account == "100001").values(paid_through=202610)
        )
        conn.execute(
            update(tables.employers).where(tables.employers.c.unit_account == UNIT).values(paid_through=202610)
        )
        problems = ledger.verify(conn)
    assert [p.code for p in problems] == ["L_PAID_THROUGH", "L_PAID_THROUGH"]
    assert "100001" in problems[0].message and "202611" in problems[0].message
    assert UNIT in problems[1].message


def test_credit_code_person_and_leading_zeros_are_checked_against_the_database(store: Store) -> None:
    load(store)
    header, first, _ = EMPLOYERS.split("\n", 2)
    twin = first.replace("0101000123,成都示例科技有限公司", "0101000999,另一家公司")
    zeros = first.replace("0101000123,", "101000123,").replace("91350100M000100Y43", "91350100M000300Y4J")
    result = _import(store, f"{header}\n{twin}\n{zeros}\n", None)
    assert isinstance(result, list)
    assert [(p.row_no, p.column) for p in result] == [(2, "credit_code"), (3, "unit_account")]
    assert "0101000123" in result[0].message and "前导零" in result[1].message
    member_header = MEMBERS.split("\n", 1)[0]
    same_person = "300001,0101000456,张三,01,11010519491231002X,5000.00,normal,\n"
    zero_dropped = "00100002,0101000456,李四二,03,P1,5000.00,sealed,\n"
    result = _import(store, None, f"{member_header}\n{same_person}{zero_dropped}")
    assert isinstance(result, list)
    assert [(p.row_no, p.column) for p in result] == [(2, "id_number"), (3, "member_account")]
    assert "0101000123" in result[0].message


def test_within_one_file_the_later_line_is_the_one_refused(store: Store) -> None:
    load(store)
    member_header = MEMBERS.split("\n", 1)[0]
    lines = (
        "300001,0101000123,赵一,03,P777,2200,normal,\n"
        "300002,0101000456,赵一,03,P777,2200,normal,\n"  # the same person normal at a second employer
        "300003,0101000456,赵二,03,P778,2200,normal,\n"
        "0300003,0101000456,赵二,03,P779,2200,normal,\n"
    )
    result = _import(store, None, f"{member_header}\n{lines}")
    assert isinstance(result, list)
    assert [(p.row_no, p.column) for p in result] == [(3, "id_number"), (5, "member_account")]
    assert "第2行" in result[0].message


def test_an_import_during_a_posting_waits_for_it_and_then_refuses_to_move_it_back(store: Store) -> None:
    """Run during a cycle, import once rewrote months a posting had just advanced: now it waits and sees them."""
    import threading
    import time

    load(store)
    row, _ = register.claim(store.engine, register.Arrival(UNIT, f"{UNIT}_202611.csv", 100, 1))
    frame = pl.DataFrame(
        [("100001", 60000, 60000)], schema=["member_account", "employer_fen", "employee_fen"], orient="row"
    )
    posting = store.engine.connect()
    transaction = posting.begin()
    ledger.post(posting, row.id, UNIT, 202611, frame)
    posting.execute(update(tables.batches).where(tables.batches.c.id == row.id).values(status="POSTED", month=202611))
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(_import(store, EMPLOYERS, MEMBERS)))
    worker.start()
    time.sleep(1.0)
    assert outcome == [] and worker.is_alive()  # held off while the posting is open
    transaction.commit()
    posting.close()
    worker.join(timeout=30)
    (result,) = outcome
    assert isinstance(result, list) and {p.column for p in result} == {"paid_through"}
    assert store.employer(UNIT).paid_through == 202611  # type: ignore[union-attr]
