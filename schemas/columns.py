"""The columns of the files employers send: canonical names, Chinese labels, header aliases.

A `ColumnSet` is what the shared reader (`batch.read`) needs to know of a file
kind: the remittance list of SPEC §3 (`REMITTANCE`) and the member change
list of SPEC §3.2 (`CHANGES`) are read by the same code.
"""

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
    aliases: tuple[str, ...] = ()


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


@dataclass(frozen=True, slots=True)
class ColumnSet:
    """One file kind's columns, and what the reader derives from them."""

    kind: str
    """How people call the file: 汇缴清册, 变更清册."""
    columns: tuple[Column, ...]

    @property
    def by_name(self) -> MappingProxyType[str, Column]:
        return MappingProxyType({c.name: c for c in self.columns})

    @property
    def label(self) -> MappingProxyType[str, str]:
        return MappingProxyType({c.name: c.label for c in self.columns})

    @property
    def money(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.money)

    @property
    def rates(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.rate)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def canonical(self, header: str) -> str | None:
        """The canonical column a header names (stripped; English case-insensitive), or None."""
        aliases = {alias: c.name for c in self.columns for alias in (c.name, c.label, *c.aliases)}
        h = header.strip().lstrip("\ufeff").strip()
        return aliases.get(h) or aliases.get(h.lower())


REMITTANCE = ColumnSet("汇缴清册", COLUMNS)

CHANGE_COLUMNS: tuple[Column, ...] = (
    Column("change_type", "变更类型", True),
    Column("member_account", "个人账号", False),
    Column("name", "姓名", True),
    Column("id_type", "证件类型", False),
    Column("id_number", "证件号码", False),
    Column("base", "缴存基数", False, money=True),
    Column("reason", "原因", False),
    Column("effective_month", "生效年月", False),
)
CHANGES = ColumnSet("变更清册", CHANGE_COLUMNS)
"""The member change list (SPEC §3.2): which columns a row needs depends on its change type."""

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
