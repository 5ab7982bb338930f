"""An embedded SFTP server for `hpf demo` and the tests: a local folder served on loopback.

It is a real SSH server (asyncssh) running in a background thread, with a
fresh host key and a fresh client key written beside a known_hosts file, so
the client under test verifies the host key exactly as in production. Only
key authentication and SFTP are offered; the folder is the client's root.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncssh


class _Jailed(asyncssh.SFTPServer):
    """SFTP confined to the served folder. `rename` refuses to replace a file, as OpenSSH's does."""

    root: bytes = b"/"

    def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
        super().__init__(chan, chroot=self.root)


class EmbeddedSftpServer:
    """Serve `root` over SFTP on 127.0.0.1; keys and known_hosts go to `keys`."""

    def __init__(self, root: Path, keys: Path, *, username: str = "hpf", port: int = 0) -> None:
        self.root = root.resolve()
        self.keys = keys
        self.username = username
        self.requested_port = port
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: Any = None
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._host_key: asyncssh.SSHKey | None = None

    @property
    def private_key(self) -> Path:
        return self.keys / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.keys / "known_hosts"

    def __enter__(self) -> EmbeddedSftpServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        """Listen (on the same port as before, after a `kill`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._make_keys()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="embedded-sftp", daemon=True)
        self._thread.start()
        self._acceptor = self._call(self._listen())
        self.port = self._acceptor.sockets[0].getsockname()[1]
        # The same host key on whatever port this run got: a kept folder's known_hosts must name this port.
        entry = self._host_public().decode().strip()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {entry}\n", "utf-8")

    def stop(self) -> None:
        """Stop listening and drop every open session at once (as a killed server would)."""
        if self._loop is None:
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None
        self.requested_port = self.port

    kill = stop

    # -------------------------------------------------------------- inside

    def _call(self, coroutine: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(15)

    async def _listen(self) -> Any:
        server = self
        jailed = type("Jailed", (_Jailed,), {"root": str(self.root).encode()})

        class Tracked(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                server._connections.add(conn)

            def connection_lost(self, exc: Exception | None) -> None:
                server._connections = {c for c in server._connections if not c.is_closed()}

        return await asyncssh.listen(
            "127.0.0.1",
            self.requested_port,
            server_factory=Tracked,
            server_host_keys=[self._host_key],
            authorized_client_keys=str(self.keys / "authorized_keys"),
            sftp_factory=jailed,
            allow_scp=False,
            reuse_address=True,
        )

    async def _close(self) -> None:
        for conn in list(self._connections):
            conn.abort()
        self._connections.clear()
        self._acceptor.close()
        await self._acceptor.wait_closed()

    def _make_keys(self) -> None:
        """A host key and a client key, made once per key folder."""
        self.keys.mkdir(parents=True, exist_ok=True)
        host_path = self.keys / "ssh_host_ed25519_key"
        if not host_path.exists():
            asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(host_path))
            host_path.chmod(0o600)
        self._host_key = asyncssh.read_private_key(str(host_path))
        if not self.private_key.exists():
            client = asyncssh.generate_private_key("ssh-ed25519", comment="hpf-batch")
            client.write_private_key(str(self.private_key), format_name="openssh")
            self.private_key.chmod(0o600)
            client.write_public_key(str(self.keys / "authorized_keys"))

    def _host_public(self) -> bytes:
        assert self._host_key is not None
        return bytes(self._host_key.export_public_key())
