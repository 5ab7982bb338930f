"""`hpf accounts import`: read both master files, check everything, store all or nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from batch.master_files import parse_employers, parse_members
from db.store import ImportCounts, Store
from schemas.codes import Problem


def import_accounts(
    store: Store, employers_file: Path | None, members_file: Path | None, *, today: date
) -> ImportCounts | list[Problem]:
    """Every problem of both files, or the counts of what was stored. `today` bounds members' birth dates."""
    problems: list[Problem] = []
    employer_rows = member_rows = None
    units = store.unit_accounts()
    if employers_file is not None:
        parsed = parse_employers(employers_file.read_bytes(), employers_file.name)
        if isinstance(parsed, list):
            problems += parsed
        else:
            employer_rows = parsed
            units |= set(parsed["unit_account"])
    if members_file is not None:
        parsed_m = parse_members(members_file.read_bytes(), members_file.name, units, today)
        if isinstance(parsed_m, list):
            problems += parsed_m
        else:
            member_rows = parsed_m
    if problems:
        return problems
    sources = (
        employers_file.name if employers_file else "employers.csv",
        members_file.name if members_file else "members.csv",
    )
    return store.import_master(employer_rows, member_rows, sources=sources)
