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

import pytest

from tests.support.environments import Job, SftpEnv
from tests.support.processes import HPF, assert_books_and_files_are_whole, hpf_process, upload_all


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
