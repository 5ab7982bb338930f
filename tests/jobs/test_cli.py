"""The `hpf` command as operators use it: exit codes, messages, all-or-nothing import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jobs.cli import hpf
from tests.support.master import EMPLOYERS, MEMBERS

HEADER = "个人账号,姓名,证件类型,证件号码,缴存基数,单位缴存比例,个人缴存比例,单位月缴存额,个人月缴存额,月缴存额合计\n"
GOOD = HEADER + "100001,张三,01,11010519491231002X,5000.00,12%,12%,600,600,1200\n"
BAD = HEADER + "100001,张三,01,11010519491231002X,5000.00,12%,12%,600,600,1300\n"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "hpf.toml").write_text('[database]\nurl = "sqlite:///hpf.db"\n', "utf-8")
    (tmp_path / "employers.csv").write_text(EMPLOYERS, "utf-8")
    (tmp_path / "members.csv").write_text(MEMBERS, "utf-8")
    return tmp_path


def hpf_run(home: Path, *args: str) -> Result:
    env = {"HPF_CONFIG": str(home / "hpf.toml"), "HPF_TODAY": "2026-11-22"}
    return CliRunner().invoke(hpf, list(args), env=env, catch_exceptions=False)


def imported(home: Path) -> Path:
    assert hpf_run(home, "db", "upgrade").exit_code == 0
    result = hpf_run(
        home, "accounts", "import", "--employers", str(home / "employers.csv"), "--members", str(home / "members.csv")
    )
    assert result.exit_code == 0, result.output
    assert "单位 新增2" in result.output and "职工 新增3" in result.output
    return home


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(hpf, ["--help"])
    assert result.exit_code == 0
    for command in ("accounts", "db", "demo", "users", "validate"):
        assert command in result.output


def test_usage_error_is_exit_2(home: Path) -> None:
    assert hpf_run(home, "validate").exit_code == 2
    assert hpf_run(home, "accounts", "import").exit_code == 2


def test_configuration_problems_are_all_reported(home: Path) -> None:
    (home / "hpf.toml").write_text('[limits]\nmax_rows = "many"\n[sftp]\nhots = "x"\n', "utf-8")
    result = hpf_run(home, "validate", str(home / "employers.csv"))
    assert result.exit_code == 1
    assert "limits.max_rows" in result.output and "sftp.hots" in result.output


def test_validate_before_upgrade_says_what_to_do(home: Path) -> None:
    (home / "0101000123_202611.csv").write_text(GOOD, "utf-8")
    result = hpf_run(home, "validate", str(home / "0101000123_202611.csv"))
    assert result.exit_code == 1
    assert "hpf db upgrade" in result.output


def test_import_with_bad_lines_imports_nothing(home: Path) -> None:
    assert hpf_run(home, "db", "upgrade").exit_code == 0
    bad_employers = EMPLOYERS.replace("91350100M000100Y43,01", "91350100M000100Y44,07", 1)
    bad_members = MEMBERS.replace("11010519491231002x", "11010519491231002Y").replace("2200,normal", "22.001,normal")
    (home / "employers.csv").write_text(bad_employers, "utf-8")
    (home / "members.csv").write_text(bad_members, "utf-8")
    result = hpf_run(
        home, "accounts", "import", "--employers", str(home / "employers.csv"), "--members", str(home / "members.csv")
    )
    assert result.exit_code == 1
    out = result.output
    assert "employers.csv 第2行 credit_code" in out and "employers.csv 第2行 status" in out
    assert "members.csv 第2行 id_number" in out and "members.csv 第4行 base" in out
    assert "未导入任何数据" in out
    # Nothing was stored: the good employer is unknown to validation.
    (home / "0101000456_202611.csv").write_text(GOOD, "utf-8")
    report = json.loads(hpf_run(home, "validate", "--json", str(home / "0101000456_202611.csv")).output)
    assert "F_EMPLOYER_UNKNOWN" in {e["code"] for e in report["errors"]}


def test_reimport_reports_updates(home: Path) -> None:
    imported(home)
    result = hpf_run(home, "accounts", "import", "--members", str(home / "members.csv"))
    assert result.exit_code == 0 and "职工 新增0、更新3" in result.output


def test_validate_valid_file(home: Path) -> None:
    imported(home)
    path = home / "0101000123_202611.csv"
    path.write_text(GOOD, "utf-8")
    result = hpf_run(home, "validate", str(path))
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output
    doc = json.loads(hpf_run(home, "validate", "--json", str(path)).output)
    assert doc["status"] == "VALID" and doc["batch_id"] is None and doc["errors"] == []
    assert (doc["rows"], doc["total_fen"], doc["rejected_rows"], doc["month"]) == (1, 120000, 0, "202611")
    assert set(doc) == {
        "file",
        "sha256",
        "unit_account",
        "month",
        "batch_id",
        "status",
        "rows",
        "posted_rows",
        "rejected_rows",
        "total_fen",
        "posted_fen",
        "errors",
    }


def test_validate_rejected_file(home: Path) -> None:
    imported(home)
    path = home / "0101000123_202611.csv"
    path.write_text(BAD, "utf-8")
    result = hpf_run(home, "validate", str(path))
    assert result.exit_code == 1
    assert "R_TOTAL" in result.output and "REJECTED" in result.output
    doc = json.loads(hpf_run(home, "validate", "--json", str(path)).output)
    assert doc["status"] == "REJECTED"
    assert [(e["code"], e["row_no"], e["column"]) for e in doc["errors"]] == [
        ("F_ROW_ERRORS", None, None),
        ("R_TOTAL", 2, "total_amount"),
    ]


def test_validate_checks_unit_and_marker(home: Path) -> None:
    imported(home)
    path = home / "0101000123_202611.csv"
    path.write_text(GOOD, "utf-8")
    marker = home / "0101000123_202611.csv.done"
    marker.write_text("rows=2\ntotal=1200.00\n", "utf-8")
    doc = json.loads(
        hpf_run(home, "validate", "--json", "--unit", "0101000456", "--marker", str(marker), str(path)).output
    )
    assert [e["code"] for e in doc["errors"]] == ["F_UNIT_MISMATCH", "F_MANIFEST"]


def test_click_own_messages_are_chinese() -> None:
    from click.testing import CliRunner

    from jobs.cli import hpf

    missing = CliRunner().invoke(hpf, ["batches", "reverse", "1"])
    assert missing.exit_code == 2 and "缺少选项" in missing.output and "Missing" not in missing.output
    unknown = CliRunner().invoke(hpf, ["batches", "list", "--nope"])
    assert unknown.exit_code == 2 and "没有选项" in unknown.output and "用法" in unknown.output
