"""Master data as the validator sees it: one employer record and a frame of members.

The database adapter (`batch.store`) builds these; tests build them by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import polars as pl

EMPLOYER_STATUSES = {"01": "正常", "02": "开户", "03": "缓缴", "04": "销户", "05": "封存"}
FILING_STATUSES = frozenset({"01", "02", "03"})
MEMBER_STATUSES = {"normal": "正常", "sealed": "封存", "closed": "销户"}

MEMBER_SCHEMA = pl.Schema(
    {
        "member_account": pl.String,
        "unit_account": pl.String,
        "name": pl.String,
        "id_type": pl.String,
        "id_number": pl.String,
        "base_fen": pl.Int64,
        "status": pl.String,
    }
)


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
    """What validation asks of the database; `batch.store.Store` answers it."""

    def employer(self, unit_account: str) -> Employer | None: ...

    def members(self, unit_account: str, accounts: pl.Series) -> pl.DataFrame:
        """Every member of `unit_account`, plus those of `accounts` registered elsewhere (MEMBER_SCHEMA)."""
        ...

    def earlier_batch(self, sha256: str) -> int | None:
        """The batch that already processed a file with this SHA-256, if any."""
        ...
