"""The ready marker `<file>.done` (SPEC §2): optional `rows=`, `total=`, `sha256=` lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

from batch.money import format_yuan, parse_yuan
from schemas.codes import Problem


@dataclass(frozen=True, slots=True)
class Manifest:
    rows: int | None = None
    total_fen: int | None = None
    sha256: str | None = None


def parse_manifest(data: bytes, *, code: str = "F_MANIFEST", signed: bool = False) -> Manifest | list[Problem]:
    """The declared values; unknown keys are ignored so employers' tools may add their own.

    `signed`: the total may be negative (an arrival file's movements go both ways).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [Problem(code, "标记文件应为UTF-8文本")]
    values: dict[str, str] = {}
    problems: list[Problem] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, eq, value = line.partition("=")
        if not eq:
            problems.append(Problem(code, f"标记文件第{n}行应为“键=值”，实际为“{line.strip()[:80]}”"))
            continue
        values[key.strip().lower()] = value.strip()
    rows = total = sha = None
    if "rows" in values:
        rows = int(values["rows"]) if re.fullmatch(r"[0-9]{1,9}", values["rows"]) else None
        if rows is None:
            problems.append(Problem(code, f"标记文件rows应为非负整数，实际为“{values['rows'][:40]}”"))
    if "total" in values:
        negative = signed and values["total"].startswith("-")
        total = parse_yuan(values["total"][1:] if negative else values["total"])
        if total is not None and negative:
            total = -total
        if total is None:
            problems.append(Problem(code, f"标记文件total应为金额（元，两位小数），实际为“{values['total'][:40]}”"))
    if "sha256" in values:
        sha = values["sha256"].lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            problems.append(Problem(code, f"标记文件sha256应为64位十六进制，实际为“{values['sha256'][:80]}”"))
    return problems or Manifest(rows, total, sha)


def manifest_problems(
    manifest: Manifest,
    *,
    rows: int,
    total_fen: int | None,
    sha256: str,
    code: str = "F_MANIFEST",
    totalled: str = "月缴存额合计之和",
) -> list[Problem]:
    """Where the file disagrees with its marker. `total_fen` is None when some total is unreadable."""
    problems = []
    if manifest.sha256 is not None and manifest.sha256 != sha256:
        problems.append(
            Problem(
                code,
                f"文件的SHA-256应为标记文件中的{manifest.sha256}，实际为{sha256}（文件可能未传完整或已被修改）",
            )
        )
    if manifest.rows is not None and manifest.rows != rows:
        problems.append(Problem(code, f"数据行数应为标记文件中的{manifest.rows}行，实际为{rows}行"))
    if manifest.total_fen is not None and total_fen is not None and manifest.total_fen != total_fen:
        diff = total_fen - manifest.total_fen
        problems.append(
            Problem(
                code,
                f"{totalled}应为标记文件中的{format_yuan(manifest.total_fen)}元，实际为{format_yuan(total_fen)}元"
                f"（{'多' if diff > 0 else '少'}{format_yuan(abs(diff))}元）",
            )
        )
    return problems
