"""The database's own failures, in the families of `schemas.errors`.

A lost connection or a database that is down is not this file's fault, and
the next statement would fail alike: `database_errors` turns SQLAlchemy's
operational errors into `DatabaseUnavailable`, a `TransientError`, so the
pipeline decides on the family, not on a driver's classes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from schemas.errors import TerminalError, TransientError


class DatabaseUnavailable(TransientError):
    """The database could not be reached or dropped the connection."""


class DatabaseReplaced(TerminalError):
    """The database is not the one the cycle started with (a SQLite file deleted or replaced).

    Nothing may be published on its word, and nothing may be recorded in it:
    whatever it says about a batch is about another ledger.
    """


def describe(e: SQLAlchemyError) -> str:
    """One Chinese line for an operator: what failed and the driver's first line, or what to do."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if missing := re.search(r'database "([^"]+)" does not exist', text):
        name = missing.group(1)
        return f"PostgreSQL 数据库 {name} 不存在：请先创建它（如 createdb {name}），再运行 hpf db upgrade"
    if "unable to open database file" in text:
        return "无法打开 SQLite 数据库文件：所在目录不存在或无权写入，请检查 database.url"
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return "数据库尚未初始化：请先运行 hpf db upgrade"
    if "value too long" in text or "StringDataRightTruncation" in type(getattr(e, "orig", None)).__name__:
        return f"数据超出数据库字段长度：{text}"
    return f"数据库操作失败：{e.__class__.__name__}: {text}"


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Operational and interface errors inside the block become DatabaseUnavailable."""
    try:
        yield
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(describe(e)) from e
