"""Member change lists end to end (SPEC §2 order, §3.2, §6), over the real OpenSSH server, on SQLite and PostgreSQL.

Each test is a month an employer really has: a hire paid in the cycle it is
opened, a leaver sealed, a sealed person moving employer with their balance, a
wrong seal undone, the annual base adjustment. Every outcome is read back from
the employer's outbox and the ledger, and `hpf verify` holds afterwards.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from db import tables
from db.engine import make_engine
from tests.support.environments import Job
from tests.support.samples import SAMPLES, A, D

pytestmark = pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)

CYCLE = SAMPLES / "cycle"
HEADER = "变更类型,个人账号,姓名,证件类型,证件号码,缴存基数,原因,生效年月\n"
HE_XUE = "100321000004"


def _lines(job: Job, unit: str, name: str) -> list[dict[str, str]]:
    stem = name.rsplit(".", 1)[0]
    text = (job.env.root / unit / "outbox" / f"{stem}.result.csv").read_text("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _changes(job: Job, name: str, *rows: str) -> Path:
    path = job.home / name
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows), "utf-8")
    return path


def _member(job: Job, account: str) -> dict[str, object]:
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        row = conn.execute(select(tables.members).where(tables.members.c.member_account == account)).one()
    engine.dispose()
    return dict(row._mapping)


def _events(job: Job, account: str) -> list[tuple[int, str, str | None, str]]:
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(tables.member_events.c.month, tables.member_events.c.change, tables.member_events.c.old_status,
                   tables.member_events.c.new_status)
            .where(tables.member_events.c.member_account == account).order_by(tables.member_events.c.id)
        ).all()  # fmt: skip
    engine.dispose()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _verified(job: Job) -> None:
    result = job.run("verify")
    assert result.exit_code == 0, result.output


def test_a_new_hire_is_opened_and_paid_in_the_same_cycle(job: Job) -> None:
    # The remittance list is uploaded first: the change list for the month is still applied before it.
    job.upload(A, CYCLE / A / f"{A}_202611.csv", mtime=1_790_000_000)
    job.upload(A, CYCLE / A / f"BG_{A}_202611.csv", mtime=1_790_000_100)
    result = job.run("run-once")
    assert result.exit_code == 0, result.output

    applied = job.result(A, f"BG_{A}_202611.csv")
    assert (applied["status"], applied["posted_rows"], applied["total_fen"]) == ("APPLIED", 1, None)
    (hire,) = _lines(job, A, f"BG_{A}_202611.csv")
    account = hire["member_account"]
    assert len(account) == 12 and account.isdigit() and int(account) > 100456000004  # above every account held
    assert (hire["status"], hire["change_type"], hire["id_number"]) == ("APPLIED", "开户", "510107********1421")

    posted = job.result(A, f"{A}_202611.csv")
    assert posted["status"] == "POSTED", posted["errors"]
    line = _lines(job, A, f"{A}_202611.csv")[-1]
    assert (line["member_account"], line["name"], line["status"]) == (account, "孙悦", "POSTED")
    assert job.balances()[account] == 168000
    member = _member(job, account)
    assert (member["unit_account"], member["status"], member["base_fen"], member["paid_through"]) == (
        A, "normal", 700000, 202611)  # fmt: skip
    assert _events(job, account) == [(202611, "open", None, "normal")]
    _verified(job)


def test_a_leaver_sealed_so_that_the_list_without_them_posts(job: Job) -> None:
    job.upload(D, CYCLE / D / f"{D}_202611.csv", mtime=1_790_000_000)
    job.upload(D, CYCLE / D / f"BG_{D}_202611.csv", mtime=1_790_000_100)
    assert job.run("run-once").exit_code == 0
    assert job.result(D, f"BG_{D}_202611.csv")["status"] == "APPLIED"
    assert job.result(D, f"{D}_202611.csv")["status"] == "POSTED"
    assert _member(job, HE_XUE)["status"] == "sealed"
    assert HE_XUE not in {line["member_account"] for line in _lines(job, D, f"{D}_202611.csv")}
    shown = job.run("accounts", "show", HE_XUE)
    assert shown.exit_code == 0 and "封存" in shown.output and "202611" in shown.output, shown.output
    _verified(job)


def test_a_seal_for_next_month_leaves_this_month_s_roster_as_it_was(job: Job) -> None:
    """Sealed from December: November's list must still have her (the roster of M is the one in force for M)."""
    job.environ["HPF_TODAY"] = "2026-12-03"
    seal = _changes(job, f"BG_{D}_202612.csv", f"封存,{HE_XUE},何雪,,,,3,")
    job.upload(D, seal)
    assert job.run("run-once").exit_code == 0
    assert job.result(D, seal.name)["status"] == "APPLIED"
    without = job.home / f"{D}_202611.csv"
    without.write_bytes((CYCLE / D / f"{D}_202611.csv").read_bytes())
    job.upload(D, without, mtime=1_790_000_200)
    assert job.run("run-once").exit_code == 0
    missing = job.result(D, without.name)
    assert missing["status"] == "REJECTED"
    assert [(e["code"], e["member_account"]) for e in missing["errors"]] == [("F_ROSTER_MISSING", HE_XUE)]  # type: ignore[index]
    job.upload(D, SAMPLES / "valid" / f"{D}_202611.xlsx", mtime=1_790_000_300)
    assert job.run("run-once").exit_code == 0
    assert job.result(D, f"{D}_202611.xlsx")["status"] == "POSTED"
    assert job.balances()[HE_XUE] > 0
    _verified(job)


