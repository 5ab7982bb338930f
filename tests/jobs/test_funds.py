"""Funds end to end (SPEC §5, §6, §9): lists wait for money the bank reports, over the real OpenSSH server.

Each test is a day finance staff really have: a list paid exactly, short then
topped up, over-paid, paid before it came, two months at once; the same notice
delivered twice, a conflicting one, reversals; an unidentified credit assigned
by hand; a list that never got its money. Outcomes are read back from the
employer's and the bank's outboxes and the ledger, and `hpf verify` holds after each.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from batch.reference import reference
from db import tables
from db.engine import make_engine
from tests.support.environments import COLLECTION_ACCOUNT, Job
from tests.support.samples import SAMPLES, A, B

pytestmark = pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)

LIST_A = SAMPLES / "valid" / f"{A}_202611.csv"
TOTAL_A = 1_623_000  # fen: the sample list's total (its marker says 16230.00)
REF_A = reference(A, 202611)


@pytest.fixture
def job(sftp_env, db_url: str, tmp_path: Path) -> Job:  # type: ignore[no-untyped-def]
    return Job(sftp_env, db_url, tmp_path, funds="arrival")


def line(serial: str, yuan: str, *, memo: str = "", summary: str = "", flag: str = "N", day: str = "20261122",
         payer: str = "6222000011112222", payer_name: str = "某某") -> str:  # fmt: skip
    fields = ["1", COLLECTION_ACCOUNT, serial, "0001", payer, payer_name, yuan, day, "101500", "0", "5101", memo,
              "156", "1", "0", "0", "", "", "", summary, flag, "1", "1"]  # fmt: skip
    return "|".join(fields) + "|"


def bank_file(job: Job, seq: int, *lines: str, day: str = "20261122") -> str:
    name = f"DZTZ_{COLLECTION_ACCOUNT}_{day}_{seq:03d}.txt"
    job.env.put("_bank", name, "".join(f"{x}\r\n" for x in lines).encode("gb18030"))
    return name


def cycle(job: Job, *environ: tuple[str, str]) -> None:
    saved = dict(job.environ)
    job.environ.update(dict(environ))
    try:
        result = job.run("run-once")
    finally:
        job.environ = saved
    assert result.exit_code == 0, result.output
    verified = job.run("verify")
    assert verified.exit_code == 0, verified.output


def bank_result(job: Job, name: str) -> dict[str, object]:
    stem = name.rsplit(".", 1)[0]
    return json.loads((job.env.root / "_bank" / "outbox" / f"{stem}.result.json").read_text("utf-8"))


def state(job: Job, unit: str = A) -> tuple[int | None, int]:
    """The employer's paid-through month and its suspense balance."""
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        paid = conn.execute(
            select(tables.employers.c.paid_through).where(tables.employers.c.unit_account == unit)
        ).scalar()
        held = conn.execute(
            select(tables.control_accounts.c.balance_fen).where(tables.control_accounts.c.code == f"S{unit}")
        ).scalar()
    engine.dispose()
    return paid, held or 0


def centre(job: Job, code: str) -> int:
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        held = conn.execute(
            select(tables.control_accounts.c.balance_fen).where(tables.control_accounts.c.code == code)
        ).scalar()
    engine.dispose()
    return int(held or 0)


