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
from typing import Any

import pytest
from sqlalchemy import func, select

from db import tables
from db.engine import make_engine
from tests.support.environments import Job, SftpEnv
from tests.support.processes import HPF, assert_books_and_files_are_whole, grouped, hpf_process, upload_all


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
@pytest.mark.parametrize("point", ["claimed", "fetched", "grouped", "committed", "published"])
def test_a_group_killed_at_each_step_then_run_again(sftp_env: SftpEnv, job: Job, point: str) -> None:
    """The files taken as one group (`jobs.groups`): killed inside the group's transaction, no list of it is decided."""
    grouped(job)
    upload_all(job)
    crashed = hpf_process(job, crash_at=point)
    _, err = crashed.communicate(timeout=120)
    assert crashed.returncode == -signal.SIGKILL
    assert "逐个入账" not in err.decode(), err.decode()  # one transaction for the group, not the fallback
    decided = {b.step != "claimed" for b in _batches(job)}
    assert decided == ({False} if point in ("claimed", "fetched", "grouped") else {True}), point
    again = hpf_process(job)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    assert_books_and_files_are_whole(job)


def _batches(job: Job) -> list[Any]:
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        found = list(conn.execute(select(tables.batches)))
        assert all(found) and conn.execute(select(func.count()).select_from(tables.deposits)).scalar_one() == (
            0 if {b.step for b in found} == {"claimed"} else 14
        )
    engine.dispose()
    return found


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
@pytest.mark.parametrize("group", [False, True], ids=["alone", "grouped"])
def test_two_workers_at_once(sftp_env: SftpEnv, job: Job, group: bool) -> None:
    if group:
        grouped(job)
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


def _roster_counts(job: Job) -> tuple[int, int, int]:
    """(events, members, accounts given out so far) in the database now."""
    from sqlalchemy import func, select

    from db import tables
    from db.engine import make_engine

    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        counts = (
            conn.execute(select(func.count()).select_from(tables.member_events)).scalar_one(),
            conn.execute(select(func.count()).select_from(tables.members)).scalar_one(),
            conn.execute(select(tables.account_numbers.c.last)).scalar_one(),
        )
    engine.dispose()
    return counts


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
@pytest.mark.parametrize("point", ["applying", "committed"])
def test_a_change_list_killed_while_applied_is_all_or_nothing(sftp_env: SftpEnv, job: Job, point: str) -> None:
    """Killed inside the transaction that applies it (nothing stands) or just after it committed (all of it stands)."""
    from tests.support.samples import A

    adjust = job.home / f"BG_{A}_202611.csv"
    rows = [f"基数调整,10012300000{n},{name},,,10000.00,," for n, name in
            ((1, "王建国"), (2, "李晓燕"), (3, "张伟"), (4, "刘芳"), (5, "陈志强"), (6, "杨丽"))]  # fmt: skip
    adjust.write_text(
        "变更类型,个人账号,姓名,证件类型,证件号码,缴存基数,原因,生效年月\n"
        + "开户,,孙悦,01,510107199805211421,7000.00,,\n"
        + "".join(f"{r}\n" for r in rows),
        "utf-8",
    )
    job.upload(A, adjust)
    members_before = _roster_counts(job)[1]
    crashed = hpf_process(job, crash_at=point)
    crashed.wait(120)
    assert crashed.returncode == -signal.SIGKILL
    events, members, _ = _roster_counts(job)
    assert (events, members) == ((0, members_before) if point == "applying" else (7, members_before + 1))

    again = hpf_process(job)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    events, members, last = _roster_counts(job)
    assert (events, members) == (7, members_before + 1)  # applied once, whichever side of the commit it died
    result = json.loads((job.env.root / A / "outbox" / f"BG_{A}_202611.result.json").read_text("utf-8"))
    assert result["status"] == "APPLIED"
    opened = (job.env.root / A / "outbox" / f"BG_{A}_202611.result.csv").read_text("utf-8-sig").splitlines()[1]
    assert opened.split(",")[2] == str(last)  # the one number given out is the one the employer was told
    assert not list((job.env.root / A / "inbox").iterdir())
    verified = subprocess.run([HPF, "verify"], env={**os.environ, **job.environ}, capture_output=True, timeout=120)
    assert verified.returncode == 0, verified.stdout.decode()


