"""Long actions (a rerun talks to SFTP) run on a worker thread; the page polls their progress.

A task is a list of steps run one after another; each step's outcome (or the
Chinese message of the error that refused it) is kept for the page. Tasks live
in memory: they are a view of work whose every effect is in the database and
the audit log, so a restart loses only the progress display.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from schemas.errors import HpfError


@dataclass
class Task:
    id: str
    title: str
    by: str
    total: int
    done: int = 0
    lines: list[tuple[str, bool]] = field(default_factory=list)
    """(what happened, whether it went well), one per step."""
    finished: bool = False

    @property
    def failed(self) -> int:
        return sum(not ok for _, ok in self.lines)


class Tasks:
    KEPT = 200

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="hpf-web-task")
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()

    def start(self, title: str, by: str, steps: Sequence[tuple[str, Callable[[], str]]]) -> Task:
        """Run `steps` ((label, call returning what it did)) in the background, in order."""
        task = Task(secrets.token_hex(8), title, by, len(steps))
        with self._lock:
            self._tasks[task.id] = task
            for old in list(self._tasks)[: max(0, len(self._tasks) - self.KEPT)]:
                if self._tasks[old].finished:
                    del self._tasks[old]
        self._pool.submit(self._run, task, steps)
        return task

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def _run(self, task: Task, steps: Sequence[tuple[str, Callable[[], str]]]) -> None:
        try:
            for label, call in steps:
                try:
                    line, ok = f"{label}：{call()}", True
                except HpfError as e:
                    line, ok = f"{label}：{e}", False
                except Exception as e:  # a bug or the database: the page says so, the next step still runs
                    line, ok = f"{label}：内部错误（{type(e).__name__}），详见服务日志", False
                    import logging

                    logging.getLogger("hpf.web").exception("后台任务 %s 的步骤 %s 失败", task.title, label)
                task.lines.append((line, ok))
                task.done += 1
        finally:
            task.finished = True

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
