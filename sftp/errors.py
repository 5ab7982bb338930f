"""What can go wrong talking to the SFTP server, in the two families of `schemas.errors`.

Every message is Chinese, for the operator, and says what was left as it was.
"""

from __future__ import annotations

from schemas.errors import HpfError, TerminalError, TransientError


class SftpError(HpfError):
    """An SFTP operation failed; the message is for the operator."""


class SftpUnavailable(SftpError, TransientError):
    """The server could not be reached or kept dropping the connection, after every retry."""


class HostKeyError(SftpError, TerminalError):
    """The server's host key is unknown or has changed: refused, never learned."""


class AuthError(SftpError, TerminalError):
    """The server refused our key, or the key cannot be read."""


class SftpRefused(SftpError, TerminalError):
    """The server refused an operation (permissions, a missing file): trying again unchanged fails alike."""


class FileChanged(SftpError, TerminalError):
    """A file changed while it was being read (settle mode): it will be taken as a new arrival once it is stable."""
