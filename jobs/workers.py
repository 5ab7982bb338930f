"""`hpf run-once --workers N`: N processes share one cycle, each over every N-th employer; their summaries added up.

The exactly-once guarantee rests on the batch lock, not on how the employers
are split: two workers given the same file are safe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobs.pipeline import CycleSummary
from schemas.errors import TerminalError


class WorkerFailed(TerminalError):
    """A worker process exited with an error; its own message says why."""


def run_workers(config: Path | None, workers: int) -> CycleSummary:
    """Start `workers` `hpf run-once --part k/N` processes and add up their summaries."""
    command = [sys.executable, "-m", "jobs.cli"] + (["--config", str(config)] if config else [])
    children = [
        subprocess.Popen([*command, "run-once", "--json", "--part", f"{k}/{workers}"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=os.environ.copy())
        for k in range(workers)
    ]  # fmt: skip
    summary, problems = CycleSummary(), []
    for child in children:
        output, errors = child.communicate()
        if child.returncode != 0:
            problems.append(errors.decode("utf-8", "replace").strip() or f"工作进程退出码{child.returncode}")
            continue
        summary.add(json.loads(output))
    if problems:
        raise WorkerFailed("；".join(dict.fromkeys(problems)))
    return summary
