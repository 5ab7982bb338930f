"""Several SSH sessions at once, so a cycle's many small requests overlap instead of queuing.

One SFTP request on loopback costs a round trip and some Python on each side;
a cycle over 20,000 inboxes makes hundreds of thousands of them. paramiko
cannot keep two synchronous requests of one session in flight from two
threads (a reply read by the wrong thread is dropped), so each thread here
has a session of its own, opened on first use and closed with the pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from sftp.client import SftpClient

T = TypeVar("T")
R = TypeVar("R")


class Sessions:
    """`size` sessions like `client` (same settings and retry policy); `map` spreads calls over them."""

    def __init__(self, client: SftpClient, size: int) -> None:
        self.client = client
        self.size = max(1, size)
        self._local = threading.local()
        self._opened: list[SftpClient] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def _session(self) -> SftpClient:
        session: SftpClient | None = getattr(self._local, "session", None)
        if session is None:
            c = self.client
            session = SftpClient(c.settings, attempts=c.attempts, backoff=c.backoff, clock=c.clock)
            self._local.session = session
            with self._lock:
                self._opened.append(session)
        return session

    def map(self, call: Callable[[SftpClient, T], R], items: Iterable[T]) -> Iterator[R | BaseException]:
        """`call(session, item)` for each item, results (or the exception raised) in the items' order.

        The calls start at once, so the caller can do other work while they
        run; with one session (or one item) they run on `client` itself, one
        after the other, as the results are read.
        """
        items = list(items)
        if self.size == 1 or len(items) <= 1:
            return (_outcome(call, self.client, item) for item in items)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="sftp")
        futures = [self._pool.submit(self._run, call, item) for item in items]
        return (future.result() for future in futures)

    def _run(self, call: Callable[[SftpClient, T], R], item: T) -> R | BaseException:
        return _outcome(call, self._session(), item)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        with self._lock:
            for session in self._opened:
                session.close()
            self._opened.clear()


def _outcome(call: Callable[[SftpClient, T], R], session: SftpClient, item: T) -> R | BaseException:
    try:
        return call(session, item)
    except Exception as e:  # handed back in order: the caller decides what stops the cycle
        return e


@contextmanager
def sessions(client: SftpClient, size: int) -> Iterator[Sessions]:
    pool = Sessions(client, size)
    try:
        yield pool
    finally:
        pool.close()
