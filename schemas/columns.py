"""The columns of a remittance file (SPEC §3): canonical names, Chinese labels, header aliases."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    label: str
    required: bool
    money: bool = False
    rate: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("member_account", "个人账号", True),
    Column("name", "姓名", True),
    Column("id_type", "证件类型", False),
    Column("id_number", "证件号码", True),
    Column("base", "缴存基数", True, money=True),
    Column("employer_rate", "单位缴存比例", True, rate=True),
    Column("employee_rate", "个人缴存比例", True, rate=True),
    Column("employer_amount", "单位月缴存额", True, money=True),
    Column("employee_amount", "个人月缴存额", True, money=True),
    Column("total_amount", "月缴存额合计", True, money=True),
    Column("contribution_month", "汇缴年月", False),
)

BY_NAME = MappingProxyType({c.name: c for c in COLUMNS})
LABEL = MappingProxyType({c.name: c.label for c in COLUMNS})
MONEY = tuple(c.name for c in COLUMNS if c.money)
RATES = tuple(c.name for c in COLUMNS if c.rate)
REQUIRED = tuple(c.name for c in COLUMNS if c.required)

ALIASES = MappingProxyType({alias: c.name for c in COLUMNS for alias in (c.name, c.label)})
"""Header text (stripped; English case-insensitive) -> canonical name."""


def canonical(header: str) -> str | None:
    """The canonical column a header names, or None for a column we do not read."""
    h = header.strip().lstrip("\ufeff").strip()
    return ALIASES.get(h) or ALIASES.get(h.lower())
