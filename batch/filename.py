"""The remittance file name (SPEC §3): `{unit_account}_{YYYYMM}[_{tag}].csv|xlsx`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.codes import Problem
from schemas.formats import valid_month

_NAME = re.compile(r"^([0-9]{1,20})_([0-9]{6})(?:_([0-9A-Za-z\u4e00-\u9fff-]{1,32}))?\.(csv|xlsx)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FileName:
    unit_account: str
    month: int
    tag: str | None
    extension: str


def parse_file_name(name: str) -> FileName | Problem:
    """The unit, month and tag a file name declares, or F_NAME saying what is expected."""
    expected = "应为“单位账号_汇缴年月.csv”或“.xlsx”，可在年月后加“_标记”，如 0101000123_202611_v2.csv"
    m = _NAME.match(name)
    if not m and re.search(r"\.(xls|et|wps)$", name, re.IGNORECASE):
        return Problem(
            "F_NAME",
            f"“{name}”是旧版Excel或WPS格式，无法读取：请在Excel或WPS中另存为.xlsx或CSV（UTF-8，逗号分隔），{expected}",
        )
    if not m:
        shown = f"“{name}”" if len(name) <= 80 else f"“{name[:60]}…”（共{len(name)}个字符）"
        return Problem("F_NAME", f"文件名{expected}，实际为{shown}")
    month = int(m.group(2))
    if not valid_month(month):
        return Problem("F_NAME", f"文件名中的汇缴年月“{m.group(2)}”不是有效的年月（YYYYMM）")
    return FileName(m.group(1), month, m.group(3), m.group(4).lower())
