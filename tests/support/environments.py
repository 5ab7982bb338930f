"""The environments tests run the job in: an SFTP server over a folder, a config, the sample master data."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import select

from db import ledger, tables
from db.engine import make_engine
from jobs.cli import hpf
from sftp.client import SftpClient
from sftp.settings import SftpSettings
from tests.support.samples import SAMPLES, TODAY


def prepare_database(env: dict[str, str]) -> None:
    """`hpf db upgrade` and the sample master data, through the CLI as an operator would."""
    runner = CliRunner()
    assert runner.invoke(hpf, ["db", "upgrade"], env=env).exit_code == 0
    master = SAMPLES / "master"
    args = [
        "accounts",
        "import",
        "--employers",
        str(master / "employers.csv"),
        "--members",
        str(master / "members.csv"),
    ]
    imported = runner.invoke(hpf, args, env=env)
    assert imported.exit_code == 0, imported.output


class SftpEnv:
    """A running SFTP server over a local folder, and how to reach it."""

    def __init__(self, kind: str, root: Path, server: Any, remote_root: str) -> None:
        self.kind, self.root, self.server, self.remote_root = kind, root, server, remote_root

    def settings(self, **changes: Any) -> SftpSettings:
        base = SftpSettings(
            host="127.0.0.1",
            port=self.server.port,
            username=self.server.username,
            private_key=self.server.private_key,
            known_hosts=self.server.known_hosts,
            root=self.remote_root,
            ready="marker",
            settle_seconds=30,
            connect_timeout=5.0,
        )
        return dataclasses.replace(base, **changes)

    def client(self, *, attempts: int = 3, backoff: float = 0.05, **changes: Any) -> SftpClient:
        return SftpClient(self.settings(**changes), attempts=attempts, backoff=backoff)

    def put(self, unit: str, name: str, data: bytes, marker: bytes | None = b"") -> Path:
        """An employer's upload: the file, then (by default) its marker."""
        inbox = self.root / unit / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / name).write_bytes(data)
        if marker is not None:
            (inbox / f"{name}.done").write_bytes(marker)
        self.own()
        return inbox / name

    def own(self) -> None:
        """Files made by the test belong to the SFTP user, as uploads would."""
        if self.kind == "openssh":
            self.server.give_root_to_user()

    def restart(self) -> None:
        self.server.kill()
        self.server.start()


COLLECTION_ACCOUNT = "51050188360000000001"


class Job:
    """hpf.toml for one SFTP server and one database, with the sample master data imported."""

    def __init__(self, env: SftpEnv, db_url: str, home: Path, *, funds: str = "immediate") -> None:
        """`funds`: "immediate" posts a valid list at once (the first milestone's tests), "arrival" waits for money."""
        self.env, self.db_url, self.home = env, db_url, home
        s = env.settings()
        (home / "hpf.toml").write_text(
            f"""[database]
url = "{db_url}"

[sftp]
host = "127.0.0.1"
port = {s.port}
username = "{s.username}"
private_key = "{s.private_key}"
known_hosts = "{s.known_hosts}"
root = "{s.root}"
connect_timeout = 5

[funds]
mode = "{funds}"
accounts = ["{COLLECTION_ACCOUNT}"]
""",
            "utf-8",
        )
        self.environ = {"HPF_CONFIG": str(home / "hpf.toml"), "HPF_TODAY": TODAY}
        prepare_database(self.environ)
        if funds == "arrival":  # the bank's folder, as the platform's SFTP account has it
            for folder in ("inbox", "outbox", "archive"):
                (env.root / "_bank" / folder).mkdir(parents=True, exist_ok=True)
            env.own()

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(hpf, list(args), env=self.environ, catch_exceptions=False)

    def upload(self, unit: str, source: Path, name: str | None = None, mtime: int = 1_790_000_000) -> None:
        """An employer's upload: the file with its marker, in upload order (mtime)."""
        name = name or source.name
        data = source.read_bytes()
        marker = source.with_name(source.name + ".done")
        path = self.env.put(
            unit, name, data, marker=marker.read_bytes() if marker.exists() and name == source.name else b""
        )
        os.utime(path, (mtime, mtime))

    def result(self, unit: str, name: str) -> dict[str, object]:
        stem = name.rsplit(".", 1)[0]
        return json.loads((self.env.root / unit / "outbox" / f"{stem}.result.json").read_text("utf-8"))

    def balances(self) -> dict[str, int]:
        engine = make_engine(self.db_url)
        with engine.connect() as conn:
            found = {r.member_account: r.balance_fen for r in conn.execute(select(tables.members))}
            assert ledger.verify(conn) == []
        engine.dispose()
        return found
