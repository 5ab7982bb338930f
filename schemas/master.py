"""Master data (SPEC §8): the columns of `employers.csv` and `members.csv`, and the frames they become."""

from __future__ import annotations

import polars as pl

EMPLOYER_COLUMNS = (
    "unit_account",
    "name",
    "credit_code",
    "status",
    "employer_rate",
    "employee_rate",
    "wage_tier",
    "rounding",
    "paid_through",
)
MEMBER_COLUMNS = ("member_account", "unit_account", "name", "id_type", "id_number", "base", "status", "paid_through")

EMPLOYER_ROWS = pl.Schema(
    {
        "unit_account": pl.String,
        "name": pl.String,
        "credit_code": pl.String,
        "status": pl.String,
        "employer_rate_bp": pl.Int64,
        "employee_rate_bp": pl.Int64,
        "wage_tier": pl.Int64,
        "rounding": pl.String,
        "paid_through": pl.Int64,
        "payer_account": pl.String,
    }
)
"""`employers.csv` parsed: the rows of the employers table."""

MEMBER = pl.Schema(
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
"""A registered member as validation sees it."""

HOLDER = pl.Schema([*MEMBER.items(), ("paid_through", pl.Int64)])
"""A member record as a change list is judged against it: the record and its paid-through month."""

EVENT = pl.Schema(
    {
        "id": pl.Int64,
        "member_account": pl.String,
        "month": pl.Int64,
        "old_unit": pl.String,
        "old_status": pl.String,
        "old_base_fen": pl.Int64,
    }
)
"""A member event as the roster of an earlier month needs it: when it took effect and what it replaced."""
