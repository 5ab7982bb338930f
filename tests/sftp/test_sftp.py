"""The SFTP transport against a real OpenSSH sshd and against the embedded server.

Every test runs on both (the `sftp_env` fixture); in CI a missing sshd fails
the suite instead of skipping it.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from schemas.errors import TransientError
from sftp.client import ReadyFile
from sftp.errors import HostKeyError, SftpError, SftpUnavailable
from tests.support.environments import SftpEnv

UNIT = "0101000123"
NAME = f"{UNIT}_202611.csv"


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ----------------------------------------------------------------- readiness


def test_marker_readiness_and_what_is_left_alone(sftp_env: SftpEnv) -> None:
    sftp_env.put(UNIT, NAME, b"data", marker=b"rows=1\ntotal=1.00\n")
    sftp_env.put(UNIT, f"{UNIT}_202610.csv", b"no marker yet", marker=None)
    inbox = sftp_env.root / UNIT / "inbox"
    (inbox / f"{UNIT}_202609.csv.done").write_bytes(b"")  # a marker without its file
    (inbox / f"{UNIT}_202611.result.json").write_bytes(b"{}")  # a result dropped in the wrong place
    (inbox / f"{UNIT}_202611.result.json.done").write_bytes(b"")
    (inbox / "subfolder.csv").mkdir()
    (inbox / "subfolder.csv.done").write_bytes(b"")
    sftp_env.put("0101000456", "0101000456_202611.csv", b"other employer")
    (sftp_env.root / "_finance" / "outbox").mkdir(parents=True)
    sftp_env.own()
    before = tree(sftp_env.root)
    with sftp_env.client() as client:
        assert client.units() == ["0101000123", "0101000456"]
        (ready,) = client.ready_files(UNIT)
        assert (ready.unit, ready.name, ready.size, ready.marker) == (UNIT, NAME, 4, b"rows=1\ntotal=1.00\n")
        assert [r.name for r in client.ready_files("0101000456")] == ["0101000456_202611.csv"]
        assert client.ready_files("no-such-unit") == []
    assert tree(sftp_env.root) == before


def test_settle_readiness(sftp_env: SftpEnv) -> None:
    sftp_env.put(UNIT, NAME, b"still arriving", marker=None)
    with sftp_env.client(ready="settle", settle_seconds=30) as client:
        assert client.ready_files(UNIT) == []
        client.clock = lambda: time.time() + 31
        (ready,) = client.ready_files(UNIT)
        assert ready.marker is None and client.unchanged(ready)
        # The employer writes again: what was found ready is no longer what is there.
        (sftp_env.root / UNIT / "inbox" / NAME).write_bytes(b"still arriving, and more")
        assert not client.unchanged(ready)


# ------------------------------------------------------------------ transfer


def test_round_trip_with_chinese_names(sftp_env: SftpEnv) -> None:
    name = f"{UNIT}_202611_更正.csv"
    data = "个人账号,姓名\n100001,张三\n".encode("gb18030") + os.urandom(300_000)
    sftp_env.put(UNIT, name, data)
    with sftp_env.client() as client:
        (ready,) = client.ready_files(UNIT)
        assert ready.name == name
        assert client.fetch(ready) == data
        (path,) = client.publish(UNIT, {f"{UNIT}_202611_更正.result.csv": data})
    assert path.endswith("/outbox/0101000123_202611_更正.result.csv")
    assert (sftp_env.root / UNIT / "outbox" / f"{UNIT}_202611_更正.result.csv").read_bytes() == data


def test_publish_is_atomic_for_a_reader(sftp_env: SftpEnv) -> None:
    """Someone polling the outbox sees no result file, or a whole one; never a partial one."""
    outbox = sftp_env.root / UNIT / "outbox"
    results = {f"{UNIT}_2026{m:02d}.result.csv": os.urandom(4 << 20) for m in range(1, 7)}
    seen_partial: list[str] = []
    done = threading.Event()

    def employer_polls() -> None:
        while not done.is_set():
            for path in outbox.glob("*.result.csv") if outbox.exists() else []:
                data = path.read_bytes()
                if data != results[path.name]:
                    seen_partial.append(f"{path.name}: {len(data)} bytes")

    reader = threading.Thread(target=employer_polls)
    reader.start()
    try:
        with sftp_env.client() as client:
            client.publish(UNIT, results)
    finally:
        done.set()
        reader.join()
    assert seen_partial == []
    assert sorted(p.name for p in outbox.iterdir()) == sorted(results)  # no temporary file left


def test_publish_refuses_names_that_leave_the_folder(sftp_env: SftpEnv) -> None:
    with sftp_env.client() as client:
        for bad in ("../0101000456/outbox/x.json", "x/y.json", "..", ".hidden.json", ""):
            with pytest.raises(ValueError):
                client.publish(UNIT, {bad: b"{}"})
        with pytest.raises(ValueError):
            client.publish("../0101000456", {"x.json": b"{}"})
    assert not (sftp_env.root / "0101000456").exists()


def test_missing_folders_are_created(sftp_env: SftpEnv) -> None:
    sftp_env.put(UNIT, NAME, b"x")
    with sftp_env.client() as client:
        (ready,) = client.ready_files(UNIT)
        client.publish(UNIT, {f"{UNIT}_202611.result.json": b"{}"})
        client.archive(ready)
        client.publish_finance({"reconciliation_202611.csv": b"a,b\n"})
    assert (sftp_env.root / UNIT / "outbox" / f"{UNIT}_202611.result.json").exists()
    assert (sftp_env.root / UNIT / "archive" / NAME).exists()
    assert (sftp_env.root / "_finance" / "outbox" / "reconciliation_202611.csv").read_bytes() == b"a,b\n"


# ------------------------------------------------------------------- archive


def test_archive_moves_file_and_marker_and_never_overwrites(sftp_env: SftpEnv) -> None:
    archive = sftp_env.root / UNIT / "archive"
    contents = [b"first", b"second, resent under the same name", b"third"]
    for data in contents:
        sftp_env.put(UNIT, NAME, data, marker=b"rows=0\n")
        with sftp_env.client() as client:
            (ready,) = client.ready_files(UNIT)
            client.archive(ready)
    assert sorted(p.name for p in archive.iterdir()) == [
        f"{UNIT}_202611.1.csv", f"{UNIT}_202611.1.csv.done",
        f"{UNIT}_202611.2.csv", f"{UNIT}_202611.2.csv.done",
        f"{UNIT}_202611.csv", f"{UNIT}_202611.csv.done",
    ]  # fmt: skip
    assert [(archive / n).read_bytes() for n in (NAME, f"{UNIT}_202611.1.csv", f"{UNIT}_202611.2.csv")] == contents
    assert list((sftp_env.root / UNIT / "inbox").iterdir()) == []


def test_archive_again_after_a_lost_reply_is_harmless(sftp_env: SftpEnv) -> None:
    """If the move happened but the reply was lost, the retry finds it done instead of failing."""
    sftp_env.put(UNIT, NAME, b"data")
    with sftp_env.client() as client:
        (ready,) = client.ready_files(UNIT)
        first = client.archive(ready)
        assert client.archive(ready) == first
        gone = ReadyFile(UNIT, "never-there.csv", 1, 1, None)
        with pytest.raises(SftpError, match="归档目录中也没有"):
            client.archive(gone)


# ---------------------------------------------------------------- host keys


def test_unknown_host_key_is_refused(sftp_env: SftpEnv, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError) as e, sftp_env.client(known_hosts=empty):
        pass
    assert str(empty) in str(e.value) and "拒绝连接" in str(e.value)


def test_changed_host_key_is_refused(sftp_env: SftpEnv, tmp_path: Path) -> None:
    """known_hosts records another key for this very address: a man in the middle, or a rebuilt server."""
    import asyncssh

    address = sftp_env.server.known_hosts.read_text().split()[0]
    other_key = bytes(asyncssh.generate_private_key("ssh-ed25519").export_public_key()).decode().strip()
    other = tmp_path / "other_known_hosts"
    other.write_text(f"{address} {other_key}\n")
    with pytest.raises(HostKeyError) as e, sftp_env.client(known_hosts=other):
        pass
    assert "不同" in str(e.value) and str(other) in str(e.value)


def test_missing_known_hosts_file_is_refused(sftp_env: SftpEnv, tmp_path: Path) -> None:
    with pytest.raises(HostKeyError, match="known_hosts"), sftp_env.client(known_hosts=tmp_path / "nope"):
        pass


# ------------------------------------------------------------------ failures


def test_server_down_is_a_clear_error_and_the_inbox_is_untouched(sftp_env: SftpEnv) -> None:
    sftp_env.put(UNIT, NAME, b"data")
    before = tree(sftp_env.root)
    sftp_env.server.kill()
    started = time.monotonic()
    with pytest.raises(SftpUnavailable) as e, sftp_env.client(attempts=3, backoff=0.05):
        pass
    assert time.monotonic() - started < 10
    message = str(e.value)
    assert f"127.0.0.1:{sftp_env.server.port}" in message and "已重试3次" in message and "保持原样" in message
    assert isinstance(e.value, TransientError)
    assert tree(sftp_env.root) == before


# paramiko's prefetch thread dies with "Socket is closed" when the server is killed under it: expected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_connection_dropped_mid_download_fetches_again_whole(sftp_env: SftpEnv) -> None:
    """The server dies halfway through a download and comes back: the file arrives whole, nothing moves."""
    data = os.urandom(24 << 20)
    sftp_env.put(UNIT, NAME, data)
    killed = threading.Event()
    restart = threading.Timer(0.5, sftp_env.server.start)

    def kill_halfway(done: int, total: int) -> None:
        if done > total // 3 and not killed.is_set():
            killed.set()
            sftp_env.server.kill()
            restart.start()

    try:
        with sftp_env.client(attempts=6, backoff=0.25) as client:
            (ready,) = client.ready_files(UNIT)
            got = client.fetch(ready, progress=kill_halfway)
    finally:
        if killed.is_set():
            restart.join()
    assert killed.is_set()
    assert got == data
    assert tree(sftp_env.root) == [f"{UNIT}/inbox/{NAME}", f"{UNIT}/inbox/{NAME}.done"]


def test_a_refusal_from_the_server_is_not_retried(sftp_env: SftpEnv) -> None:
    """An answer (here: `outbox` is a file, so no folder can be made) fails at once, not as "unavailable"."""
    (sftp_env.root / UNIT).mkdir()
    (sftp_env.root / UNIT / "outbox").write_bytes(b"not a folder")
    sftp_env.own()
    started = time.monotonic()
    with sftp_env.client(attempts=5, backoff=1.0) as client, pytest.raises(SftpError) as e:
        client.publish(UNIT, {f"{UNIT}_202611.result.json": b"{}"})
    assert not isinstance(e.value, SftpUnavailable)
    assert time.monotonic() - started < 1.0
    assert (sftp_env.root / UNIT / "outbox").read_bytes() == b"not a folder"
