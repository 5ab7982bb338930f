"""What validation asks of master data: one employer record, and a frame of members (`schemas.master.MEMBER`).

`Lookups` is the port; the database edge (`db.store.Store`) answers it, and
tests answer it with a frame built by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl


@dataclass(frozen=True, slots=True)
class Employer:
    unit_account: str
    name: str
    status: str
    employer_rate_bp: int
    employee_rate_bp: int
    wage_tier: int
    rounding: str | None
    paid_through: int | None


class Lookups(Protocol):
    """What validation asks of master data."""

    def employer(self, unit_account: str) -> Employer | None: ...

    def members(self, unit_account: str, accounts: pl.Series) -> pl.DataFrame:
        """Every member of `unit_account`, plus those of `accounts` registered elsewhere (`schemas.master.MEMBER`)."""
        ...