def test_a_list_waits_with_its_payment_notice_then_posts_when_its_money_comes(job: Job) -> None:
    job.upload(A, LIST_A)
    cycle(job)
    waiting = job.result(A, LIST_A.name)
    assert (waiting["status"], waiting["posted_rows"], waiting["posted_fen"]) == ("AWAITING_FUNDS", 0, 0)
    assert waiting["payment"] == {
        "reference": "01010001232026119", "amount_fen": TOTAL_A, "outstanding_fen": TOTAL_A,
        "pay_by": "2026-11-27", "account_name": "成都住房公积金管理中心", "account": COLLECTION_ACCOUNT,
        "bank": "中国建设银行成都市分行",
    }  # fmt: skip
    assert state(job) == (202610, 0)
    stem = LIST_A.name.rsplit(".", 1)[0]
    summary = openpyxl.load_workbook(job.env.root / A / "outbox" / f"{stem}.result.xlsx")["汇总"]
    notice = {row[0]: row[1] for row in summary.iter_rows(min_row=2, values_only=True) if row[0]}
    assert notice["汇缴通知：缴款识别码（附言）"] == REF_A and notice["汇缴通知：尚需缴款（元）"] == 16230.0
    assert notice["汇缴通知：收款账号"] == COLLECTION_ACCOUNT and notice["汇缴通知：缴款截止日期"] == "2026-11-27"
    lines = (job.env.root / A / "outbox" / f"{stem}.result.csv").read_text("utf-8-sig").splitlines()[1:]
    assert lines and all(",NOT_POSTED," in x for x in lines)

    # Full-width digits in the memo, as a bank counter clerk types them.
    wide = "".join(chr(ord(c) + 0xFEE0) for c in REF_A)
    name = bank_file(job, 1, line("H0001", "16230.00", memo=f"公积金 {wide}"))
    cycle(job)
    booked = bank_result(job, name)
    assert (booked["status"], booked["credits"], booked["booked_fen"]) == ("BOOKED", 1, TOTAL_A)
    assert booked["items"] == [
        {"line_no": 1, "serial": "H0001", "amount_fen": TOTAL_A, "matched_by": "reference", "unit_account": A}
    ]
    posted = job.result(A, LIST_A.name)
    assert (posted["status"], posted["posted_rows"], posted["posted_fen"]) == ("POSTED", 6, TOTAL_A)
    assert posted["funded_by"] == ["H0001"]
    assert posted["receipt"]["suspense_fen"] == 0 and posted["receipt"]["members_posted"] == 6
    assert state(job) == (202611, 0)
    assert sum(job.balances().values()) >= TOTAL_A


def test_a_short_payment_waits_for_its_top_up_and_a_surplus_stays_for_next_month(job: Job) -> None:
    job.upload(A, LIST_A)
    bank_file(job, 1, line("H0001", "16229.99", memo=REF_A))
    cycle(job)
    assert job.result(A, LIST_A.name)["status"] == "AWAITING_FUNDS"  # one fen short: no tolerance
    assert state(job) == (202610, 1_622_999)
    bank_file(job, 2, line("H0002", "1.01", memo=REF_A))  # a top-up, one yuan over
    cycle(job)
    posted = job.result(A, LIST_A.name)
    assert posted["status"] == "POSTED" and posted["funded_by"] == ["H0001", "H0002"]
    assert state(job) == (202611, 100)  # the surplus stays in the employer's suspense


def test_money_before_the_list_and_one_payment_for_two_months(job: Job, tmp_path: Path) -> None:
    december = tmp_path / f"{A}_202612.csv"
    december.write_text(LIST_A.read_text("utf-8-sig").replace(",202611\n", ",202612\n"), "utf-8-sig")
    today = ("HPF_TODAY", "2026-12-03")
    bank_file(job, 1, line("H0001", "32459.99", summary=REF_A), day="20261203")  # one fen short of two months
    cycle(job, today)
    assert state(job) == (202610, 3_245_999)
    job.upload(A, LIST_A)
    job.upload(A, december, mtime=1_790_000_100)
    cycle(job, today)
    assert job.result(A, LIST_A.name)["status"] == "POSTED"
    assert job.result(A, december.name)["status"] == "AWAITING_FUNDS"
    assert job.result(A, december.name)["payment"]["outstanding_fen"] == 1, job.result(A, december.name)["payment"]
    bank_file(job, 2, line("H0002", "0.01", memo=f"单位{A}"), day="20261203")  # named by its unit account
    cycle(job, today)
    assert job.result(A, december.name)["status"] == "POSTED"
    assert state(job) == (202612, 0)


