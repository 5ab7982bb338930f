"""Operator commands on a real cycle: batches list/show/rerun/reverse, accounts show/export, verify."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import update

from db import tables
from db.engine import make_engine
from tests.support.environments import Job, SftpEnv
from tests.support.samples import SAMPLES

A = "0101000123"
VALID = SAMPLES / "valid" / f"{A}_202611.csv"


def _json(job: Job, *args: str) -> object:
    result = job.run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _posted(job: Job) -> int:
    job.upload(A, VALID)
    assert job.run("run-once").exit_code == 0
    (batch,) = _json(job, "batches", "list", "--status", "POSTED")  # type: ignore[misc]
    return int(batch["id"])


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_list_show_accounts_and_export(sftp_env: SftpEnv, job: Job, tmp_path: Path) -> None:
    batch_id = _posted(job)
    shown = _json(job, "batches", "show", str(batch_id))
    assert isinstance(shown, dict)
    assert (shown["status"], shown["step"], shown["rows"], shown["posted_fen"]) == ("POSTED", "archived", 6, 1623000)
    assert [h["step"] for h in shown["history"]] == ["claimed", "decided", "published", "archived"]
    assert shown["results"] == [f"{A}_202611.result.{e}" for e in ("csv", "json", "xlsx")]
    table = job.run("batches", "show", str(batch_id))
    assert table.exit_code == 0 and "POSTED" in table.output and "历史" in table.output

    member = _json(job, "accounts", "show", "100123000001")
    assert isinstance(member, dict)
    assert member["balance_fen"] == 210400 and member["paid_through"] == 202611
    assert sorted((e["part"], e["amount_fen"]) for e in member["entries"]) == [
        ("employee", 105200),
        ("employer", 105200),
    ]
    assert job.run("accounts", "show", "999").exit_code == 1

    export = tmp_path / "accounts.csv"
    assert job.run("accounts", "export", "--out", str(export)).exit_code == 0
    lines = export.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == "member_account,unit_account,status,balance,paid_through"
    assert "100123000001,0101000123,normal,2104.00,202611" in lines
    assert job.run("verify").exit_code == 0


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_verify_fails_on_a_corrupted_balance(sftp_env: SftpEnv, job: Job) -> None:
    _posted(job)
    engine = make_engine(job.db_url)
    with engine.begin() as conn:
        conn.execute(
            update(tables.members).where(tables.members.c.member_account == "100123000001").values(balance_fen=7)
        )
    engine.dispose()
    result = job.run("verify")
    assert result.exit_code == 1
    assert "100123000001" in result.output and "未冲销缴存之和" in result.output


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_reverse_only_the_latest_month(sftp_env: SftpEnv, job: Job) -> None:
    november = _posted(job)
    # December, a month later: the same staff, the same amounts.
    december = job.home / f"{A}_202612.csv"
    december.write_text(VALID.read_text("utf-8-sig").replace(",202611", ",202612"), "utf-8")
    job.environ["HPF_TODAY"] = "2026-12-22"
    job.upload(A, december)
    assert job.run("run-once").exit_code == 0
    assert job.result(A, f"{A}_202612.csv")["status"] == "POSTED"

    refused = job.run("batches", "reverse", str(november), "--reason", "基数有误", "--yes")
    assert refused.exit_code == 1 and "最近入账的月份" in refused.output
    (dec,) = [b for b in _json(job, "batches", "list") if b["month"] == 202612]  # type: ignore[union-attr]
    assert job.run("batches", "reverse", str(dec["id"]), "--reason", "单位多报", "--yes").exit_code == 0
    member = _json(job, "accounts", "show", "100123000001")
    assert isinstance(member, dict) and (member["balance_fen"], member["paid_through"]) == (210400, 202611)
    assert job.run("batches", "reverse", str(dec["id"]), "--reason", "again", "--yes").exit_code == 1
    assert job.run("batches", "reverse", str(november), "--reason", "基数有误", "--yes").exit_code == 0
    member = _json(job, "accounts", "show", "100123000001")
    assert isinstance(member, dict) and (member["balance_fen"], member["paid_through"]) == (0, 202610)
    assert len(member["entries"]) == 8  # four deposits, four reversals: nothing deleted
    shown = _json(job, "batches", "show", str(november))
    assert isinstance(shown, dict) and shown["status"] == "REVERSED"
    audit = _json(job, "audit")
    assert isinstance(audit, list)
    assert [(a["action"], a["reason"]) for a in audit] == [("reverse", "基数有误"), ("reverse", "单位多报")]
    messages = [h["message"] for h in shown["history"]]
    assert any(m.startswith("冲销：基数有误（操作人：") for m in messages)
    assert job.run("verify").exit_code == 0


@pytest.mark.parametrize("sftp_env", ["embedded", "openssh"], indirect=True)
def test_a_reversal_is_told_to_the_employer_under_the_same_names(sftp_env: SftpEnv, job: Job) -> None:
    batch = _posted(job)
    outbox = job.env.root / A / "outbox"
    before = sorted(p.name for p in outbox.iterdir())
    asked = job.run("batches", "reverse", str(batch), "--reason", "=单位多报")
    assert asked.exit_code == 1 and "--yes" in asked.output  # no terminal to confirm on: refused, nothing done
    assert job.result(A, f"{A}_202611.csv")["status"] == "POSTED"

    done = job.run("batches", "reverse", str(batch), "--reason", "=单位多报", "--yes")
    assert done.exit_code == 0, done.output
    assert "重新上传" in done.output
    assert sorted(p.name for p in outbox.iterdir()) == before  # the same three names, replaced atomically
    doc = job.result(A, f"{A}_202611.csv")
    assert (doc["status"], doc["posted_rows"], doc["posted_fen"], doc["rows"]) == ("REVERSED", 0, 0, 6)
    assert doc["reason"] == "=单位多报"
    lines = (outbox / f"{A}_202611.result.csv").read_text("utf-8-sig").splitlines()[1:]
    assert len(lines) == 6 and all(",NOT_POSTED,," in line for line in lines)
    assert all("'本批次已冲销" not in line and "本批次已冲销（REVERSED）：=单位多报" in line for line in lines)
    book = openpyxl.load_workbook(outbox / f"{A}_202611.result.xlsx")
    summary = {row[0].value: row[1].value for row in book["汇总"].iter_rows(min_row=2)}
    assert summary["处理结果"] == "已冲销（REVERSED）" and summary["入账金额（元）"] == 0
    assert summary["原因"] == "'=单位多报"  # a formula never starts a cell
    assert {c.value for c in book["明细"]["I"][1:]} == {"未入账（NOT_POSTED）"}
    shown = _json(job, "batches", "show", str(batch))
    assert isinstance(shown, dict) and shown["history"][-1]["message"].startswith("结果已重新上传")
    # Nothing left to republish: the next cycle uploads nothing again.
    assert "本轮处理0个文件" in job.run("run-once").output


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_a_failed_archive_is_listed_first_and_rerun(sftp_env: SftpEnv, job: Job) -> None:
    blocker = job.env.root / A / "archive"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"a file where the archive folder should be")
    job.upload(A, VALID)
    job.upload("0101000456", SAMPLES / "valid" / "0101000456_202611.csv")
    cycle = job.run("run-once")
    assert cycle.exit_code == 0, cycle.output  # the cycle ran; one file could not be archived
    first, *_ = _json(job, "batches", "list")  # type: ignore[misc]
    assert first["unit_account"] == A and first["status"] == "POSTED" and first["last_error"]
    assert job.run("batches", "rerun", str(first["id"])).exit_code == 1  # still blocked
    blocker.unlink()
    rerun = job.run("batches", "rerun", str(first["id"]))
    assert rerun.exit_code == 0, rerun.output
    shown = _json(job, "batches", "show", str(first["id"]))
    assert isinstance(shown, dict) and (shown["step"], shown["last_error"]) == ("archived", None)
    assert (job.env.root / A / "archive" / f"{A}_202611.csv").exists()
    assert job.run("verify").exit_code == 0
    audit = _json(job, "audit")  # both reruns ran, the one still blocked too; each under the OS user
    assert (
        isinstance(audit, list)
        and [(a["action"], a["target"], a["via"]) for a in audit] == [("rerun", f"batch {first['id']}", "cli")] * 2
    )


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_report_reconcile_writes_uploads_and_fails_on_disagreement(sftp_env: SftpEnv, job: Job, tmp_path: Path) -> None:
    _posted(job)
    out = tmp_path / "reports"
    result = job.run("report", "reconcile", "--month", "202611", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "reconciliation_202611.csv").exists() and (out / "reconciliation_202611.xlsx").exists()
    finance = job.env.root / "_finance" / "outbox"
    assert sorted(p.name for p in finance.iterdir()) == ["reconciliation_202611.csv", "reconciliation_202611.xlsx"]
    lines = (out / "reconciliation_202611.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == (
        "unit_account,employer_name,status,files,rows_received,rows_posted,members_active,amount_due,amount_received,"
        "amount_posted,suspense_opening,suspense_closing"
    )
    assert any(line.startswith(f"{A},") and ",POSTED,1,6,6,6,,,16230.00,," in line for line in lines)
    totals = _json(job, "report", "reconcile", "--month", "202611", "--out", str(out))
    assert isinstance(totals, dict) and totals["problems"] == []
    assert totals["posted_this_month_fen"] == totals["ledger_month_fen"] == 1623000
    assert totals["member_balances_fen"] == totals["control_fen"] == 1623000
    quiet = _json(job, "run-once")
    assert isinstance(quiet, dict) and quiet["files"] == 0 and quiet["failed"] == []
    engine = make_engine(job.db_url)
    with engine.begin() as conn:
        conn.execute(update(tables.control_accounts).values(balance_fen=tables.control_accounts.c.balance_fen + 1))
    engine.dispose()
    disagreeing = job.run("report", "reconcile", "--month", "202611", "--out", str(out))
    assert disagreeing.exit_code == 1 and "控制合计不一致" in disagreeing.output
    assert job.run("report", "reconcile", "--month", "2026-11").exit_code == 2


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
def test_a_reversal_while_sftp_is_down_is_told_by_the_next_cycle(sftp_env: SftpEnv, job: Job) -> None:
    batch = _posted(job)
    job.env.server.kill()
    done = job.run("batches", "reverse", str(batch), "--reason", "单位多报", "--yes")
    assert done.exit_code == 0, done.output  # the ledger is reversed whatever the server does
    assert "下一轮" in done.output
    assert job.result(A, f"{A}_202611.csv")["status"] == "POSTED"  # not told yet
    job.env.restart()
    cycle = job.run("run-once")
    assert cycle.exit_code == 0, cycle.output
    assert job.result(A, f"{A}_202611.csv")["status"] == "REVERSED"
    assert job.run("verify").exit_code == 0
