"""A cycle's small files taken in groups (`jobs.groups`): the same outcomes, results and books as one by one.

Over the real OpenSSH server, on SQLite and PostgreSQL. `[limits] group_from`
is lowered so the samples' three lists form a group; the crash tests in
`tests/system/test_crash.py` kill a grouped cycle at every step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db import register, tables
from db.engine import make_engine
from jobs import decisions, groups
from schemas.statuses import BatchStatus
from tests.support.environments import Job, SftpEnv
from tests.support.processes import UPLOADS, assert_books_and_files_are_whole, grouped, upload_all
from tests.support.samples import SAMPLES, A

pytestmark = pytest.mark.integration


def outboxes(job: Job) -> dict[str, bytes]:
    """Every result's bytes but the workbooks' (a zip member carries the time it was written)."""
    return {
        f"{p.parent.parent.name}/{p.name}": p.read_bytes()
        for p in sorted(job.env.root.glob("*/outbox/*"))
        if not p.name.endswith(".xlsx")
    }


def statuses(job: Job) -> list[tuple[str, str, str]]:
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(tables.batches.c.file_name, tables.batches.c.status, tables.batches.c.step)).all()
    engine.dispose()
    return sorted((r.file_name, r.status, r.step) for r in rows)


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_a_group_gives_what_one_by_one_gives(
    sftp_env: SftpEnv, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same uploads taken one by one and as a group: the same outcomes, result files and balances."""
    found = []
    for how in ("alone", "grouped"):
        home = tmp_path / how
        home.mkdir()
        job = Job(sftp_env, db_url if how == "alone" else _fresh(db_url, tmp_path), home)
        for folder in sftp_env.root.glob("*/*"):
            for p in folder.iterdir():
                p.unlink()
        if how == "grouped":
            grouped(job)
        upload_all(job)
        done = job.run("run-once", "--json")
        assert done.exit_code == 0, done.output
        assert_books_and_files_are_whole(job)
        found.append((outboxes(job), job.balances(), statuses(job)))
    assert found[0] == found[1]
    assert "逐个入账" not in caplog.text  # the group was written in one transaction, not one list at a time


def _fresh(db_url: str, tmp_path: Path) -> str:
    """A second database beside the fixture's."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'second.db'}"
    admin, _ = db_url.rsplit("/", 1)
    engine = make_engine(f"{admin}/postgres")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql('DROP DATABASE IF EXISTS "second"')
        conn.exec_driver_sql('CREATE DATABASE "second"')
    engine.dispose()
    return f"{admin}/second"


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_a_bad_list_in_a_group_is_rejected_alone(sftp_env: SftpEnv, job: Job) -> None:
    grouped(job)
    upload_all(job)
    late = f"{A}_202612.csv"  # the next month, not yet due: in the group after the employer's November
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv", name=late, mtime=1_790_000_100)
    done = job.run("run-once")
    assert done.exit_code == 0, done.output
    assert (late, "REJECTED", "archived") in statuses(job)
    assert job.result(A, late)["errors"][0]["code"] == "F_MONTH_FUTURE"
    assert [s for s in statuses(job) if s[0] != late] == sorted((name, "POSTED", "archived") for _, name in UPLOADS)
    job.balances()  # every ledger invariant holds


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_a_list_that_cannot_be_written_fails_alone(
    sftp_env: SftpEnv, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The group's transaction is rolled back; the others are written one per transaction, the one FAILED."""
    grouped(job)
    upload_all(job)
    real = decisions.commit
    bad = UPLOADS[1][1]

    def commit(conn: Any, decision: decisions.Decision, *args: Any, **kwargs: Any) -> None:
        if decision.report.file_name == bad:
            raise RuntimeError("disk full")
        real(conn, decision, *args, **kwargs)

    monkeypatch.setattr(groups, "commit", commit)  # one list per transaction
    monkeypatch.setattr(decisions, "commit", commit)  # inside the group's (`commit_many`)
    done = job.run("run-once", "--json")
    assert done.exit_code == 0, done.output
    found = statuses(job)
    assert (bad, "FAILED", "claimed") in found
    assert sum(1 for _, status, step in found if (status, step) == ("POSTED", "archived")) == len(UPLOADS) - 1
    monkeypatch.setattr(groups, "commit", real)
    monkeypatch.setattr(decisions, "commit", real)
    again = job.run("run-once", "--json")  # the failed one is retried alone, with its history
    assert again.exit_code == 0, again.output
    assert_books_and_files_are_whole(job)


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_a_list_restated_between_the_groups_commit_and_its_upload_is_uploaded_as_restated(
    sftp_env: SftpEnv, job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The others' files go up as committed, from memory; the restated one as the register now tells it."""
    grouped(job)
    upload_all(job)
    unit, name = UPLOADS[1]
    restated = b'{"status": "REVERSED"}'
    engine = make_engine(job.db_url)

    def reversed_before_upload(point: str) -> None:  # an operator's reversal between the commit and the upload
        if point == "committed":
            with engine.begin() as conn:
                batch_id = conn.execute(
                    select(tables.batches.c.id).where(tables.batches.c.file_name == name)
                ).scalar_one()
                if batch_id not in register.as_decided(conn, {batch_id: BatchStatus.POSTED}):
                    return  # restated already
                register.restate(conn, batch_id, BatchStatus.REVERSED, {f"{name[:-4]}.result.json": restated}, "冲销")

    monkeypatch.setattr(groups, "crash_point", reversed_before_upload)
    done = job.run("run-once")
    assert done.exit_code == 0, done.output
    assert (job.env.root / unit / "outbox" / f"{name[:-4]}.result.json").read_bytes() == restated
    with engine.connect() as conn:
        for other_unit, other in (UPLOADS[0], UPLOADS[2]):
            (other_id,) = conn.execute(select(tables.batches.c.id).where(tables.batches.c.file_name == other)).scalars()
            for result, data in register.results(conn, other_id).items():
                assert (job.env.root / other_unit / "outbox" / result).read_bytes() == data
    engine.dispose()
