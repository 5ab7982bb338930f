"""Shared fixtures: databases on SQLite and on a real PostgreSQL, the sample master data."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import hypothesis  # noqa: F401 - imported early: CPython 3.11.7's parser fails when pytest rewrites it lazily, deep in the stack
import pytest
from sqlalchemy import create_engine, text

from db.engine import make_engine, upgrade
from db.store import Store
from sftp.server import EmbeddedSftpServer
from tests.support.environments import Job, SftpEnv
from tests.support.servers import postgres_server, sshd_server

_db_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hpf.db'}"
    admin = request.getfixturevalue("postgres_admin")
    name = f"hpf_test_{next(_db_names)}"
    engine = create_engine(f"{admin}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{admin}/{name}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated, empty database."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "hpf.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n', "utf-8")
    return path


@pytest.fixture(params=["openssh", "embedded"])
def sftp_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SftpEnv]:
    """The same tests against a real OpenSSH sshd and against the embedded server."""
    # Not under tmp_path: pytest's folders are 0700, and sshd's user must reach this one.
    root = Path(tempfile.mkdtemp(prefix="hpf-sftp-")) / "root"
    root.mkdir()
    root.parent.chmod(0o755)
    try:
        if request.param == "openssh":
            with sshd_server(root) as server:
                yield SftpEnv("openssh", root, server, str(root))
        else:
            with EmbeddedSftpServer(root, tmp_path / "keys") as embedded:
                yield SftpEnv("embedded", root, embedded, "/")
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


@pytest.fixture
def job(sftp_env: SftpEnv, db_url: str, tmp_path: Path) -> Job:
    return Job(sftp_env, db_url, tmp_path)
