"""Each cycle's time and outcome, so the console can say when the job last ran and what stopped it."""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from db.tables import cycles

KEPT = 1000
"""Cycles kept: enough for a few days of polling; older rows are dropped as new ones come."""


def record(engine: Engine, started_at: datetime, *, files: int = 0, failed: int = 0, error: str | None = None) -> None:
    with engine.begin() as conn:
        new = conn.execute(
            insert(cycles).values(
                started_at=started_at, host=socket.gethostname(), files=files, failed=failed, error=error
            )
        ).inserted_primary_key
        if new and new[0] % 100 == 0:
            conn.execute(delete(cycles).where(cycles.c.id <= new[0] - KEPT))


def last(conn: Connection) -> dict[str, Any] | None:
    """The latest cycle: when it ran, what it took, and the error that stopped it, if one did."""
    latest = conn.execute(select(cycles).order_by(cycles.c.id.desc()).limit(1)).first()
    return dict(latest._mapping) if latest else None
