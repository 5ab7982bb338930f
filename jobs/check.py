"""`hpf validate`: one local file checked exactly as the pipeline would, posting nothing."""

from __future__ import annotations

from pathlib import Path

from batch.masterdata import Lookups
from batch.validate import Report, Rules, Submission, validate
from jobs.settings import Settings


def rules_from(settings: Settings) -> Rules:
    return Rules(
        policy=settings.policy,
        today=settings.today,
        max_file_bytes=settings.limits.max_file_mb << 20,
        max_rows=settings.limits.max_rows,
    )


def validate_file(settings: Settings, lookups: Lookups, path: Path, unit: str | None, marker: Path | None) -> Report:
    submission = Submission(
        file_name=path.name,
        data=path.read_bytes(),
        inbox_unit=unit,
        marker=marker.read_bytes() if marker is not None else None,
    )
    return validate(submission, rules_from(settings), lookups)
