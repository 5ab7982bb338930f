"""Locks that die with their process: who is working on a batch right now.

On PostgreSQL a session advisory lock on its own connection; beside a SQLite
database a lock on one byte (one per name) of a lock file. Both vanish when
the holder exits, even by SIGKILL, so a crashed worker's batch can be resumed
at once while a live worker's batch cannot be taken twice. Neither ever waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError


def _key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextlib.contextmanager
def try_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Hold the lock called `name` for the block if it is free; yields whether it was."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        with engine.connect() as conn:
            key = _key(name)
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    try:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.commit()
                    except SQLAlchemyError:
                        # The session is gone (database down): its locks went with it. Never pool it again,
                        # and let the error that matters, the one that brought us here, be the one raised.
                        conn.invalidate()
        return
    if (path := _lock_file(engine)) is not None:
        with _ranges(path, [name]) as held:
            yield bool(held)
        return
    yield True  # an in-memory database has one process


@contextlib.contextmanager
def try_locks(engine: Engine, names: list[str]) -> Iterator[set[str]]:
    """`try_lock` for many names at once: yields those that were free, held for the block.

    On PostgreSQL one session holds them all (a connection per lock would
    exhaust the pool for a group of files); taken and released in one statement each.
    """
    if engine.url.get_backend_name() != "postgresql":
        if (path := _lock_file(engine)) is None:
            yield set(names)  # an in-memory database has one process
            return
        with _ranges(path, names) as held:
            yield held
        return
    keys = {_key(name): name for name in names}
    with engine.connect() as conn:
        got = (
            conn.execute(
                text("SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k WHERE pg_try_advisory_lock(k)"),
                {"keys": list(keys)},
            )
            .scalars()
            .all()
        )
        conn.commit()
        try:
            yield {keys[k] for k in got}
        finally:
            if got:
                try:
                    conn.execute(
                        text("SELECT pg_advisory_unlock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
                        {"keys": list(got)},
                    )
                    conn.commit()
                except SQLAlchemyError:
                    conn.invalidate()


def _lock_file(engine: Engine) -> Path | None:
    """The file beside a SQLite database whose bytes are its locks; None for an in-memory one."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(f"{url.database}.lock")


_TAKEN = fcntl.F_WRLCK


@contextlib.contextmanager
def _ranges(path: Path, names: list[str]) -> Iterator[set[str]]:
    """Hold, on one open file, the byte of `path` that stands for each name that is free; yields those names.

    Open-file-description locks (F_OFD_SETLK, Linux): like flock they belong
    to the open file, so two opens conflict even in one process and the lock
    dies with the descriptor, but they lock bytes, so one file and one
    descriptor serve a group of any size (a file per lock cost a create and
    an unlink each, most of the time of posting a few hundred small lists).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield {name for name in names if _take(fd, _offset(name))}
    finally:
        os.close(fd)  # releases every byte this descriptor holds


def _offset(name: str) -> int:
    return _key(name) & ((1 << 62) - 1)


def _take(fd: int, at: int) -> bool:
    """An exclusive lock on byte `at`, or False if another open file holds it; never waits."""
    request = struct.pack("hh4xqqi4x", _TAKEN, os.SEEK_SET, at, 1, 0)  # struct flock; l_pid must be 0
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, request)
    except (BlockingIOError, PermissionError):  # EAGAIN or EACCES: held by another open file
        return False
    return True
