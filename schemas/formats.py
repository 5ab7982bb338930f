"""The formats identifiers and months must have, written once for every file kind and the database.

Regexes are in the syntax polars (Rust) and Python share, with [0-9] rather
than \\d, so full-width digits never pass for ASCII ones.
"""

from __future__ import annotations

ACCOUNT = r"^[0-9]{1,20}$"
"""A unit or member account: 1 to 20 ASCII digits."""
MONTH = r"^[0-9]{4}(0[1-9]|1[0-2])$"
"""A month as YYYYMM."""


def valid_month(month: int) -> bool:
    """Whether an integer is a month YYYYMM of the years 1900–9999."""
    return 1900 <= month // 100 <= 9999 and 1 <= month % 100 <= 12