def test_a_notice_delivered_twice_is_booked_once_and_a_conflicting_one_rejects_its_file(job: Job) -> None:
    first = bank_file(job, 1, line("H0001", "100.00", memo=REF_A))
    cycle(job)
    again = bank_file(job, 2, line("H0001", "100.00", memo=REF_A), line("H0002", "5.00", memo=REF_A))
    cycle(job)
    assert bank_result(job, first)["booked_fen"] == 10_000
    repeated = bank_result(job, again)
    assert (repeated["status"], repeated["duplicates"], repeated["booked_fen"]) == ("BOOKED", 1, 500)
    assert repeated["items"][0]["matched_by"] == "duplicate"
    conflict = bank_file(job, 3, line("H0001", "999.00", memo=REF_A), line("H0003", "7.00", memo=REF_A))
    cycle(job)
    rejected = bank_result(job, conflict)
    assert rejected["status"] == "REJECTED"
    assert [(e["code"], e["line_no"]) for e in rejected["errors"]] == [("B_CONFLICT", 1)]
    assert state(job) == (202610, 10_500)  # nothing of the rejected file was booked
    # The platform's own re-delivery differs only in 序号 and balances: still the same movement.
    bank_file(job, 4, line("H0002", "5.00", memo=REF_A).replace("1|", "7|", 1))
    cycle(job)
    assert state(job) == (202610, 10_500)


def test_a_malformed_file_is_rejected_whole_with_line_and_field(job: Job) -> None:
    name = bank_file(job, 1, line("H0001", "100.00", memo=REF_A), line("H0002", "12.345"), "1|2|3")
    cycle(job)
    rejected = bank_result(job, name)
    assert rejected["status"] == "REJECTED"
    assert [(e["code"], e["line_no"], e["field"]) for e in rejected["errors"]] == [
        ("B_FORMAT", 2, "金额"), ("B_FORMAT", 3, None),
    ]  # fmt: skip
    assert state(job) == (202610, 0)
    assert (job.env.root / "_bank" / "archive").exists()


def test_a_reversal_of_a_credit_that_paid_a_posted_list_makes_it_wait_again(job: Job) -> None:
    job.upload(A, LIST_A)
    bank_file(job, 1, line("H0001", "16230.00", memo=REF_A))
    cycle(job)
    assert job.result(A, LIST_A.name)["status"] == "POSTED"
    name = bank_file(job, 2, line("R0001", "-16230.00", flag="Y", memo="冲正 H0001"))
    cycle(job)
    assert bank_result(job, name)["items"][0]["matched_by"] == "reversal"
    again = job.result(A, LIST_A.name)
    assert (again["status"], again["posted_fen"]) == ("AWAITING_FUNDS", 0)
    assert "funded_by" not in again and again["payment"]["outstanding_fen"] == TOTAL_A
    assert state(job) == (202610, 0)  # paid-through restored, nothing left in suspense
    assert sum(job.balances().values()) == 0


def test_a_reversal_in_suspense_and_one_with_no_original(job: Job) -> None:
    bank_file(job, 1, line("H0001", "50.00", memo=REF_A, payer_name="甲"))
    cycle(job)
    # Found by amount and counterparty within ten days; the second has no original at all.
    name = bank_file(job, 2, line("R0001", "-50.00", flag="Y", payer_name="甲"), line("R0002", "-9.00", flag="Y"))
    cycle(job)
    items = bank_result(job, name)["items"]
    assert [i["matched_by"] for i in items] == ["reversal", "reversal"]
    assert state(job) == (202610, 0)
    assert centre(job, "EXCEPTIONS") == -900  # shown to a person, never taken from anyone's suspense
    attention = json.loads(job.run("batches", "list", "--attention", "--json").output)
    assert [(f["kind"], f["serial"], f["amount_fen"]) for f in attention["funds"]] == [("exception", "R0002", 900)]


def test_an_unidentified_credit_assigned_by_finance_posts_the_awaiting_list(job: Job) -> None:
    job.upload(A, LIST_A)
    bank_file(job, 1, line("H0001", "16230.00", memo=REF_A[:-1] + "0"))  # a wrong check digit names nobody
    cycle(job)
    assert job.result(A, LIST_A.name)["status"] == "AWAITING_FUNDS"
    attention = json.loads(job.run("batches", "list", "--attention", "--json").output)
    assert [(f["kind"], f["serial"]) for f in attention["funds"]] == [("unidentified", "H0001")]
    listed = json.loads(job.run("funds", "list", "--unidentified", "--json").output)
    (credit,) = listed["credits"]
    assert (credit["matched_by"], credit["suspense"]) == ("unidentified", "UNIDENTIFIED")
    assert listed["unidentified_fen"] == TOTAL_A
    refused = job.run("funds", "assign", str(credit["id"]), "--unit", A, "--reason", " ")
    assert refused.exit_code == 1 and "原因" in refused.output
    done = job.run("funds", "assign", str(credit["id"]), "--unit", A, "--reason", "单位来电确认")
    assert done.exit_code == 0, done.output
    assert job.result(A, LIST_A.name)["status"] == "POSTED"
    assert state(job) == (202611, 0)
    audit = json.loads(job.run("audit", "--json").output)
    assert [(a["action"], a["target"], a["reason"]) for a in audit] == [
        ("assign", f"credit {credit['id']}", "单位来电确认")
    ]
    assert job.run("verify").exit_code == 0


