"""The security guarantees, each with a test that fails without it (SECURITY.md lists them).

ID numbers masked in log lines and stored errors; no password or passphrase in
any message; host key checking that no setting can turn off; results only in
the inbox's own outbox; the SQLite database never world-readable; master data
that looks like SQL stored as data.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from batch.masking import mask_ids_in
from db import tables
from db.engine import make_engine, upgrade
from jobs import logs
from jobs.settings import ConfigError, load_settings
from sftp.client import SftpClient
from sftp.errors import AuthError, HostKeyError
from tests.support.environments import Job, SftpEnv
from tests.support.processes import HPF
from tests.support.samples import SAMPLES, A, B

ID = "510107197803152713"  # the first member of samples/master/members.csv


# ------------------------------------------------------------------ logs


def test_a_log_line_and_its_traceback_never_carry_a_whole_id_number() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.MaskingFormatter(logs.FORMAT))
    logger = logging.getLogger("hpf-test-masking")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"duplicate key (id_number)=({ID}), 51010719780315271X")
        except ValueError:
            logger.exception("批次%s内部错误 %s", 7, ID)
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "Traceback" in text and "批次7内部错误" in text
    assert ID not in text and "51010719780315271X" not in text
    assert text.count("510107********2713") == 2 and "510107********271X" in text


def test_mask_ids_in_leaves_accounts_amounts_and_longer_numbers_alone() -> None:
    line = "个人账号100123000001 金额1234567.89 20位12345678901234567890 身份证510107780315271"
    assert mask_ids_in(line) == "个人账号100123000001 金额1234567.89 20位12345678901234567890 身份证510107*****5271"


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_internal_error_is_logged_and_stored_masked(
    job: Job, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug whose message quotes an ID number: the log line and the batch's last_error are masked."""

    def broken(*args: object, **kwargs: object) -> list[dict[str, bytes]]:
        raise RuntimeError(f"cannot format row for {ID}")

    monkeypatch.setattr("jobs.decisions.result_files_many", broken)
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.MaskingFormatter(logs.FORMAT))
    logging.getLogger("jobs").addHandler(handler)  # the pipeline and its steps
    try:
        assert job.run("run-once").exit_code == 0
    finally:
        logging.getLogger("jobs").removeHandler(handler)
    text = stream.getvalue()
    assert "内部错误" in text and "RuntimeError" in text and ID not in text
    engine = make_engine(job.db_url)
    with engine.connect() as conn:
        (error,) = conn.execute(select(tables.batches.c.last_error)).scalars()
    engine.dispose()
    assert "RuntimeError" in error and "510107********2713" in error and ID not in error


# --------------------------------------------------------------- secrets


def test_a_database_password_is_never_printed(tmp_path: Path) -> None:
    config = tmp_path / "hpf.toml"
    config.write_text('[database]\nurl = "postgresql+psycopg://hpf:S3cret-pw@127.0.0.1:9/hpf"\n', "utf-8")
    env = {**os.environ, "HPF_CONFIG": str(config)}
    for args in (["batches", "list"], ["verify"], ["db", "upgrade"]):
        done = subprocess.run([HPF, *args], env=env, capture_output=True, timeout=60)
        assert done.returncode != 0
        output = (done.stdout + done.stderr).decode()
        assert "数据库" in output or "database" in output.lower()
        assert "S3cret-pw" not in output, output


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_a_wrong_key_passphrase_is_not_echoed(sftp_env: SftpEnv, tmp_path: Path) -> None:
    key = tmp_path / "id_locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "right-horse", "-f", str(key)], check=True)
    settings = sftp_env.settings(private_key=key, passphrase_env="HPF_KEY_PASS")
    with pytest.raises(AuthError) as caught:
        SftpClient(settings, environ={"HPF_KEY_PASS": "wrong-battery-staple"}).sftp  # noqa: B018
    assert "wrong-battery-staple" not in str(caught.value) and "right-horse" not in str(caught.value)
    # The right passphrase opens the key (a str passphrase once made every encrypted key fail).
    with (sftp_env.server.home / "authorized_keys").open("a") as keys:
        keys.write(key.with_suffix(".pub").read_text())
    with SftpClient(settings, environ={"HPF_KEY_PASS": "right-horse"}) as client:
        assert client.units() == []


# -------------------------------------------------------------- host keys


@pytest.mark.parametrize(
    "setting",
    ["strict_host_key_checking = false", 'host_key_policy = "auto-add"', "verify_host_key = false", 'known_hosts = ""'],
)
def test_no_setting_turns_host_key_checking_off(tmp_path: Path, setting: str) -> None:
    base = {"host": '"h"', "private_key": '"id"', "known_hosts": '"kh"'}
    key = setting.split(" = ")[0]
    base[key] = setting.split(" = ")[1]
    text = "[sftp]\n" + "".join(f"{k} = {v}\n" for k, v in base.items())
    (tmp_path / "hpf.toml").write_text(text, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "hpf.toml", environ={})
    assert any(key in p for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("sftp_env", ["openssh"], indirect=True)
def test_an_unknown_host_key_is_refused_and_never_learnt(sftp_env: SftpEnv, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("", "utf-8")
    with pytest.raises(HostKeyError):
        SftpClient(sftp_env.settings(known_hosts=empty)).sftp  # noqa: B018
    assert empty.read_text("utf-8") == ""  # nothing was added to the file


# ---------------------------------------------------------------- outbox


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_results_land_only_in_the_outbox_of_the_inbox_the_file_came_from(job: Job) -> None:
    """A file in A's inbox named for employer B: A is told of the mismatch; B's folders are never touched."""
    job.upload(A, SAMPLES / "valid" / f"{B}_202611.csv")
    assert job.run("run-once").exit_code == 0
    result = job.result(A, f"{B}_202611.csv")
    assert result["status"] == "REJECTED"
    assert "F_UNIT_MISMATCH" in {e["code"] for e in result["errors"]}  # type: ignore[union-attr]
    assert not (job.env.root / B).exists()


# -------------------------------------------------------------- database


def test_the_sqlite_database_is_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "hpf.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.execute(select(tables.members)).all()
        files = [path, path.with_name("hpf.db-wal"), path.with_name("hpf.db-shm")]
        for f in files:
            assert f.exists() and stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, (f, oct(f.stat().st_mode))
    engine.dispose()


def test_a_world_readable_database_is_closed_to_others(tmp_path: Path) -> None:
    path = tmp_path / "hpf.db"
    path.touch()
    path.chmod(0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_master_data_that_looks_like_sql_is_stored_as_data(store: object, tmp_path: Path) -> None:
    import polars as pl

    from batch.master_files import parse_employers, parse_members

    employers = (SAMPLES / "master" / "employers.csv").read_bytes()
    members = (SAMPLES / "master" / "members.csv").read_text("utf-8").splitlines()
    name = "王'); DROP TABLE members; --"
    members[1] = members[1].replace("王建国", f'"{name}"')
    e = parse_employers(employers, "employers.csv")
    data = ("\n".join(members) + "\n").encode()
    m = parse_members(data, "members.csv", set(e["unit_account"].to_list()), date(2026, 11, 22))
    assert isinstance(e, pl.DataFrame) and isinstance(m, pl.DataFrame), m
    store.import_master(e, m)  # type: ignore[attr-defined]
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        names = set(conn.execute(select(tables.members.c.name)).scalars())
    assert name in names
