"""Exactly once under fire: real `hpf run-once` processes killed with SIGKILL, and two at once.

Each test runs real processes against the real OpenSSH server, on SQLite and
on PostgreSQL, then checks the books: every member-month deposited exactly
once, every file with exactly one set of results, the inbox empty, every
ledger invariant holding.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from batch import db, ledger
from batch.db import make_engine
from tests.conftest import SAMPLES, Job, SftpEnv
from tests.test_pipeline import A, B, D

HPF = str(Path(sys.executable).with_name("hpf"))
UPLOADS = [(A, f"{A}_202611.csv"), (B, f"{B}_202611.csv"), (D, f"{D}_202611.xlsx")]


def hpf_process(job: Job, crash_at: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **job.environ}
    env.pop("HPF_CRASH_AT", None)
    if crash_at:
        env["HPF_CRASH_AT"] = crash_at
    return subprocess.Popen([HPF, "run-once"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def upload_all(job: Job) -> None:
    for n, (unit, name) in enumerate(UPLOADS):
        job.upload(unit, SAMPLES / "valid" / name, mtime=1_790_000_000 + n)


def assert_books_and_files_are_whole(job: Job) -> None:
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        assert ledger.verify(conn) == []
        per_member_month = conn.execute(
            select(db.deposits.c.member_account, db.deposits.c.month, func.count())
            .where(db.deposits.c.reversed.is_(False))
            .group_by(db.deposits.c.member_account, db.deposits.c.month)
        ).all()
        batches = conn.execute(select(db.batches.c.file_name, db.batches.c.status, db.batches.c.step)).all()
        rows = sum(conn.execute(select(db.batches.c.posted_rows)).scalars())
    engine.dispose()
    assert per_member_month and all(n == 1 for _, _, n in per_member_month)
    assert len(per_member_month) == rows == 6 + 4 + 4
    assert sorted((b.file_name, b.status, b.step) for b in batches) == sorted(
        (name, "POSTED", "archived") for _, name in UPLOADS
    )
    for unit, name in UPLOADS:
        root = job.env.root / unit
        stem = name.rsplit(".", 1)[0]
        visible = sorted(p.name for p in (root / "outbox").iterdir() if not p.name.startswith("."))
        assert visible == sorted(f"{stem}.result.{ext}" for ext in ("csv", "json", "xlsx"))
        assert sorted(p.name for p in (root / "archive").iterdir()) == [name, f"{name}.done"]
        assert list((root / "inbox").iterdir()) == []
        assert job.result(unit, name)["status"] == "POSTED"


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
@pytest.mark.parametrize("point", ["claimed", "fetched", "posting", "committed", "published"])
def test_killed_at_each_step_then_run_again(sftp_env: SftpEnv, job: Job, point: str) -> None:
    upload_all(job)
    crashed = hpf_process(job, crash_at=point)
    crashed.wait(120)
    assert crashed.returncode == -signal.SIGKILL
    again = hpf_process(job)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    assert_books_and_files_are_whole(job)
    third = hpf_process(job)  # and nothing more happens
    out, _ = third.communicate(timeout=300)
    assert third.returncode == 0 and "本轮处理0个文件" in out.decode()
    assert_books_and_files_are_whole(job)


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_two_workers_at_once(sftp_env: SftpEnv, job: Job) -> None:
    upload_all(job)
    workers = [hpf_process(job) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()
    # A file one worker found busy is finished by whoever held it; a last cycle sweeps anything left.
    last = hpf_process(job)
    last.communicate(timeout=300)
    assert last.returncode == 0
    assert_books_and_files_are_whole(job)


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_run_once_with_workers_shares_the_employers(sftp_env: SftpEnv, job: Job) -> None:
    """`--workers 2`: two processes, each over its share of the employers; one summary; everything once."""
    upload_all(job)
    done = subprocess.run(
        [HPF, "run-once", "--workers", "2", "--json"],
        env={**os.environ, **job.environ},
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()
    summary = json.loads(done.stdout)
    assert summary["files"] == 3 and summary["outcomes"] == {"POSTED": 3} and summary["busy"] == 0
    assert summary["seconds"]["post"] > 0
    assert_books_and_files_are_whole(job)
