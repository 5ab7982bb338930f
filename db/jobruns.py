"""Jobs that run once per occasion (a day's report, a month's), whoever runs them.

A lock that dies with its holder keeps two schedulers from running the same
occasion at once; a row in `job_runs` with `finished_at` says it is done, so
a report that failed half-way is made again at its next chance.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from db.locks import try_lock
from db.tables import job_runs


def once(engine: Engine, job: str, occasion: str, action: Callable[[], object]) -> bool:
    """Run `action` once per (job, occasion) across every scheduler; whether this call ran it."""
    with try_lock(engine, f"job-{job}-{occasion}") as mine:
        if not mine:
            return False
        with engine.begin() as conn:
            done = conn.execute(
                select(job_runs.c.finished_at).where(job_runs.c.job == job, job_runs.c.occasion == occasion)
            ).one_or_none()
            if done is not None and done.finished_at is not None:
                return False
            if done is None:
                try:
                    conn.execute(insert(job_runs).values(job=job, occasion=occasion, host=socket.gethostname()))
                except IntegrityError:
                    return False
        action()
        with engine.begin() as conn:
            conn.execute(
                update(job_runs)
                .where(job_runs.c.job == job, job_runs.c.occasion == occasion)
                .values(finished_at=func.now())
            )
        return True