def test_a_sealed_person_moving_in_from_another_employer_keeps_account_and_balance(job: Job) -> None:
    job.environ["HPF_TODAY"] = "2026-12-03"
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv")
    job.upload(D, SAMPLES / "valid" / f"{D}_202611.xlsx", mtime=1_790_000_000)
    job.upload(D, _changes(job, f"BG_{D}_202612.csv", f"封存,{HE_XUE},何雪,,,,3,"), mtime=1_790_000_100)
    assert job.run("run-once").exit_code == 0
    balance = job.balances()[HE_XUE]
    assert balance == 96000  # 6000 × 8% twice

    he_xue_id = str(_member(job, HE_XUE)["id_number"])
    job.upload(A, _changes(job, f"BG_{A}_202612.csv", f"开户,,何雪,01,{he_xue_id},6000.00,,"), mtime=1_790_000_200)
    assert job.run("run-once").exit_code == 0
    moved = job.result(A, f"BG_{A}_202612.csv")
    assert moved["status"] == "APPLIED", moved["errors"]
    (line,) = _lines(job, A, f"BG_{A}_202612.csv")
    assert line["member_account"] == HE_XUE and "转入" in line["message"]
    member = _member(job, HE_XUE)
    assert (member["unit_account"], member["status"], member["base_fen"], member["balance_fen"]) == (
        A, "normal", 600000, balance)  # fmt: skip
    assert [e[1:] for e in _events(job, HE_XUE)] == [("seal", "normal", "sealed"), ("open", "sealed", "normal")]
    _verified(job)


def test_a_person_normal_at_another_employer_is_refused_and_nothing_is_applied(job: Job) -> None:
    he_xue_id = str(_member(job, HE_XUE)["id_number"])
    bad = _changes(
        job, f"BG_{A}_202611.csv",
        "开户,,孙悦,01,510107199805211421,7000.00,,",  # fine on its own
        f"开户,,何雪,01,{he_xue_id},6000.00,,",
    )  # fmt: skip
    job.upload(A, bad)
    assert job.run("run-once").exit_code == 0
    result = job.result(A, bad.name)
    assert result["status"] == "REJECTED"
    assert [(e["code"], e["row_no"]) for e in result["errors"]] == [("F_ROW_ERRORS", None), ("C_ACTIVE_ELSEWHERE", 3)]  # type: ignore[index]
    assert [line["status"] for line in _lines(job, A, bad.name)] == ["NOT_APPLIED", "REJECTED"]
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        assert conn.execute(select(tables.member_events)).all() == []
        assert conn.execute(select(tables.members).where(tables.members.c.name == "孙悦")).all() == []
    engine.dispose()


