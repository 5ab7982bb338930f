"""Restatements due (a list posted from suspense): written with the posting, told when read, kept before upload."""

from __future__ import annotations

from sqlalchemy import insert, select

from batch import results
from db import register, tables
from db.store import Store
from schemas.statuses import BatchStatus
from tests.batch.test_results import LI, NOTICE, ZHANG, _files, run

RECEIPT = {"posted_at": "2026-12-03", "members_posted": 2, "members_sealed": 0, "suspense_fen": 0}
TOLD = register.Retelling(
    BatchStatus.POSTED, "", "已由暂收资金入账（S1）", posted_rows=2, posted_fen=733_000,
    extra={"funded_by": ["S1"], "receipt": RECEIPT}, detail_rows=2,
)  # fmt: skip


def _waiting(store: Store) -> tuple[register.Batch, dict[str, bytes]]:
    files = _files(results.Decided(run(ZHANG, LI), 1, "AWAITING_FUNDS", payment=NOTICE))
    with store.engine.begin() as conn:
        batch_id = conn.execute(
            insert(tables.batches).values(
                file_name="0101000123_202611.csv", unit_account="0101000123", file_size=1, file_mtime=0,
                status="AWAITING_FUNDS", step="published", month=202611,
            )
        ).inserted_primary_key[0]  # fmt: skip
        batch = register.get(conn, batch_id)
        assert batch is not None
        register.restate_many(conn, [(batch, BatchStatus.AWAITING_FUNDS, files, "待缴款")])
    return batch, files


def test_a_restatement_due_is_told_on_every_read_the_same_and_kept_once(store: Store) -> None:
    batch, files = _waiting(store)
    with store.engine.begin() as conn:
        register.restate_later_many(conn, [(batch, TOLD)])
    expected = results.restated(
        files, status="POSTED", reason="", posted_rows=2, posted_fen=733_000, xlsx_detail_rows=2, extra=TOLD.extra
    )
    with store.engine.connect() as conn:
        assert register.due(conn, [batch.id]) == {batch.id}
        status, republish = conn.execute(
            select(tables.batches.c.status, tables.batches.c.republish).where(tables.batches.c.id == batch.id)
        ).one()
        assert (status, republish) == ("POSTED", True)
        first, again = register.results(conn, batch.id), register.results_many(conn, [batch.id])[batch.id]
        assert first == again == expected  # the same bytes, workbook included, on every read
        json_only = register.results(conn, batch.id, suffix=".result.json")
        assert list(json_only) == [n for n in expected if n.endswith(".result.json")]
        stored = register.results_many(conn, [batch.id])
    with store.engine.begin() as conn:
        register.keep_results(conn, stored)
    with store.engine.connect() as conn:
        assert register.due(conn, [batch.id]) == set()
        assert register.results(conn, batch.id) == expected  # now read as stored, not told again


def test_a_restatement_stored_later_replaces_the_one_due(store: Store) -> None:
    """A reversal after the posting reads the told files and stores its own: nothing stays due to tell twice."""
    batch, _ = _waiting(store)
    with store.engine.begin() as conn:
        register.restate_later_many(conn, [(batch, TOLD)])
        posted = register.results(conn, batch.id)
        now = register.get(conn, batch.id)
        assert now is not None
        again = results.restated(
            posted, status="AWAITING_FUNDS", reason="付款到账被银行冲正", posted_rows=0, posted_fen=0,
            xlsx_detail_rows=2, extra={"payment": NOTICE, "funded_by": None, "receipt": None},
        )  # fmt: skip
        register.restate_many(conn, [(now, BatchStatus.AWAITING_FUNDS, again, "冲正")])
    with store.engine.connect() as conn:
        assert register.due(conn, [batch.id]) == set()
        assert register.results(conn, batch.id) == again
