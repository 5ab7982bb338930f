"""The console under test: a real uvicorn on loopback over a job's database, a month of data, users of each role.

The month (`seed`) is what the console's tests need a person for: A's list
posted from an exact bank payment but not archived (its archive folder is
blocked), so an operator reruns it; B's list waiting for money that the bank
sent without anything that names B (unidentified), so finance assigns it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from batch.reference import reference
from db.engine import make_engine
from db.store import Store
from jobs.cli import hpf
from jobs.settings import load_settings
from tests.support.environments import COLLECTION_ACCOUNT, Job
from tests.support.samples import SAMPLES, TODAY
from tests.support.servers import unavailable

A, B = "0101000123", "0101000456"
TOTAL_A, TOTAL_B = "16230.00", "1454.00"
PASSWORD = "correct-horse-battery"
USERS = {"ops": "operator", "fin": "finance", "look": "viewer"}

CHROMIUM = (Path("/usr/lib/chromium/chromium-headless-shell"), Path("/usr/lib/chromium/chromium"))
"""Debian's binaries (packages chromium-headless-shell and chromium): never a browser Playwright downloads."""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
"""Where the browser tests leave a picture of each page (README: 控制台)."""


def chromium() -> Path:
    for path in CHROMIUM:
        if path.exists():
            return path
    unavailable("Debian's chromium is not installed (apt-get install chromium chromium-headless-shell)")
    raise AssertionError  # unreachable: unavailable() skips or fails


def bank_line(
    serial: str, yuan: str, *, memo: str = "", payer: str = "6222000011112222", payer_name: str = "某某"
) -> str:
    fields = ["1", COLLECTION_ACCOUNT, serial, "0001", payer, payer_name, yuan, "20261122", "101500", "0", "5101", memo,
              "156", "1", "0", "0", "", "", "", "", "N", "1", "1"]  # fmt: skip
    return "|".join(fields) + "|"


@dataclass(frozen=True)
class Month:
    a_batch: int
    b_batch: int
    unidentified: int
    """The bank line id of B's money, which names nobody."""


def seed(job: Job) -> Month:
    """A's list posted but not archived, B's awaiting an unidentified credit; every console user made."""
    blocker = job.env.root / A / "archive"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"a file where the archive folder should be")
    job.upload(A, SAMPLES / "valid" / f"{A}_202611.csv", mtime=1_790_000_000)
    job.upload(B, SAMPLES / "valid" / f"{B}_202611.csv", mtime=1_790_000_060)
    lines = [
        bank_line("S1", TOTAL_A, memo=reference(A, 202611)),
        bank_line("S2", TOTAL_B, payer="9999", payer_name="?"),
    ]
    job.env.put(
        "_bank", f"DZTZ_{COLLECTION_ACCOUNT}_20261122_001.txt", "".join(f"{x}\r\n" for x in lines).encode("gb18030")
    )
    cycle = job.run("run-once")
    assert cycle.exit_code == 0, cycle.output
    for name, role in USERS.items():
        made = CliRunner().invoke(hpf, ["users", "add", name, "--role", role, "--password-stdin"], input=PASSWORD,
                                  env=job.environ)  # fmt: skip
        assert made.exit_code == 0, made.output
    listed = json.loads(job.run("batches", "list", "--json").output)
    ids = {b["unit_account"]: b["id"] for b in listed if not b["file_name"].startswith("DZTZ")}
    credits = json.loads(job.run("funds", "list", "--unidentified", "--json").output)["credits"]
    (unidentified,) = [c["id"] for c in credits]
    return Month(ids[A], ids[B], unidentified)


class Console:
    """uvicorn serving `create_app` on a socket bound before it starts (no port race), in a thread."""

    def __init__(self, job: Job) -> None:
        import uvicorn

        from web.app import create_app

        settings = load_settings(job.home / "hpf.toml", environ={"HPF_TODAY": TODAY})
        self.store = Store(make_engine(settings.database.url))
        self.app = create_app(settings, self.store)
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the console did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.store.engine.dispose()


@contextmanager
def serving(job: Job) -> Iterator[Console]:
    console = Console(job)
    console.start()
    try:
        yield console
    finally:
        console.stop()


def disable(job: Job, name: str) -> None:
    done = job.run("users", "disable", name, "--reason", "离职")
    assert done.exit_code == 0, done.output


def unblock_archive(job: Job) -> None:
    blocker = job.env.root / A / "archive"
    blocker.unlink()
    job.env.own()
