"""Ordinary mistakes get one clear Chinese line, exit 1, no traceback, nothing half-written (issue: deployment defects)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from jobs.cli import hpf
from tests.support.environments import Job, SftpEnv
from tests.support.samples import SAMPLES, A


def _one_clear_line(output: str) -> str:
    assert "Traceback" not in output
    assert output.count("错误：") == 1, output
    return output


def _encrypted_copy(job: Job, passphrase: bytes) -> Path:
    key = serialization.load_ssh_private_key(job.env.server.private_key.read_bytes(), None)
    path = job.home / "id_encrypted"
    path.write_bytes(
        key.private_bytes(  # type: ignore[union-attr]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(passphrase),
        )
    )
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_encrypted_key_without_or_with_a_wrong_passphrase(sftp_env: SftpEnv, job: Job) -> None:
    key = _encrypted_copy(job, b"correct horse")
    config = job.home / "hpf.toml"
    text = config.read_text("utf-8")
    text = text.replace(f'private_key = "{job.env.server.private_key}"', f'private_key = "{key}"')
    config.write_text(text.replace("[sftp]\n", '[sftp]\npassphrase_env = "HPF_KEY_PASSPHRASE"\n'), "utf-8")
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv")

    missing = job.run("run-once")
    assert missing.exit_code == 1
    assert "已加密" in _one_clear_line(missing.output) and "HPF_KEY_PASSPHRASE" in missing.output

    job.environ["HPF_KEY_PASSPHRASE"] = "wrong"
    wrong = job.run("run-once")
    assert wrong.exit_code == 1 and "口令不正确" in _one_clear_line(wrong.output)

    job.environ["HPF_KEY_PASSPHRASE"] = "correct horse"
    right = job.run("run-once")
    assert right.exit_code == 0, right.output
    assert job.result(A, f"{A}_202611.csv")["status"] == "POSTED"


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_two_workers_failing_say_error_once(sftp_env: SftpEnv, job: Job) -> None:
    job.env.server.kill()
    result = job.run("run-once", "--workers", "2")
    assert result.exit_code == 1
    _one_clear_line(result.output)


def test_unsupported_and_missing_databases(tmp_path: Path) -> None:
    runner = CliRunner()
    config = tmp_path / "hpf.toml"
    config.write_text('[database]\nurl = "mysql://u@localhost/hpf"\n', "utf-8")
    mysql = runner.invoke(hpf, ["--config", str(config), "db", "upgrade"])
    assert mysql.exit_code == 1 and "只支持" in mysql.output and "Traceback" not in mysql.output

    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/no/such/folder/hpf.db"\n', "utf-8")
    nowhere = runner.invoke(hpf, ["--config", str(config), "db", "upgrade"])
    assert nowhere.exit_code == 1 and "目录不存在" in _one_clear_line(nowhere.output)

    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/hpf.db"\n', "utf-8")
    created = runner.invoke(hpf, ["--config", str(config), "db", "upgrade"])
    assert created.exit_code == 0 and "已创建" in created.output
    again = runner.invoke(hpf, ["--config", str(config), "db", "upgrade"])
    assert again.exit_code == 0 and "已是最新" in again.output


def test_a_postgresql_database_that_does_not_exist(postgres_admin: str, tmp_path: Path) -> None:
    config = tmp_path / "hpf.toml"
    config.write_text(f'[database]\nurl = "{postgres_admin}/hpf_never_created"\n', "utf-8")
    result = CliRunner().invoke(hpf, ["--config", str(config), "db", "upgrade"])
    assert result.exit_code == 1
    assert "createdb hpf_never_created" in _one_clear_line(result.output)


def test_a_name_too_long_for_the_database_is_a_line_problem(job: Job) -> None:
    members = (SAMPLES / "master" / "members.csv").read_text("utf-8")
    long_name = "长" * 101
    path = job.home / "members.csv"
    path.write_text(members.replace("王建国", long_name).replace("510107197803152713", "X" * 41), "utf-8")
    result = job.run("accounts", "import", "--members", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "姓名应不超过100个字符，实际为101个" in result.output
    assert "证件号码应不超过40个字符" in result.output


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_report_and_export_into_a_folder_that_cannot_be(sftp_env: SftpEnv, job: Job) -> None:
    blocker = job.home / "blocker"
    blocker.write_text("a file, not a folder", "utf-8")
    report = job.run("report", "reconcile", "--month", "202611", "--out", str(blocker / "reports"))
    assert report.exit_code == 1 and str(blocker) in _one_clear_line(report.output)
    export = job.run("accounts", "export", "--out", str(job.home / "missing" / "accounts.csv"))
    assert export.exit_code == 1 and "所在目录不存在" in _one_clear_line(export.output)
    assert not list(job.home.rglob("*.part"))


def test_demo_kept_twice_in_one_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(hpf, ["demo", "--keep", str(tmp_path / "demo")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(hpf, ["demo", "--keep", str(tmp_path / "demo")])
    assert second.exit_code == 1 and "新目录" in _one_clear_line(second.output)
