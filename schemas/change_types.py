"""The words of a member change list (SPEC §3.2): change types, their labels, reasons and the cells each needs.

Apart from the pandera model (`schemas.changes`), so the database tables and
the command line name a change without loading pandera.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class Change(StrEnum):
    OPEN = "open"
    """开户: a new account here, or an existing sealed one moving here (转入)."""
    SEAL = "seal"
    UNSEAL = "unseal"
    BASE = "base"


CHANGE_TYPES = MappingProxyType(
    {
        "开户": Change.OPEN,
        "封存": Change.SEAL,
        "启封": Change.UNSEAL,
        "基数调整": Change.BASE,
        **{c.value: c for c in Change},
    }
)
"""What a 变更类型 cell may say (Chinese or English, English case-insensitive) -> the change."""

CHANGE_LABELS = MappingProxyType(
    {Change.OPEN: "开户", Change.SEAL: "封存", Change.UNSEAL: "启封", Change.BASE: "基数调整"}
)

SEAL_REASONS = MappingProxyType({"1": "保留劳动关系停发工资", "2": "符合销户条件暂不支取", "3": "调动暂不转移"})
UNSEAL_REASONS = MappingProxyType({"1": "正常", "2": "错误封存"})

NEEDS = MappingProxyType(
    {
        "member_account": (Change.SEAL, Change.UNSEAL, Change.BASE),
        "id_number": (Change.OPEN,),
        "base": (Change.OPEN, Change.UNSEAL, Change.BASE),
        "reason": (Change.SEAL, Change.UNSEAL),
    }
)
"""Cells required by change type (SPEC §3.2 table); 变更类型 and 姓名 are required on every row."""
