"""The schema and the store on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError

from batch.master_files import parse_members
from db import engine, register, tables
from db.store import ImportCounts, Store
from tests.support.master import MEMBERS, load


def test_migration_matches_the_table_definitions(store: Store) -> None:
    inspector = inspect(store.engine)
    for table in tables.metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == set(table.c.keys()), table.name
    assert inspector.get_pk_constraint("members")["name"] == "pk_members"
    assert {c["name"] for c in inspector.get_check_constraints("members")} == {"ck_members_status", "ck_members_base"}


def test_upgrade_twice_is_harmless(store: Store) -> None:
    engine.upgrade(store.engine)
    assert "employers" in inspect(store.engine).get_table_names()


def test_import_then_lookups(store: Store) -> None:
    load(store)
    e = store.employer("0101000123")
    assert e is not None and (e.employer_rate_bp, e.wage_tier, e.rounding, e.paid_through) == (1200, 1, None, 202610)
    frame = store.members("0101000123", pl.Series(["200001", "999999"]))
    assert sorted(frame["member_account"]) == ["100001", "100002", "200001"]
    row = frame.filter(pl.col("member_account") == "100001").row(0, named=True)
    assert row["id_number"] == "11010519491231002X" and row["base_fen"] == 500000
    assert frame.filter(pl.col("member_account") == "100002")["base_fen"][0] == 3_296_900
    assert store.employer("9") is None
    with store.engine.connect() as conn:
        assert register.earlier_batch(conn, "0" * 64, "0101000123", 202611) is None


def test_reimport_updates_and_is_idempotent(store: Store) -> None:
    load(store)
    load(store)
    changed = MEMBERS.replace("5000.00,normal", "6000.00,sealed")
    members = parse_members(changed.encode(), "members.csv", store.unit_accounts(), date(2026, 11, 22))
    assert isinstance(members, pl.DataFrame)
    counts = store.import_master(None, members)
    assert isinstance(counts, ImportCounts), counts
    assert (counts.members_new, counts.members_updated) == (0, 3)
    row = (
        store.members("0101000123", pl.Series([], dtype=pl.String))
        .filter(pl.col("member_account") == "100001")
        .row(0, named=True)
    )
    assert (row["base_fen"], row["status"]) == (600000, "sealed")


def test_constraints_refuse_bad_rows(store: Store) -> None:
    load(store)
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            insert(tables.members).values(
                member_account="1",
                unit_account="0101000123",
                name="x",
                id_type="01",
                id_number="x",
                base_fen=-1,
                status="normal",
            )
        )
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            insert(tables.members).values(
                member_account="2",
                unit_account="no-such-unit",
                name="x",
                id_type="01",
                id_number="x",
                base_fen=1,
                status="normal",
            )
        )


def test_earlier_batch_is_the_first_standing_one_of_that_employer_and_month(store: Store) -> None:
    """Only a standing batch makes a duplicate: rejected, reversed and duplicate ones do not (SPEC §4)."""
    rows = [
        ("DUPLICATE", "u", 202611), ("REJECTED", "u", 202611), ("REVERSED", "u", 202611),
        ("POSTED", "u", 202610), ("POSTED", "v", 202611), ("FAILED", "u", 202611), ("POSTED", "u", 202611),
    ]  # fmt: skip
    with store.engine.begin() as conn:
        for n, (status, unit, month) in enumerate(rows):
            conn.execute(
                insert(tables.batches).values(
                    file_name="f.csv",
                    unit_account=unit,
                    file_size=n,
                    file_mtime=0,
                    sha256="ab" * 32,
                    status=status,
                    step="archived",
                    month=month,
                )
            )
    with store.engine.connect() as conn:
        ids = [r.id for r in conn.execute(tables.batches.select().order_by(tables.batches.c.id))]
        assert register.earlier_batch(conn, "ab" * 32, "u", 202611) == (ids[5], "FAILED")  # still in progress
        assert register.earlier_batch(conn, "ab" * 32, "u", 202611, before=ids[5]) is None
        assert register.earlier_batch(conn, "ab" * 32, "u", 202610) == (ids[3], "POSTED")
        assert register.earlier_batch(conn, "cd" * 32, "u", 202611) is None


def test_members_read_back_exactly_whatever_the_name(store: Store) -> None:
    """The bulk readers (ADBC, COPY as CSV) must not mangle quotes, commas or empty-looking text."""
    load(store)
    awkward = 'Smith, "J" 史密斯'
    frame = pl.DataFrame(
        {
            "line": [2],
            "member_account": ["300001"],
            "unit_account": ["0101000123"],
            "name": [awkward],
            "id_type": ["03"],
            "id_number": ["NULL"],
            "base_fen": [233000],
            "status": ["normal"],
            "paid_through": [None],
        },
        schema_overrides={"paid_through": pl.Int32},
    )
    store.import_master(None, frame)
    got = store.members("0101000123", pl.Series([], dtype=pl.String)).filter(pl.col("member_account") == "300001")
    assert got.row(0, named=True)["name"] == awkward
    assert got.row(0, named=True)["id_number"] == "NULL"


def test_import_refuses_control_characters_in_names() -> None:
    bad = MEMBERS.replace("张三", "张\t三").replace("E12345678", "E1234\x1e5678")
    problems = parse_members(bad.encode(), "members.csv", {"0101000123", "0101000456"}, date(2026, 11, 22))
    assert isinstance(problems, list)
    assert [(p.row_no, p.column) for p in problems] == [(2, "name"), (4, "id_number")]
