"""The database's own failures, in the families of `schemas.errors`.

A lost connection or a database that is down is not this file's fault, and
the next statement would fail alike: `database_errors` turns SQLAlchemy's
operational errors into `DatabaseUnavailable`, a `TransientError`, so the
pipeline decides on the family, not on a driver's classes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from schemas.errors import TransientError


class DatabaseUnavailable(TransientError):
    """The database could not be reached or dropped the connection."""


def describe(e: SQLAlchemyError) -> str:
    """One Chinese line for an operator: what failed and the driver's first line, or what to do."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "no such table" in text or "does not exist" in text:
        return "数据库尚未初始化：请先运行 hpf db upgrade"
    return f"数据库操作失败：{e.__class__.__name__}: {text}"


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Operational and interface errors inside the block become DatabaseUnavailable."""
    try:
        yield
    except (OperationalError, InterfaceError) as e:
        raise DatabaseUnavailable(describe(e)) from e
