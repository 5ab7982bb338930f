"""Engines and schema migration: the settings each backend needs, and `hpf db upgrade`."""

from __future__ import annotations

import os
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


MIGRATIONS = Path(__file__).with_name("migrations")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the schema (`hpf db upgrade`)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
