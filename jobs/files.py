"""Local files written so that nobody ever reads half of one: reports, exports."""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from schemas.errors import TerminalError


class LocalFileError(TerminalError):
    """A local file could not be written; nothing was left half-written."""


_WHY = {
    errno.ENOSPC: "磁盘空间不足",
    errno.EDQUOT: "超出磁盘配额",
    errno.ENOENT: "所在目录不存在",
    errno.ENOTDIR: "路径中有一段不是目录",
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.EROFS: "文件系统是只读的",
    errno.EISDIR: "这是一个目录",
}


def why(e: OSError) -> str:
    """An OS error in the words an operator acts on."""
    return _WHY.get(e.errno or 0, e.strerror or type(e).__name__)


def write_atomically(path: Path, data: bytes) -> Path:
    """Write beside the target under a hidden temporary name, then rename: a reader never sees half a file.

    On any failure (a full disk, a kill) the temporary file is removed and the
    target is left as it was; an OS error becomes LocalFileError naming the file.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with temporary.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        temporary.replace(path)
    except BaseException as e:
        temporary.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise LocalFileError(f"无法写入 {path}：{why(e)}，未留下任何不完整的文件") from e
        raise
    return path
