"""Local files written so that nobody ever reads half of one: reports, exports."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> Path:
    """Write beside the target under a hidden temporary name, then rename: a reader never sees half a file.

    On any failure (a full disk, a kill) the temporary file is removed and the
    target is left as it was.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with temporary.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
