"""Process-wide setup of the `hpf` command, done once in `main`, never at import."""

from __future__ import annotations

import logging
import os
import sys

from jobs import logs


def setup(level: int = logging.WARNING) -> None:
    """Masked logging to stderr, and polars' in-memory engine.

    polars' default engine ("auto") picks the streaming engine, whose start-up
    costs about 0.4 ms per collect; pandera collects once per check, so a
    500-row file paid 30 ms for nothing. The in-memory engine is as fast on a
    million rows.
    """
    logs.setup(level)
    # Through the environment, so polars is imported only by the commands that use it (workers inherit it).
    os.environ["POLARS_ENGINE_AFFINITY"] = "in-memory"
    if "polars" in sys.modules:
        sys.modules["polars"].Config.set_engine_affinity("in-memory")
