"""The longest texts the register stores: the database columns' sizes, and the master files' limits."""

from __future__ import annotations

NAME_CHARS = 100
"""The longest member name stored (the members table's column): longer is a line problem, not a truncation."""
ID_CHARS = 40
EMPLOYER_NAME_CHARS = 200
