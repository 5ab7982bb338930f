"""The whole job end to end: `hpf run-once` over a real SFTP server and a real database.

Runs against OpenSSH and the embedded server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select

from db import register
from db.engine import make_engine
from db.register import Batch
from db.store import Store
from db.tables import batches
from jobs import decisions, pipeline
from schemas.statuses import BatchStatus
from tests.support.environments import Job, SftpEnv
from tests.support.samples import SAMPLES, A, B, D


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_cycle_posts_rejects_and_spots_duplicates_then_does_nothing_twice(job: Job) -> None:
    valid_a = SAMPLES / "valid" / f"{A}_202611.csv"
    job.upload(A, valid_a, mtime=1_790_000_000)
    job.upload(A, valid_a, name=f"{A}_202611_copy.csv", mtime=1_790_000_100)
    bad = job.home / f"{A}_202611_bad.csv"
    lines = valid_a.read_text("utf-8-sig").splitlines()
    lines[1] = lines[1].rsplit(",", 2)[0] + ",1.00," + lines[1].rsplit(",", 1)[1]  # a wrong total on row 2
    bad.write_text("\n".join(lines) + "\n", "utf-8")
    job.upload(A, bad, mtime=1_790_000_200)
    job.upload(B, SAMPLES / "valid" / f"{B}_202611.csv")

    first = job.run("run-once")
    assert first.exit_code == 0, first.output
    posted = job.result(A, f"{A}_202611.csv")
    assert posted["status"] == "POSTED" and posted["posted_fen"] == posted["total_fen"] == 1623000
    duplicate = job.result(A, f"{A}_202611_copy.csv")
    assert duplicate["status"] == "DUPLICATE"
    assert [e["code"] for e in duplicate["errors"]] == ["F_DUPLICATE_FILE"]  # type: ignore[index]
    assert str(posted["batch_id"]) in duplicate["errors"][0]["message"]  # type: ignore[index]
    assert job.result(A, f"{A}_202611_bad.csv")["status"] == "REJECTED"
    assert job.result(B, f"{B}_202611.csv")["status"] == "POSTED"
    for unit in (A, B):
        assert _files(job.env.root / unit / "inbox") == []
    assert len(_files(job.env.root / A / "outbox")) == 9  # three results for each of three files
    assert f"{A}_202611.csv.done" in _files(job.env.root / A / "archive")
    balances = job.balances()
    assert sum(balances.values()) == 1623000 + int(job.result(B, f"{B}_202611.csv")["total_fen"])  # type: ignore[arg-type]

    second = job.run("run-once")
    assert second.exit_code == 0 and "本轮处理0个文件" in second.output
    assert job.balances() == balances


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_a_list_whose_members_are_read_while_it_is_fetched_is_judged_the_same(
    job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every list read ahead (the threshold lowered to one byte): the same outcomes, the same money."""
    read: list[tuple[str, ...]] = []
    group = Store.for_group

    def spied(self: Store, units: list[str], month: int) -> object:
        read.append(tuple(units))
        return group(self, units, month)

    monkeypatch.setattr(decisions, "READ_AHEAD_BYTES", 1)
    monkeypatch.setattr(Store, "for_group", spied)
    valid_a = SAMPLES / "valid" / f"{A}_202611.csv"
    job.upload(A, valid_a, mtime=1_790_000_000)
    bad = job.home / f"{B}_202611.csv"
    lines = (SAMPLES / "valid" / f"{B}_202611.csv").read_text("gb18030").splitlines()  # B's payroll writes GBK
    lines[1] = lines[1].rsplit(",", 1)[0] + ",1.00"  # a wrong total on row 2
    bad.write_text("\n".join(lines) + "\n", "gb18030")
    job.upload(B, bad, mtime=1_790_000_100)
    job.upload(A, valid_a, name=f"{A}_202611_copy.csv", mtime=1_790_000_200)

    assert job.run("run-once").exit_code == 0
    assert sorted(read) == [(A,), (A,), (B,)]  # each list's employer read ahead, the duplicate's too
    posted = job.result(A, f"{A}_202611.csv")
    assert posted["status"] == "POSTED" and posted["posted_fen"] == posted["total_fen"] == 1623000
    assert job.result(A, f"{A}_202611_copy.csv")["status"] == "DUPLICATE"
    rejected = job.result(B, f"{B}_202611.csv")
    assert rejected["status"] == "REJECTED" and rejected["posted_rows"] == 0
    assert sum(job.balances().values()) == 1623000


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_results_just_committed_are_published_from_memory_unless_restated_before_the_upload(
    job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_back: list[int] = []
    stored = register.results

    def results(conn: Connection, batch_id: int, **kw: str) -> dict[str, bytes]:
        read_back.append(batch_id)
        return stored(conn, batch_id, **kw)

    monkeypatch.setattr(register, "results", results)
    engine = make_engine(job.db_url)
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv")
    assert job.run("run-once").exit_code == 0
    assert read_back == []  # the files committed a moment ago, uploaded from memory
    (a_id,) = [b.id for b in _batches(engine) if b.unit_account == A]
    with engine.connect() as conn:
        for name, data in stored(conn, a_id).items():  # the very bytes the register keeps
            assert (job.env.root / A / "outbox" / name).read_bytes() == data

    restated = b'{"status": "REVERSED"}'

    def reversed_before_upload(point: str) -> None:  # an operator's reversal between the commit and the upload
        if point == "committed":
            (b_id,) = [b.id for b in _batches(engine) if b.unit_account == B]
            with engine.begin() as conn:
                register.restate(conn, b_id, BatchStatus.REVERSED, {f"{B}_202611.result.json": restated}, "冲销")

    monkeypatch.setattr(pipeline, "crash_point", reversed_before_upload)
    job.upload(B, SAMPLES / "valid" / f"{B}_202611.csv")
    assert job.run("run-once").exit_code == 0
    assert len(read_back) == 1  # read from the register, as it now stands
    assert (job.env.root / B / "outbox" / f"{B}_202611.result.json").read_bytes() == restated


def _batches(engine: Engine) -> list[Batch]:
    with engine.connect() as conn:
        return [Batch.of(r) for r in conn.execute(select(batches))]


def test_read_ahead_only_for_large_remittance_lists_with_a_name_that_parses(tmp_path: Path) -> None:
    store = Store(make_engine(f"sqlite:///{tmp_path / 'hpf.db'}"))
    size = decisions.READ_AHEAD_BYTES
    for name, listed in [
        (f"{A}_202611.csv", size - 1),  # small: read when checked, as before
        ("not-a-list-name.csv", size),
        (f"BG_{A}_202611.csv", size),  # a change list is checked against its own reads
    ]:
        with decisions.read_ahead(store, name, listed) as looked_up:
            assert looked_up() is None, name


def test_a_corrected_resubmission_posts(job: Job) -> None:
    wrong = job.home / f"{D}_202611.csv"
    wrong.write_text(
        "个人账号,姓名,证件号码,缴存基数,单位缴存比例,个人缴存比例,单位月缴存额,个人月缴存额,月缴存额合计\n", "utf-8"
    )
    job.upload(D, wrong)
    assert job.run("run-once").exit_code == 0
    assert job.result(D, f"{D}_202611.csv")["status"] == "REJECTED"
    job.upload(D, SAMPLES / "valid" / f"{D}_202611.xlsx")
    assert job.run("run-once").exit_code == 0
    corrected = job.result(D, f"{D}_202611.xlsx")
    assert corrected["status"] == "POSTED" and corrected["posted_rows"] == 4, corrected["errors"]
    assert sorted(_files(job.env.root / D / "archive")) == sorted(
        [f"{D}_202611.csv", f"{D}_202611.csv.done", f"{D}_202611.xlsx", f"{D}_202611.xlsx.done"]
    )


def test_server_unreachable_fails_the_cycle_and_touches_nothing(job: Job) -> None:
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv")
    job.env.server.kill()
    result = job.run("run-once")
    assert result.exit_code == 1
    assert "不可用" in result.output and "Traceback" not in result.output
    assert _files(job.env.root / A / "inbox") == [f"{A}_202611.csv", f"{A}_202611.csv.done"]


@pytest.mark.parametrize("sftp_env", ["embedded", "openssh"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_file_over_the_size_limit_is_rejected_without_being_read(sftp_env: SftpEnv, db_url: str, job: Job) -> None:
    with (job.home / "hpf.toml").open("a", encoding="utf-8") as f:
        f.write("\n[limits]\nmax_file_mb = 1\n")
    big = job.home / f"{A}_202611.csv"
    big.write_bytes(b"x" * (2 << 20))
    job.upload(A, big)
    assert job.run("run-once").exit_code == 0
    result = job.result(A, f"{A}_202611.csv")
    assert result["status"] == "REJECTED" and result["sha256"] is None  # never fetched, so never hashed
    assert [e["code"] for e in result["errors"]] == ["F_TOO_LARGE"]  # type: ignore[index]
    assert _files(job.env.root / A / "archive") == [f"{A}_202611.csv", f"{A}_202611.csv.done"]
