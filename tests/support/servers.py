"""Real servers for integration tests: a PostgreSQL cluster and an OpenSSH sshd in temp folders.

When a server cannot be started the test is skipped, unless
HPF_REQUIRE_SERVERS=1 (set by .ci/run), which turns the skip into a failure:
CI must never pass by skipping the integration tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
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


class PostgresServer:
    """A throw-away cluster on a free loopback port that a test may stop (as a crash would) and start again."""

    def __init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None:
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
        assert bindir is not None
        self.bindir = bindir
        self.home = Path(tempfile.mkdtemp(prefix="hpf-pg-"))
        self.data, self.port = self.home / "data", free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        """The admin URL, without a database part."""
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")
        self._env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(_as_postgres(list(cmd)), check=check, capture_output=True, env=self._env, cwd=self.home)

    def create(self) -> None:
        """initdb and the first start; a failure skips (or fails, in CI) the test."""
        try:
            self._run(
                str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--no-sync",
            )  # fmt: skip
            self.start()
        except subprocess.CalledProcessError as e:
            log = (self.home / "log").read_text() if (self.home / "log").exists() else ""
            self.remove()
            unavailable(f"PostgreSQL did not start: {e.stderr.decode(errors='replace')}{log}")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home} -c fsync=off -c full_page_writes=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.home / "log"), "-o", options,
                  "-w", "start")  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: every backend dies at once, uncommitted work is lost, as in a crash."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


@contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """A PostgresServer for the block, removed afterwards."""
    server = PostgresServer()
    server.create()
    try:
        yield server
    finally:
        server.remove()


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throw-away cluster on a free loopback port; yield its admin URL (no database part)."""
    with postgres_cluster() as server:
        yield server.url


# ------------------------------------------------------------------- OpenSSH

SFTP_USER = "hpfsftp"
"""As root, sshd serves this unprivileged user (created when missing)."""


class Sshd:
    """A real OpenSSH sshd on a free loopback port: key-only, internal-sftp, its own host key."""

    def __init__(self, home: Path, root: Path) -> None:
        self.home, self.root = home, root
        self.port = free_port()
        self.username = SFTP_USER if os.geteuid() == 0 else _current_user()
        self.private_key = home / "id_ed25519"
        self.known_hosts = home / "known_hosts"
        self.process: subprocess.Popen[bytes] | None = None

    def prepare(self) -> None:
        sshd = _sshd_binary()
        if sshd is None:
            unavailable("OpenSSH sshd not found (install openssh-server)")
        self.binary = sshd
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        keygen = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
        for name in ("ssh_host_ed25519_key", "id_ed25519"):
            if not (self.home / name).exists():
                subprocess.run(
                    [keygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(self.home / name)], check=True
                )
        shutil.copy(self.home / "id_ed25519.pub", self.home / "authorized_keys")
        (self.home / "authorized_keys").chmod(0o644)
        host_public = (self.home / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(host_public)}\n")
        if os.geteuid() == 0:
            if subprocess.run(["id", SFTP_USER], capture_output=True).returncode != 0:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SFTP_USER], check=True
                )
            # useradd leaves the password "!" (locked), which sshd refuses without PAM; "*" is no password, unlocked.
            subprocess.run(["usermod", "-p", "*", SFTP_USER], check=True)
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.home / "sshd_config").write_text(
            f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.home}/ssh_host_ed25519_key
PidFile {self.home}/sshd.pid
AuthorizedKeysFile {self.home}/authorized_keys
AllowUsers {self.username}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin no
AllowTcpForwarding no
X11Forwarding no
Subsystem sftp internal-sftp
ForceCommand internal-sftp
LogLevel ERROR
"""
        )
        self.give_root_to_user()

    def give_root_to_user(self) -> None:
        """The served folder belongs to the SFTP user, as an employer's folders would."""
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", f"{SFTP_USER}:", str(self.root)], check=True)

    def start(self) -> None:
        with open(self.home / "sshd.log", "ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(
                [self.binary, "-D", "-e", "-f", str(self.home / "sshd_config")], stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                unavailable(f"sshd exited at start: {(self.home / 'sshd.log').read_text(errors='replace')}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        unavailable("sshd did not start listening within 10 s")

    def kill(self) -> None:
        """SIGKILL the daemon and every session it forked: connections drop mid-transfer."""
        if self.process is None:
            return
        for pid in [*_descendants(self.process.pid), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _sshd_binary() -> str | None:
    for candidate in (shutil.which("sshd"), "/usr/sbin/sshd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (sshd's sessions call setsid, so no process group works)."""
    children: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@contextmanager
def sshd_server(root: Path) -> Iterator[Sshd]:
    home = Path(tempfile.mkdtemp(prefix="hpf-sshd-"))
    server = Sshd(home, root)
    try:
        server.prepare()
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(home, ignore_errors=True)
