"""Real servers for integration tests: a PostgreSQL cluster in a temp folder.

When a server cannot be started the test is skipped, unless
HPF_REQUIRE_SERVERS=1 (set by .ci/run), which turns the skip into a failure:
CI must never pass by skipping the integration tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def require_servers() -> bool:
    return os.environ.get("HPF_REQUIRE_SERVERS", "") not in ("", "0")


def unavailable(what: str) -> None:
    """Skip, or fail in CI, because `what` is missing."""
    if require_servers():
        pytest.fail(f"{what} (HPF_REQUIRE_SERVERS is set, so this fails instead of skipping)")
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return candidates[0].parent if candidates else None


def _as_postgres(cmd: list[str]) -> list[str]:
    """Root may not run PostgreSQL: run it as the `postgres` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throw-away cluster on a free loopback port; yield its admin URL (no database part)."""
    bindir = _pg_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    home = Path(tempfile.mkdtemp(prefix="hpf-pg-"))
    data, port = home / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    run = lambda *cmd: subprocess.run(_as_postgres(list(cmd)), check=True, capture_output=True, env=env, cwd=home)  # noqa: E731
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {home} -c fsync=off -c full_page_writes=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-o", options, "-w", "start")
    except subprocess.CalledProcessError as e:
        log = (home / "log").read_text() if (home / "log").exists() else ""
        shutil.rmtree(home, ignore_errors=True)
        unavailable(f"PostgreSQL did not start: {e.stderr.decode(errors='replace')}{log}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            env=env,
            cwd=home,
        )
        shutil.rmtree(home, ignore_errors=True)
