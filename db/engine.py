"""Engines and schema migration: the settings each backend needs, and `hpf db upgrade`."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs for safe concurrent use."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        if engine.url.database and engine.url.database != ":memory:":
            _private_file(Path(engine.url.database))
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _private_file(path: Path) -> None:
    """The database holds ID numbers and balances: created owner-only, never left world-readable.

    SQLite gives its -wal and -shm files the database file's permissions.
    """
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # an empty file is an empty database
    elif path.exists() and path.stat().st_mode & 0o007:
        path.chmod(path.stat().st_mode & ~0o007)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """Foreign keys on; WAL so readers never block the writer; wait for locks instead of failing.

    A page cache of up to 256 MB (the default is 2 MB): a million-member posting
    touches every page of the members table and its indexes, and with the small
    cache each touch is a read from the OS, which made posting grow faster than
    the file. Memory is only taken as pages are read.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@dataclass(frozen=True, slots=True)
class Identity:
    """Which database an engine is talking to: the id its first migration stored, and for SQLite the file itself."""

    instance: str | None
    file: tuple[int, int] | None
    """(device, inode) of a SQLite file; None for a server database, or a file that is gone."""


def identity(engine: Engine) -> Identity:
    """The database's identity now, through the engine's pool; raises DatabaseReplaced if the pool is stale.

    A SQLite connection kept in the pool goes on reading and writing a file that
    was deleted or replaced under it, while a new connection opens the new file:
    both are asked, and they must agree with the file on disk.
    """
    from sqlalchemy import select

    from db.errors import DatabaseReplaced
    from db.tables import instance

    with engine.connect() as conn:
        pooled = conn.execute(select(instance.c.id)).scalar()
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return Identity(pooled, None)
    path = Path(database)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise DatabaseReplaced(f"数据库文件 {path} 已不存在（被删除或移走）：本轮停止，不上传任何结果") from None
    fresh = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = fresh.execute("SELECT id FROM instance").fetchone()
    except sqlite3.DatabaseError:
        found = None
    finally:
        fresh.close()
    if found is None or found[0] != pooled:
        raise DatabaseReplaced(
            f"数据库文件 {path} 已被替换（与本进程打开的不是同一个数据库）：本轮停止，不上传任何结果"
        )
    return Identity(pooled, (stat.st_dev, stat.st_ino))


MIGRATIONS = Path(__file__).with_name("migrations")


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Create or migrate the schema (`hpf db upgrade`); the revisions before and after (None: no schema)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after
