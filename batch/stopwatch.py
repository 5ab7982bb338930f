"""Where the time goes: seconds per named stage, summed over a cycle.

Stages nest: time spent in an inner stage counts for it alone, not also for
the stage around it, so the figures add up to the wall time.

The pipeline times each step of each file with one Stopwatch, so `hpf run-once
--json` tells an operator (and `make bench`) which stage a slow night spent in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("scan", "fetch", "read", "validate", "results", "post", "publish", "archive", "settle", "republish")
"""The stages in the order a file goes through them; then posting from suspense and uploading restated results."""


class Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self._open: list[str] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        self._open.append(name)
        try:
            yield
        finally:
            self._open.pop()
            spent = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + spent
            if self._open:
                outer = self._open[-1]
                self.seconds[outer] = self.seconds.get(outer, 0.0) - spent

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}


class _Idle(Stopwatch):
    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        yield


IDLE: Stopwatch = _Idle()
"""For callers that do not time anything."""
