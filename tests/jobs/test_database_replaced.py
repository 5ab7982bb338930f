"""A SQLite file deleted or replaced during a cycle: nothing is published on its word, and the cycle stops."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from db.engine import make_engine, upgrade
from db.errors import DatabaseReplaced
from db.store import Store
from jobs import pipeline
from jobs.settings import load_settings
from sftp.client import ReadyFile, SftpClient
from tests.support.environments import Job, SftpEnv
from tests.support.samples import SAMPLES, A, B


def _replace_with_another(path: Path) -> None:
    other = path.with_name("other.db")
    upgrade(make_engine(f"sqlite:///{other}"))
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.move(other, path)


def _delete(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("change", [_delete, _replace_with_another], ids=["deleted", "replaced"])
def test_a_database_gone_mid_cycle_publishes_and_archives_nothing(sftp_env: SftpEnv, job: Job, change) -> None:  # type: ignore[no-untyped-def]
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv")
    job.upload(B, SAMPLES / "valid" / f"{B}_202611.csv")
    settings = load_settings(job.home / "hpf.toml", environ=job.environ)
    store = Store(make_engine(settings.database.url))
    path = Path(store.engine.url.database or "")
    seen: list[str] = []

    def on_file(ready: ReadyFile) -> None:
        if not seen:
            change(path)
        seen.append(ready.name)

    with SftpClient(settings.require_sftp()) as client, pytest.raises(DatabaseReplaced) as stopped:
        pipeline.run_cycle(settings.validation(), settings.pipeline(), store, client, on_file=on_file)
    assert "本轮停止" in str(stopped.value)
    assert len(seen) == 1  # the cycle stopped at the first file
    for unit in (A, B):
        assert not (job.env.root / unit / "outbox").exists() or not list((job.env.root / unit / "outbox").iterdir())
        assert len(list((job.env.root / unit / "inbox").iterdir())) == 2  # the file and its marker, untouched

    # Through the command line it is one clear line and exit 1, not a report of files posted.
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv", mtime=1_790_000_500)
    if change is _delete:
        result = job.run("run-once")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "hpf db upgrade" in result.output or "不存在" in result.output