def test_a_payer_account_of_another_employer_and_a_transfer_between_employers(job: Job, tmp_path: Path) -> None:
    employers = tmp_path / "employers.csv"
    rows = (SAMPLES / "master" / "employers.csv").read_text("utf-8").splitlines()
    employers.write_text(
        "\n".join([rows[0] + ",payer_account", *(r + (",6222999" if r.startswith(B) else ",") for r in rows[1:])])
        + "\n",
        "utf-8",
    )
    imported = job.run("accounts", "import", "--employers", str(employers), "--members",
                       str(SAMPLES / "master" / "members.csv"))  # fmt: skip
    assert imported.exit_code == 0, imported.output
    job.upload(A, LIST_A)
    bank_file(job, 1, line("H0001", "16230.00", payer="6222999"))  # A's money, paid from B's registered account
    cycle(job)
    assert state(job, B) == (None, TOTAL_A) and job.result(A, LIST_A.name)["status"] == "AWAITING_FUNDS"
    too_much = job.run("funds", "transfer", "--from", B, "--to", A, "--amount", "16230.01", "--reason", "错缴")
    assert too_much.exit_code == 1 and "不能为负" in too_much.output
    moved = job.run("funds", "transfer", "--from", B, "--to", A, "--amount", "16230", "--reason", "错缴")
    assert moved.exit_code == 0, moved.output
    assert job.result(A, LIST_A.name)["status"] == "POSTED"
    assert state(job, B)[1] == 0 and state(job) == (202611, 0)


