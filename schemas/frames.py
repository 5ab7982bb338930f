"""The shapes of the frames the core passes between its steps and writes out.

Problems stay frames (a million bad rows are never a million objects); the
result CSV and the reconciliation have fixed columns that employers and
finance staff rely on (SPEC §6, §7).
"""

from __future__ import annotations

import polars as pl

ROW_PROBLEM = pl.Schema({"row_no": pl.Int64, "code": pl.String, "column": pl.String, "message": pl.String})
"""One problem of one row, as every row rule returns it."""

ERROR = pl.Schema(
    {"code": pl.String, "row_no": pl.Int64, "column": pl.String, "member_account": pl.String, "message": pl.String}
)
"""One `errors[]` item of a result document (SPEC §6), in its order."""

RESULT_CSV_COLUMNS = (
    "row_no",
    "member_account",
    "name",
    "id_number",
    "base",
    "employer_amount",
    "employee_amount",
    "total_amount",
    "status",
    "reason_codes",
    "message",
)
"""The header of `X.result.csv` (SPEC §6)."""
RESULT_LINE = pl.Schema({c: pl.Int64 if c == "row_no" else pl.String for c in RESULT_CSV_COLUMNS})

RECONCILIATION_CSV_COLUMNS = (
    "unit_account",
    "employer_name",
    "status",
    "files",
    "rows_received",
    "rows_posted",
    "members_active",
    "amount_due",
    "amount_received",
    "amount_posted",
    "suspense_opening",
    "suspense_closing",
)
"""The header of `reconciliation_YYYYMM.csv` (SPEC §7)."""
RECONCILIATION_LINE = pl.Schema(
    {
        "unit_account": pl.String,
        "employer_name": pl.String,
        "status": pl.String,
        "files": pl.Int64,
        "rows_received": pl.Int64,
        "rows_posted": pl.Int64,
        "members_active": pl.Int64,
        "amount_due_fen": pl.Int64,
        "amount_received_fen": pl.Int64,
        "amount_posted_fen": pl.Int64,
        "suspense_opening_fen": pl.Int64,
        "suspense_closing_fen": pl.Int64,
    }
)
"""One employer's line of the reconciliation, money in fen (null where the mode has no such figure)."""