def test_a_wrong_seal_is_undone_by_unseal_with_reason_2(job: Job) -> None:
    wrong = _changes(job, f"BG_{A}_202611.csv", "封存,100123000001,王建国,,,,1,")
    job.upload(A, wrong)
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv", mtime=1_790_000_100)
    assert job.run("run-once").exit_code == 0
    assert job.result(A, wrong.name)["status"] == "APPLIED"
    refused = job.result(A, f"{A}_202611.csv")
    assert [e["code"] for e in refused["errors"]] == ["F_ROW_ERRORS", "R_ACCOUNT_SEALED"]  # type: ignore[index]

    undo = _changes(job, f"BG_{A}_202611_fix.csv", "启封,100123000001,王建国,,,8765.43,2,")
    job.upload(A, undo, mtime=1_790_000_200)
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv", mtime=1_790_000_300)  # the same list again
    assert job.run("run-once").exit_code == 0
    assert job.result(A, undo.name)["status"] == "APPLIED"
    assert job.result(A, f"{A}_202611.csv")["status"] == "POSTED"
    assert [e[1:] for e in _events(job, "100123000001")] == [
        ("seal", "normal", "sealed"),
        ("unseal", "sealed", "normal"),
    ]
    shown = job.run("accounts", "show", "100123000001")
    assert "错误封存" in shown.output, shown.output
    _verified(job)


def test_the_annual_base_adjustment_changes_every_base(job: Job) -> None:
    valid = (SAMPLES / "valid" / f"{A}_202611.csv").read_text("utf-8-sig")
    people = list(csv.DictReader(io.StringIO(valid)))
    adjust = _changes(
        job, f"BG_{A}_202611.csv", *(f"基数调整,{p['个人账号']},{p['姓名'].strip()},,,10000.00,," for p in people)
    )
    job.upload(A, adjust)
    assert job.run("run-once").exit_code == 0
    assert job.result(A, adjust.name)["posted_rows"] == len(people)

    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv", mtime=1_790_000_100)  # last year's bases
    assert job.run("run-once").exit_code == 0
    old = job.result(A, f"{A}_202611.csv")
    assert {e["code"] for e in old["errors"]} == {"F_ROW_ERRORS", "R_BASE_MISMATCH"}  # type: ignore[index]

    new = job.home / f"{A}_202611_new.csv"
    header = "个人账号,姓名,证件号码,缴存基数,单位缴存比例,个人缴存比例,单位月缴存额,个人月缴存额,月缴存额合计\n"
    new.write_text(header + "".join(f"{p['个人账号']},{p['姓名'].strip()},{p['证件号码']},10000.00,12%,12%,1200,1200,2400\n"
                                    for p in people), "utf-8")  # fmt: skip
    job.upload(A, new, mtime=1_790_000_200)
    assert job.run("run-once").exit_code == 0
    assert job.result(A, new.name)["status"] == "POSTED", job.result(A, new.name)["errors"]
    _verified(job)


def test_verify_finds_a_member_that_is_not_the_replay_of_its_events(job: Job) -> None:
    job.upload(D, CYCLE / D / f"BG_{D}_202611.csv")
    assert job.run("run-once").exit_code == 0
    _verified(job)
    engine = make_engine(job.db_url)
    with engine.begin() as conn:  # a hand edit unseals her behind the events' back
        conn.execute(update(tables.members).where(tables.members.c.member_account == HE_XUE).values(status="normal"))
    engine.dispose()
    result = job.run("verify")
    assert result.exit_code == 1
    assert "变更记录的结果" in result.output and HE_XUE in result.output, result.output


def test_master_import_never_contradicts_the_events(job: Job) -> None:
    """Re-importing last month's members.csv would unseal her: refused, and nothing is written."""
    job.upload(D, CYCLE / D / f"BG_{D}_202611.csv")
    assert job.run("run-once").exit_code == 0
    result = job.run("accounts", "import", "--members", str(SAMPLES / "master" / "members.csv"))
    assert result.exit_code == 1, result.output
    assert HE_XUE in result.output and "变更清册" in result.output, result.output
    assert _member(job, HE_XUE)["status"] == "sealed"
    _verified(job)


