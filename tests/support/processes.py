"""Real `hpf` processes, as an operator or a service manager starts them, and what their work must leave behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from db import ledger, tables
from db.engine import make_engine
from tests.support.environments import Job
from tests.support.samples import SAMPLES, A, B, D

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
            select(tables.deposits.c.member_account, tables.deposits.c.month, func.count())
            .where(tables.deposits.c.reversed.is_(False))
            .group_by(tables.deposits.c.member_account, tables.deposits.c.month)
        ).all()
        batches = conn.execute(select(tables.batches.c.file_name, tables.batches.c.status, tables.batches.c.step)).all()
        rows = sum(conn.execute(select(tables.batches.c.posted_rows)).scalars())
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


def grouped(job: Job, group_from: int = 2) -> None:
    """Take a cycle's small files in groups (`jobs.groups`) from `group_from` files on: the samples' three make one."""
    with (job.home / "hpf.toml").open("a", encoding="utf-8") as f:
        f.write(f"\n[limits]\ngroup_from = {group_from}\n")


def with_schedule(job: Job, **keys: object) -> None:
    schedule = {"poll_seconds": 1, "retry_seconds": 1, "reconcile_cron": '"0 2 * * *"', **keys}
    with (job.home / "hpf.toml").open("a", encoding="utf-8") as f:
        f.write("\n[schedule]\n" + "".join(f"{k} = {v}\n" for k, v in schedule.items()))


def start(job: Job) -> subprocess.Popen[bytes]:
    env = {**os.environ, **job.environ}
    env.pop("HPF_CRASH_AT", None)
    return subprocess.Popen([HPF, "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
