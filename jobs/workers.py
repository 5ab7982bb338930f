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


def _worker_error(stderr: str) -> str:
    """A failed worker's own error line(s), without its `错误：` (the parent says that once); its log lines pass on."""
    errors = []
    for line in stderr.splitlines():
        if line.startswith("错误："):
            errors.append(line.removeprefix("错误："))
        elif line.strip():
            sys.stderr.write(line + "\n")
    return "；".join(dict.fromkeys(errors))


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
            said = _worker_error(errors.decode("utf-8", "replace"))
            problems.append(said or f"工作进程退出码{child.returncode}")
            continue
        summary.add(json.loads(output))
    if problems:
        raise WorkerFailed("；".join(dict.fromkeys(problems)))
    return summary
