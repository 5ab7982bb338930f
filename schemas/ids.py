"""Check characters of the resident ID (GB 11643) and the credit code (GB 32100).

The resident ID check is ISO 7064 MOD 11-2 over 17 digits; the unified social
credit code check is MOD 31 over a 31-character alphabet. The ID check exists
as a scalar function and as a polars expression (for a million rows); tests
hold the two to the same answers.
"""

from __future__ import annotations

from datetime import date

import polars as pl

RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RIC_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

RIC_PROBLEMS = {
    "length": "应为18位",
    "chars": "前17位应为数字、第18位应为数字或X",
    "birthdate": "出生日期无效",
    "check": "校验位错误",
}
"""Why a resident ID number is malformed, in the order the checks run."""


def ric_check_char(first17: str) -> str:
    """The 18th character of a resident ID number (GB 11643, MOD 11-2)."""
    total = sum(int(c) * w for c, w in zip(first17, RIC_WEIGHTS, strict=True))
    return RIC_CHECK[total % 11]


def ric_problem(number: str, today: date | None = None) -> str | None:
    """Why `number` is not a valid resident ID (a key of RIC_PROBLEMS), or None.

    Lower-case x is accepted as X. The birth date must be a real day from 1800
    on and not after `today` (when given). The address code is not checked:
    residence permits (81/82/83) and retired districts are real numbers too.
    """
    n = number.strip().upper()
    if len(n) != 18:
        return "length"
    if not (n[:17].isascii() and n[:17].isdigit() and n[17] in "0123456789X"):
        return "chars"
    try:
        born = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return "birthdate"
    if born.year < 1800 or (today is not None and born > today):
        return "birthdate"
    if ric_check_char(n[:17]) != n[17]:
        return "check"
    return None


def ric_problem_expr(number: pl.Expr, today: date) -> pl.Expr:
    """`ric_problem` as a polars expression over stripped, upper-cased text (null in, null out)."""
    digits17 = number.str.slice(0, 17)
    total = pl.sum_horizontal(
        [digits17.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(RIC_WEIGHTS)]
    )
    check = total.mod(11).replace_strict(list(range(11)), list(RIC_CHECK), return_dtype=pl.String)
    born = number.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    return (
        pl.when(number.is_null())
        .then(None)
        .when(number.str.len_chars() != 18)
        .then(pl.lit("length"))
        .when(~number.str.contains(r"^[0-9]{17}[0-9X]$"))
        .then(pl.lit("chars"))
        .when(born.is_null() | (born < date(1800, 1, 1)) | (born > today))
        .then(pl.lit("birthdate"))
        .when(check != number.str.slice(17, 1))
        .then(pl.lit("check"))
    )


def uscc_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code (GB 32100, MOD 31)."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why `code` is not a valid credit code, in Chinese, or None.

    Only the alphabet and the check character are checked: positions 1–2 take
    more values (A, N, Y) than some libraries allow, and districts change.
    """
    c = code.strip().upper()
    if len(c) != 18:
        return f"应为18位，实际为{len(c)}位"
    bad = [ch for ch in c if ch not in USCC_ALPHABET]
    if bad:
        return f"含有不允许的字符“{bad[0]}”（不使用I、O、S、V、Z）"
    expected = uscc_check_char(c[:17])
    if c[17] != expected:
        return f"校验位错误：应为{expected}，实际为{c[17]}"
    return None
