"""ID numbers masked wherever they leave the system: first 6 and last 4 characters shown (SPEC §6).

Two inputs, one rule: a polars column of ID numbers (results, messages) and
free text that may quote one (a log line, a driver's error).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


def mask_id(number: pl.Expr) -> pl.Expr:
    """First 6 and last 4 characters shown; shorter numbers wholly masked."""
    import polars as pl  # here, so that masking a log line never loads polars

    n = number.str.len_chars()
    stars = pl.lit("*").repeat_by(n - 10).list.join("")
    return (
        pl.when(n > 10)
        .then(number.str.slice(0, 6) + stars + number.str.tail(4))
        .otherwise(pl.lit("*").repeat_by(n).list.join(""))
    )


def masked_id(number: str) -> str:
    """`mask_id` for one Python string (a console page's single ID number)."""
    n = len(number)
    return number[:6] + "*" * (n - 10) + number[-4:] if n > 10 else "*" * n


_ID_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{6})([0-9]{5,8})([0-9]{3}[0-9Xx])(?![0-9])")


def mask_ids_in(text: str) -> str:
    """Free text with every 15- to 18-character ID-like number masked as `mask_id` does.

    Log lines and stored errors can carry a driver's or library's message that
    quotes a value; whatever it quotes, a resident ID number never leaves whole.
    """
    return _ID_IN_TEXT.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