def test_every_change_code_and_the_reused_row_codes_at_once(job: Job) -> None:
    """One change list with a defect on each row: every problem is reported, with its row and column."""
    he_xue_id = str(_member(job, HE_XUE)["id_number"])
    bad = _changes(
        job, f"BG_{A}_202611.csv",
        "入职,100123000001,王建国,,,9000.00,,",                 # 2 C_TYPE
        "封存,100123000007,赵敏,,,,1,",                        # 3 C_STATE: already sealed
        f"开户,,何雪,01,{he_xue_id},6000.00,,",               # 4 C_ACTIVE_ELSEWHERE
        "封存,100123000006,杨丽,,,,5,",                        # 5 C_REASON
        "基数调整,100123000002,李晓燕,,,9000.00,,202610",        # 6 C_MONTH: already paid
        "基数调整,,张伟,,,9000.00,,",                          # 7 R_REQUIRED: no account
        "基数调整,12345X,张伟,,,9000.00,,",                     # 8 R_ACCOUNT_FORMAT
        "基数调整,100123999999,无名,,,9000.00,,",                # 9 R_ACCOUNT_UNKNOWN
        f"基数调整,{HE_XUE},何雪,,,9000.00,,",                  # 10 R_ACCOUNT_OTHER_EMPLOYER
        "基数调整,100123000008,黄磊,,,9000.00,,",               # 11 R_ACCOUNT_CLOSED
        "基数调整,100123000004,刘芳芳,,,9000.00,,",              # 12 R_NAME_MISMATCH
        "开户,,新人,07,510107199805211421,7000.00,,",          # 13 R_ID_TYPE
        "开户,,新人二,01,510107199805211422,7000.00,,",         # 14 R_ID_INVALID (check character)
        "基数调整,100123000005,陈志强,,,九千,,",                 # 15 R_NUMBER
        "基数调整,100123000003,张伟,,,99999.00,,",              # 16 R_BASE_RANGE: above the cap
    )  # fmt: skip
    job.upload(A, bad)
    assert job.run("run-once").exit_code == 0
    result = job.result(A, bad.name)
    assert result["status"] == "REJECTED" and result["posted_rows"] == 0
    found = {(e["code"], e["row_no"]) for e in result["errors"]}  # type: ignore[union-attr]
    assert found == {
        ("F_ROW_ERRORS", None), ("C_TYPE", 2), ("C_STATE", 3), ("C_ACTIVE_ELSEWHERE", 4), ("C_REASON", 5),
        ("C_MONTH", 6), ("R_REQUIRED", 7), ("R_ACCOUNT_FORMAT", 8), ("R_ACCOUNT_UNKNOWN", 9),
        ("R_ACCOUNT_OTHER_EMPLOYER", 10), ("R_ACCOUNT_CLOSED", 11), ("R_NAME_MISMATCH", 12), ("R_ID_TYPE", 13),
        ("R_ID_INVALID", 14), ("R_NUMBER", 15), ("R_BASE_RANGE", 16),
    }  # fmt: skip
    assert all(line["status"] == "REJECTED" for line in _lines(job, A, bad.name))
    xlsx = job.env.root / A / "outbox" / f"BG_{A}_202611.result.xlsx"
    assert xlsx.read_bytes()[:2] == b"PK"


def test_a_change_list_for_a_paid_month_and_a_blank_account_that_identifies_nobody(job: Job) -> None:
    late = _changes(job, f"BG_{A}_202610.csv", "基数调整,100123000001,王建国,,,9000.00,,")
    job.upload(A, late)
    nobody = job.home / f"{A}_202611.csv"
    rows = (CYCLE / A / f"{A}_202611.csv").read_text("utf-8")  # 孙悦's row has no account, and she was never opened
    nobody.write_text(rows, "utf-8")
    job.upload(A, nobody, mtime=1_790_000_100)
    assert job.run("run-once").exit_code == 0
    refused = job.result(A, late.name)
    assert refused["status"] == "REJECTED"
    assert "202611" in next(e["message"] for e in refused["errors"] if e["code"] == "F_MONTH_NOT_DUE")  # type: ignore[union-attr]
    unmatched = job.result(A, nobody.name)
    assert ("R_REQUIRED", 8, "member_account") in {(e["code"], e["row_no"], e["column"]) for e in unmatched["errors"]}  # type: ignore[union-attr]


def test_the_reconciliation_counts_remittance_lists_not_change_lists(job: Job) -> None:
    job.upload(D, CYCLE / D / f"BG_{D}_202611.csv")
    job.upload(D, CYCLE / D / f"{D}_202611.csv", mtime=1_790_000_100)
    assert job.run("run-once").exit_code == 0
    result = job.run("report", "reconcile", "--month", "202611", "--json", "--out", str(job.home / "out"))
    assert result.exit_code == 0, result.output
    (csv_path,) = [f for f in json.loads(result.output)["files"] if f.endswith(".csv")]
    lines = list(csv.DictReader(io.StringIO(Path(csv_path).read_text("utf-8-sig"))))
    (line,) = [x for x in lines if x["unit_account"] == D]
    assert (line["files"], line["rows_received"], line["rows_posted"]) == ("1", "3", "3"), line
