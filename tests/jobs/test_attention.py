"""Operators see what failed and why: one line per failure, exhausted retries, inbox problems, `--attention`."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.environments import Job, SftpEnv
from tests.support.samples import SAMPLES, A, B, D

VALID_A = SAMPLES / "valid" / f"{A}_202611.csv"


def _json(job: Job, *args: str) -> object:
    result = job.run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_inbox_problems_are_reported_and_block_nothing_else(sftp_env: SftpEnv, job: Job) -> None:
    """A folder named like a file, a symlink, a marker named X.done, a unit folder without inbox/."""
    inbox = job.env.root / A / "inbox"
    job.upload(A, VALID_A)  # the employer's good file goes through whatever else lies beside it
    (inbox / f"{A}_202610.csv").mkdir()
    (inbox / f"{A}_202610.csv.done").write_bytes(b"")
    os.symlink(VALID_A, inbox / f"{A}_202609.csv")
    (inbox / f"{A}_202609.csv.done").write_bytes(b"")
    (inbox / f"{A}_202608.csv").write_bytes(VALID_A.read_bytes())
    (inbox / f"{A}_202608.done").write_bytes(b"")  # the marker named for the stem
    (job.env.root / "0101000999").mkdir()  # an employer folder with no inbox
    job.env.own()

    cycle = job.run("run-once")
    assert cycle.exit_code == 0, cycle.output
    assert "收件目录问题4个" in cycle.output
    assert job.result(A, f"{A}_202611.csv")["status"] == "POSTED"

    seen = _json(job, "batches", "list", "--attention")
    assert isinstance(seen, dict)
    problems = {(p["unit_account"], p["name"]): p["message"] for p in seen["inbox_problems"]}
    assert set(problems) == {
        (A, f"{A}_202610.csv"), (A, f"{A}_202609.csv"), (A, f"{A}_202608.csv"), ("0101000999", "inbox/"),
    }  # fmt: skip
    assert "目录" in problems[(A, f"{A}_202610.csv")]
    assert "符号链接" in problems[(A, f"{A}_202609.csv")]
    assert f"{A}_202608.csv.done" in problems[(A, f"{A}_202608.csv")]
    outbox = job.env.root / A / "outbox"
    notice = (outbox / f"{A}_202608.csv.problem.txt").read_text("utf-8-sig")
    assert f"{A}_202608.csv.done" in notice  # the employer is told what to do

    # Told once: the next cycle does not upload the notice again; fixed, the problem disappears.
    (outbox / f"{A}_202608.csv.problem.txt").unlink()
    (inbox / f"{A}_202608.done").rename(inbox / f"{A}_202608.csv.done")
    job.env.own()
    again = job.run("run-once")
    assert "收件目录问题3个" in again.output
    assert not (outbox / f"{A}_202608.csv.problem.txt").exists()
    seen = _json(job, "batches", "list", "--attention")
    assert (A, f"{A}_202608.csv") not in {(p["unit_account"], p["name"]) for p in seen["inbox_problems"]}  # type: ignore[index]
    shown = job.run("batches", "list", "--attention")
    assert "收件目录问题" in shown.output and "0101000999" in shown.output


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_failure_is_one_line_with_unit_file_step_and_reason_and_exhausted_retries_say_so(
    sftp_env: SftpEnv, job: Job, caplog: pytest.LogCaptureFixture
) -> None:
    config = job.home / "hpf.toml"
    config.write_text(config.read_text("utf-8") + "\n[schedule]\nmax_attempts = 1\n", "utf-8")
    blocker = job.env.root / A / "archive"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"a file where the archive folder should be")
    job.upload(A, VALID_A)
    job.upload(B, SAMPLES / "valid" / f"{B}_202611.csv")
    cycle = job.run("run-once")
    assert cycle.exit_code == 0 and "hpf batches list --attention" in cycle.output
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("失败：")]
    assert f"单位{A}" in line and f"文件{A}_202611.csv" in line and "归档源文件" in line

    failed = _json(job, "batches", "list", "--status", "FAILED")
    assert [(b["unit_account"], b["status"]) for b in failed] == [(A, "POSTED")]  # type: ignore[union-attr]
    listed = _json(job, "batches", "list", "--attention")
    (batch,) = listed["batches"]  # type: ignore[index]
    assert batch["attention"] == "已入账，但归档源文件（published）失败"

    from db.engine import make_engine
    from db.store import Store
    from jobs import pipeline
    from jobs.scheduler import retry_due
    from jobs.settings import load_settings
    from sftp.client import SftpClient

    settings = load_settings(config, environ=job.environ)
    store = Store(make_engine(settings.database.url))
    with SftpClient(settings.require_sftp()) as client:
        summary = pipeline.run_cycle(
            settings.validation(), settings.pipeline(), store, client, retry_due=retry_due(settings)
        )
    assert summary.exhausted == 1 and summary.waiting == 0 and "重试次数已用完1个" in summary.line()
    store.engine.dispose()


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_batches_list_by_unit_month_and_limit_fits_80_columns(sftp_env: SftpEnv, job: Job) -> None:
    job.upload(A, VALID_A)
    job.upload(B, SAMPLES / "valid" / f"{B}_202611.csv")
    job.upload(D, SAMPLES / "valid" / f"{D}_202611.xlsx")
    assert job.run("run-once").exit_code == 0
    assert {b["unit_account"] for b in _json(job, "batches", "list", "--unit", B)} == {B}  # type: ignore[union-attr]
    assert _json(job, "batches", "list", "--month", "202610") == []
    assert len(_json(job, "batches", "list", "--limit", "2")) == 2  # type: ignore[arg-type]
    narrow = job.run("batches", "list")
    assert all(_cells(line) <= 80 for line in narrow.output.splitlines()), narrow.output
    assert len([line for line in narrow.output.splitlines() if "POSTED" in line]) == 3  # one line per batch
    wide = job.run("batches", "list", "--wide")
    assert f"{A}_202611.csv" in wide.output
    bad = job.run("batches", "list", "--month", "2026-11")
    assert bad.exit_code == 2 and "YYYYMM" in bad.output


def _cells(line: str) -> int:
    """Terminal cells: a CJK character takes two."""
    from rich.cells import cell_len

    return cell_len(line)


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_wrong_sftp_root_names_the_path(sftp_env: SftpEnv, job: Job) -> None:
    config = job.home / "hpf.toml"
    text = config.read_text("utf-8")
    config.write_text(text.replace(f'root = "{job.env.remote_root}"', 'root = "/no/such/root"'), "utf-8")
    result = job.run("run-once")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "/no/such/root" in result.output and "sftp.root" in result.output
