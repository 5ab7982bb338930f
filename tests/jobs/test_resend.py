"""Sending again (SPEC §2 order, §4 F_DUPLICATE_FILE, §6 result names), end to end over SFTP and a database."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.environments import Job
from tests.support.samples import SAMPLES, A

VALID_A = SAMPLES / "valid" / f"{A}_202611.csv"


def _outbox(job: Job, unit: str) -> Path:
    return job.env.root / unit / "outbox"


def test_identical_bytes_for_two_months_both_post_in_month_order(job: Job) -> None:
    """A roster that did not change sends the same bytes every month; December uploaded first still waits for November."""
    job.environ["HPF_TODAY"] = "2026-12-15"
    same = job.home / "same" / f"{A}_202612.csv"
    same.parent.mkdir()
    same.write_bytes(VALID_A.read_bytes().replace(b",202611", b""))  # no month column: identical bytes
    november = job.home / f"{A}_202611.csv"
    november.write_bytes(same.read_bytes())
    job.upload(A, same, mtime=1_790_000_000)  # December first
    job.upload(A, november, mtime=1_790_000_100)
    result = job.run("run-once")
    assert result.exit_code == 0, result.output
    assert job.result(A, f"{A}_202611.csv")["status"] == "POSTED"
    assert job.result(A, f"{A}_202612.csv")["status"] == "POSTED", job.result(A, f"{A}_202612.csv")["errors"]
    assert job.balances()["100123000001"] == 2 * 210400


def test_the_same_bytes_are_validated_afresh_after_a_rejection(job: Job) -> None:
    """Rejected for a missing member; the centre fixes the roster; the very same file then posts."""
    lines = VALID_A.read_text("utf-8-sig").splitlines()
    short = job.home / f"{A}_202611.csv"
    short.write_text("\n".join(lines[:-1]) + "\n", "utf-8")  # 杨丽 (100123000006) left
    job.upload(A, short, mtime=1_790_000_000)
    assert job.run("run-once").exit_code == 0
    first = job.result(A, f"{A}_202611.csv")
    assert first["status"] == "REJECTED"
    assert [e["code"] for e in first["errors"]] == ["F_ROSTER_MISSING"]  # type: ignore[index]

    members = (SAMPLES / "master" / "members.csv").read_text("utf-8")
    leaver = next(line for line in members.splitlines() if line.startswith("100123000006"))
    sealed = job.home / "members.csv"
    sealed.write_text(members.replace(leaver, leaver.replace("normal", "sealed")), "utf-8")
    imported = job.run("accounts", "import", "--members", str(sealed))
    assert imported.exit_code == 0, imported.output

    job.upload(A, short, mtime=1_790_000_500)  # the identical bytes, the same name
    assert job.run("run-once").exit_code == 0
    again = job.result(A, f"{A}_202611.csv")
    assert again["status"] == "POSTED", again["errors"]
    assert again["batch_id"] != first["batch_id"]


def test_a_duplicate_never_replaces_the_posted_receipt_and_says_whose_and_when(job: Job) -> None:
    job.upload(A, VALID_A, mtime=1_790_000_000)
    assert job.run("run-once").exit_code == 0
    posted_bytes = (_outbox(job, A) / f"{A}_202611.result.json").read_bytes()
    posted = json.loads(posted_bytes)
    assert posted["status"] == "POSTED"

    job.upload(A, VALID_A, mtime=1_790_000_900)  # sent again under the same name
    assert job.run("run-once").exit_code == 0
    assert (_outbox(job, A) / f"{A}_202611.result.json").read_bytes() == posted_bytes
    duplicates = sorted(p.name for p in _outbox(job, A).iterdir() if p.name not in {
        f"{A}_202611.result.json", f"{A}_202611.result.csv", f"{A}_202611.result.xlsx"})  # fmt: skip
    assert len(duplicates) == 3, duplicates
    (name,) = [n for n in duplicates if n.endswith(".json")]
    duplicate = json.loads((_outbox(job, A) / name).read_text("utf-8"))
    assert name == f"{A}_202611.{duplicate['batch_id']}.result.json"
    assert duplicate["status"] == "DUPLICATE"
    assert (duplicate["unit_account"], duplicate["month"]) == (A, "202611")
    assert duplicate["duplicate_of"] == {"batch_id": posted["batch_id"], "status": "POSTED"}
    assert "已入账" in duplicate["errors"][0]["message"]


def test_an_inbox_is_taken_by_month_then_change_lists_first_then_upload_time() -> None:
    from jobs.pipeline import in_order
    from sftp.client import ReadyFile

    names = [
        (f"{A}_202612.csv", 1), (f"BG_{A}_202612.csv", 9), (f"{A}_202611_v2.csv", 5), (f"{A}_202611.csv", 7),
        ("readme.txt", 0), (f"BG_{A}_202611.xlsx", 8),
    ]  # fmt: skip
    ordered = [r.name for r in in_order([ReadyFile(A, n, 1, t, None) for n, t in names])]
    assert ordered == [
        f"BG_{A}_202611.xlsx", f"{A}_202611_v2.csv", f"{A}_202611.csv",
        f"BG_{A}_202612.csv", f"{A}_202612.csv", "readme.txt",
    ]  # fmt: skip
