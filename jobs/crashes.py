"""The tests' crash hook: SIGKILL this process at a named point (`HPF_CRASH_AT`), as a power cut would."""

from __future__ import annotations

import os
import signal

CRASH_ENV = "HPF_CRASH_AT"
"""claimed, fetched, posting, applying, booking, committed, published."""


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
