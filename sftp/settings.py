"""What the SFTP edge needs to know: where the server is, how to trust it, and how files become ready.

`jobs.settings` reads it from `hpf.toml`; nothing here reads files or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SftpSettings:
    host: str
    port: int
    username: str
    private_key: Path
    known_hosts: Path
    """The server's host key must be in here: unknown keys are refused."""
    root: str
    """A remote POSIX path, kept as written."""
    ready: str
    """Either "marker" (ready once its marker file exists) or "settle" (once unchanged)."""
    settle_seconds: int
    connect_timeout: float = 15.0
    passphrase_env: str | None = None
    """The name of an environment variable, so the passphrase never sits in the file."""
    sessions: int = 4
    """Sessions a cycle opens at once to list inboxes and move small files (`sftp.sessions`)."""
