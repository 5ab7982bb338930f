"""The two exception families, chosen by what the caller should do (data problems are values, not these).

- `TransientError`: the environment failed (SFTP or the database out of
  reach). Whatever is tried next would fail the same way, so a cycle stops;
  the batch is tried again at the next cycle.
- `TerminalError`: this operation cannot succeed as it stands and needs a
  person (a host key refused, a bad configuration, a server that refuses a
  file, a posting the database refused). The batch is FAILED with the reason;
  the cycle goes on with the other files.

Every message is Chinese, for the operator, and says what was left as it was.
"""

from __future__ import annotations


class HpfError(Exception):
    """An operation failed; `str(error)` is the message for the operator."""


class TransientError(HpfError):
    """Retry later: the server or the database could not be reached."""


class TerminalError(HpfError):
    """Needs a person: retrying the same thing unchanged will fail the same way."""
