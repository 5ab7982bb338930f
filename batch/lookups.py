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
    roster_version: int = 0
    """Raised by every change list that touches the roster: a posting checks it is still the one validated against."""
    awaiting: frozenset[int] = frozenset()
    """Months of its lists waiting for money (arrival mode): the month after them may be filed too."""

    def due_months(self) -> list[int]:
        """The months a list may be filed for now: the next unpaid one, each awaiting after it, and the one after those."""
        from batch.policy import next_month

        assert self.paid_through is not None
        due = [next_month(self.paid_through)]
        while due[-1] in self.awaiting:
            due.append(next_month(due[-1]))
        return due


class Lookups(Protocol):
    """What validation asks of master data."""

    def employer(self, unit_account: str) -> Employer | None: ...

    def members(self, unit_account: str, accounts: pl.Series, *, month: int | None = None) -> pl.DataFrame:
        """Every member of `unit_account`, plus those of `accounts` registered elsewhere (`schemas.master.MEMBER`).

        With `month`, as they stood for that month (`batch.roster.roster_at`): the members
        of the employer then, with that month's status and base.
        """
        ...

    def holders(self, unit_account: str, accounts: pl.Series, people: pl.DataFrame) -> pl.DataFrame:
        """The records of `accounts` and of every account held by `people` (id_type, id_number): `schemas.master.HOLDER`."""
        ...

    def events_after(self, accounts: pl.Series, month: int) -> pl.DataFrame:
        """The events of `accounts` effective after `month` (`schemas.master.EVENT`): few, unless a change list was late."""
        ...