def _funds_counts(job: Job) -> tuple[int, int, list[str], int]:
    """(bank lines, credit moves, the lists' statuses, deposits standing) in the database now."""
    from sqlalchemy import func, select

    from db import tables
    from db.engine import make_engine

    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        t = tables
        counts = (
            conn.execute(select(func.count()).select_from(t.bank_lines)).scalar_one(),
            conn.execute(select(func.count()).where(t.fund_moves.c.kind == "credit")).scalar_one(),
            sorted(conn.execute(select(t.batches.c.status).where(t.batches.c.unit_account != "_bank")).scalars()),
            conn.execute(select(func.count()).where(t.deposits.c.reversed.is_(False))).scalar_one(),
        )
    engine.dispose()
    return counts


def _due(job: Job) -> int:
    from sqlalchemy import func, select

    from db import tables
    from db.engine import make_engine

    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(tables.results_due)).scalar_one()
    engine.dispose()
    return int(left)


def _arrival_job(sftp_env: SftpEnv, db_url: str, home) -> Job:  # type: ignore[no-untyped-def]
    """The three sample lists, and one bank file that pays each exactly, by reference."""
    from batch.reference import reference
    from tests.support.environments import COLLECTION_ACCOUNT
    from tests.support.samples import A, B, D

    job = Job(sftp_env, db_url, home, funds="arrival")
    upload_all(job)
    lines = [
        "|".join([str(n), COLLECTION_ACCOUNT, f"H{n:04d}", "0001", "", "", amount, "20261122", "101500", "0", "",
                  reference(unit, 202611), "156", "1", "0", "0", "", "", "", "", "N", "1", "1"]) + "|"
        for n, (unit, amount) in enumerate(((A, "16230.00"), (B, "1454.00"), (D, "5654.00")), 1)
    ]  # fmt: skip
    name = f"DZTZ_{COLLECTION_ACCOUNT}_20261122_001.txt"
    job.env.put("_bank", name, "\r\n".join(lines).encode("gb18030"))
    return job


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
@pytest.mark.parametrize("point", ["booking", "posting", "committed"])
def test_an_arrival_file_killed_while_booked_or_posting_books_each_credit_once(
    sftp_env: SftpEnv, db_url: str, tmp_path, point: str
) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL inside the booking transaction, inside a posting from suspense, or after the first commit."""
    job = _arrival_job(sftp_env, db_url, tmp_path)
    crashed = hpf_process(job, crash_at=point)
    crashed.wait(120)
    assert crashed.returncode == -signal.SIGKILL
    lines, credits, statuses, deposits = _funds_counts(job)
    assert (lines, credits) in ((0, 0), (3, 3))  # all of the file or nothing of it
    if point == "posting":  # the three lists are posted in one transaction: killed inside it, none is
        assert (statuses, deposits) == (["AWAITING_FUNDS"] * 3, 0)
    for _ in range(2):  # a second cycle does nothing more
        again = hpf_process(job)
        _, err = again.communicate(timeout=300)
        assert again.returncode == 0, err.decode()
    lines, credits, statuses, deposits = _funds_counts(job)
    assert (lines, credits, statuses, deposits) == (3, 3, ["POSTED"] * 3, 14)
    from tests.support.samples import A, B, D

    for unit in (A, B, D):  # what the employers read says so too, whichever side of the posting's commit it died
        told = json.loads((job.env.root / unit / "outbox" / f"{unit}_202611.result.json").read_text("utf-8"))
        assert (told["status"], told["funded_by"]) == ("POSTED", [f"H{(A, B, D).index(unit) + 1:04d}"])
        csv = (job.env.root / unit / "outbox" / f"{unit}_202611.result.csv").read_text("utf-8-sig").splitlines()[1:]
        assert csv and all(",POSTED," in x for x in csv)
    assert _due(job) == 0  # every restatement told and kept once uploaded
    verified = subprocess.run([HPF, "verify"], env={**os.environ, **job.environ}, capture_output=True, timeout=120)
    assert verified.returncode == 0, verified.stdout.decode()


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_two_workers_on_the_bank_and_the_employers_never_post_twice(sftp_env: SftpEnv, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    job = _arrival_job(sftp_env, db_url, tmp_path)
    workers = [hpf_process(job) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()
    last = hpf_process(job)
    last.communicate(timeout=300)
    assert _funds_counts(job) == (3, 3, ["POSTED"] * 3, 14)
    verified = subprocess.run([HPF, "verify"], env={**os.environ, **job.environ}, capture_output=True, timeout=120)
    assert verified.returncode == 0, verified.stdout.decode()