def test_a_list_that_never_gets_its_money_expires_and_a_corrected_list_supersedes(job: Job, tmp_path: Path) -> None:
    job.upload(A, LIST_A)
    cycle(job)
    corrected = tmp_path / LIST_A.name
    corrected.write_bytes(LIST_A.read_bytes() + b"\n")  # other bytes, the same list
    job.upload(A, corrected, mtime=1_790_000_100)
    cycle(job)
    first = job.result(A, LIST_A.name)
    assert first["status"] == "SUPERSEDED"
    # The later list keeps its own names while the first stood; 30 days on, it expires.
    cycle(job, ("HPF_TODAY", "2026-12-23"))
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        statuses = (
            conn.execute(
                select(tables.batches.c.status).where(tables.batches.c.unit_account == A).order_by(tables.batches.c.id)
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert statuses == ["SUPERSEDED", "EXPIRED"]
    assert state(job) == (202610, 0)


def test_the_three_way_reconciliation_of_bank_money_lists_postings_and_suspense(job: Job, tmp_path: Path) -> None:
    import csv
    import io

    job.upload(A, LIST_A)
    job.upload(B, SAMPLES / "valid" / f"{B}_202611.csv", mtime=1_790_000_100)
    bank_file(job, 1, line("H0001", "16230.00", memo=REF_A), line("H0002", "1354.00", memo=reference(B, 202611)),
              line("H0003", "88.00", payer_name="张三"), line("R0001", "-9.00", flag="Y"))  # fmt: skip
    cycle(job)
    out = tmp_path / "report"
    done = job.run("report", "reconcile", "--month", "202611", "--out", str(out))
    assert done.exit_code == 0, done.output
    text = (out / "reconciliation_202611.csv").read_bytes().decode("utf-8-sig")
    rows = {r["unit_account"]: r for r in csv.DictReader(io.StringIO(text.split("\r\n\r\n")[0]))}
    money = ("status", "amount_due", "amount_received", "amount_posted", "suspense_opening", "suspense_closing")
    assert tuple(rows[A][k] for k in money) == ("POSTED", "16230.00", "16230.00", "16230.00", "0.00", "0.00")
    assert tuple(rows[B][k] for k in money) == ("AWAITING_FUNDS", "1454.00", "1354.00", "0.00", "0.00", "1354.00")
    totals = dict(line.split(",")[0::9][:2] for line in text.split("\r\n\r\n")[1].strip().split("\r\n"))
    assert totals["bank_received"] == totals["bank_held"] == "17663.00"  # 16230 + 1354 + 88 − 9
    assert (totals["unidentified"], totals["exceptions"], totals["posted_from_suspense"]) == (
        "88.00",
        "-9.00",
        "16230.00",
    )
    # A month later nothing of November moves: December opens with what November closed with.
    december = job.run("report", "reconcile", "--month", "202612", "--out", str(out))
    assert december.exit_code == 0, december.output
    later = (out / "reconciliation_202612.csv").read_bytes().decode("utf-8-sig")
    b_line = next(r for r in csv.DictReader(io.StringIO(later.split("\r\n\r\n")[0])) if r["unit_account"] == B)
    assert (b_line["suspense_opening"], b_line["amount_received"], b_line["suspense_closing"]) == (
        "1354.00",
        "0.00",
        "1354.00",
    )

    engine = make_engine(job.db_url)
    with engine.begin() as conn:  # money that left the bank for an account no identity knows
        conn.execute(tables.fund_moves.insert().values(
            kind="credit", debit=f"B{COLLECTION_ACCOUNT}", credit="NOWHERE", amount_fen=100, booked_on=date(2026, 11, 22)
        ))  # fmt: skip
    engine.dispose()
    broken = job.run("report", "reconcile", "--month", "202611", "--out", str(out))
    assert broken.exit_code == 1 and "期末银行账户余额17664.00元应等于" in broken.output


def test_immediate_mode_has_no_funds_commands_and_posts_at_once(sftp_env, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = Job(sftp_env, db_url, tmp_path, funds="immediate")
    job.upload(A, LIST_A)
    cycle(job)
    posted = job.result(A, LIST_A.name)
    assert posted["status"] == "POSTED" and "payment" not in posted
    refused = job.run("funds", "list")
    assert refused.exit_code == 1 and "immediate" in refused.output


def test_funds_list_prints_what_the_bank_sent_as_text(job: Job) -> None:
    bank_file(job, 1, line("H0001", "12.00", payer_name="[red]某[/]", memo="<script>x</script> :cn:"))
    cycle(job)
    job.environ["COLUMNS"] = "250"  # wide enough that no cell wraps
    shown = job.run("funds", "list", "--unidentified")
    assert shown.exit_code == 0, shown.output
    assert "[red]某[/]" in shown.output and ":cn:" in shown.output and "未识别" in shown.output
    assert "12.00" in shown.output


def test_an_over_payment_pays_next_month_with_no_new_money(job: Job, tmp_path: Path) -> None:
    december = tmp_path / f"{A}_202612.csv"
    december.write_text(LIST_A.read_text("utf-8-sig").replace(",202611\n", ",202612\n"), "utf-8-sig")
    job.upload(A, LIST_A)
    bank_file(job, 1, line("H0001", "32460.00", memo=REF_A))  # November paid twice over
    cycle(job)
    assert job.result(A, LIST_A.name)["status"] == "POSTED" and state(job) == (202611, TOTAL_A)
    job.upload(A, december, mtime=1_790_000_100)
    cycle(job, ("HPF_TODAY", "2026-12-03"))
    posted = job.result(A, december.name)
    assert posted["status"] == "POSTED" and posted["funded_by"] == ["H0001"]  # the same credit's second half
    assert "payment" not in posted or posted["payment"]["outstanding_fen"] == 0
    assert state(job) == (202612, 0)


def test_reversing_a_list_posted_from_suspense_returns_its_money_there(job: Job) -> None:
    job.upload(A, LIST_A)
    bank_file(job, 1, line("H0001", "16230.00", memo=REF_A))
    cycle(job)
    batch_id = job.result(A, LIST_A.name)["batch_id"]
    done = job.run("batches", "reverse", str(batch_id), "--reason", "单位报错基数", "--yes")
    assert done.exit_code == 0, done.output
    assert state(job) == (202610, TOTAL_A)  # the money waits in suspense for the corrected list
    assert job.result(A, LIST_A.name)["status"] == "REVERSED"
    assert job.run("verify").exit_code == 0
