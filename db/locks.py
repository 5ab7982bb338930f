"""Locks that die with their process: who is working on a batch right now.

On PostgreSQL a session advisory lock on its own connection; beside a SQLite
database a `flock` on a small file. Both vanish when the holder exits, even by
SIGKILL, so a crashed worker's batch can be resumed at once while a live
worker's batch cannot be taken twice. Neither ever waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
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
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        folder = Path(f"{url.database}.locks")
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{hashlib.sha1(name.encode()).hexdigest()[:20]}.lock"
        fd = _flock(path)
        if fd is None:
            yield False
            return
        try:
            yield True
        finally:
            # Removed while still held, so the folder does not grow a file per batch forever; whoever opened
            # the old file meanwhile sees it is no longer the one at `path` and opens the new one (`_flock`).
            path.unlink(missing_ok=True)
            os.close(fd)
        return
    yield True  # an in-memory database has one process


@contextlib.contextmanager
def try_locks(engine: Engine, names: list[str]) -> Iterator[set[str]]:
    """`try_lock` for many names at once: yields those that were free, held for the block.

    On PostgreSQL one session holds them all (a connection per lock would
    exhaust the pool for a group of files); taken and released in one statement each.
    """
    if engine.url.get_backend_name() != "postgresql":
        with contextlib.ExitStack() as stack:
            held = {name for name in names if stack.enter_context(try_lock(engine, name))}
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


def _flock(path: Path) -> int | None:
    """An exclusive flock on the file now at `path`, or None if someone holds it; never waits."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # its holder removed it between our open and our lock: take the file there now
