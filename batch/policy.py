"""Contribution policy: periods with base bounds and rates, and the rounding methods.

A centre sets, per contribution year, a base cap, a base floor per wage tier
(the local minimum wage differs by district) and a rate range; each employer
rounds each part by its own method. All arithmetic is on integers: a base in
fen times a rate in basis points is exact, and rounding is integer division.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import polars as pl

ROUNDING_METHODS: tuple[str, ...] = (
    "fen_half_up",
    "jiao_half_up",
    "yuan_half_up",
    "fen_down",
    "jiao_down",
    "yuan_down",
    "fen_up",
    "jiao_up",
    "yuan_up",
)

ROUNDING_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "fen_half_up": "四舍五入到分",
        "jiao_half_up": "四舍五入到角",
        "yuan_half_up": "四舍五入到元",
        "fen_down": "分以下舍去",
        "jiao_down": "角以下舍去",
        "yuan_down": "元以下舍去",
        "fen_up": "见厘进分",
        "jiao_up": "见分进角",
        "yuan_up": "见角进元",
    }
)

_UNIT_FEN = {"fen": 1, "jiao": 10, "yuan": 100}
BP = 10_000
"""Basis points in one: base_fen × rate_bp is in units of 1/10000 fen."""

N = TypeVar("N", int, "pl.Expr")


def round_amount(base_fen: N, rate_bp: N, method: str) -> N:
    """base × rate rounded by `method`, in fen.

    One formula serves every method: ``((base·rate + offset) // U) · u`` where U
    is the rounding unit in 1/10000 fen. Half-up adds U/2; down adds nothing;
    the "up" methods round up when the cut-off part is at least a tenth of the
    unit (见角进元: 0.1 yuan), so they add U − U/10. It works unchanged on Python
    ints and on polars expressions, so the vectorised check and the tests agree.
    Inputs are non-negative (negatives are rejected before).
    """
    u, big, offset = rounding_terms(method)
    return ((base_fen * rate_bp + offset) // big) * u


def rounding_terms(method: str) -> tuple[int, int, int]:
    """`round_amount`'s (u, U, offset) for `method`: as columns, one expression rounds many files' methods."""
    unit, _, mode = method.partition("_")
    if method not in ROUNDING_METHODS:
        raise ValueError(f"unknown rounding method {method!r}")
    u = _UNIT_FEN[unit]
    big = u * BP
    return u, big, {"half_up": big // 2, "down": 0, "up": big - big // 10}[mode]


@dataclass(frozen=True, slots=True)
class Period:
    """One contribution year (or any span of months) and its bounds."""

    first_month: int
    last_month: int
    base_cap_fen: int
    base_floor_fen: Mapping[int, int]
    rate_min_bp: int
    rate_max_bp: int
    whole_percent: bool = True
    rounding: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_floor_fen", MappingProxyType(dict(self.base_floor_fen)))

    def covers(self, month: int) -> bool:
        return self.first_month <= month <= self.last_month


@dataclass(frozen=True, slots=True)
class Policy:
    """Every configured period, and the centre's default rounding method."""

    periods: tuple[Period, ...]
    default_rounding: str = "yuan_up"

    def period_for(self, month: int) -> Period | None:
        return next((p for p in self.periods if p.covers(month)), None)

    def rounding_for(self, month: int, employer_rounding: str | None) -> str:
        """The employer's own method, else the period's, else the centre default."""
        period = self.period_for(month)
        return employer_rounding or (period.rounding if period else None) or self.default_rounding


_PROFILES: Mapping[str, tuple[Period, ...]] = MappingProxyType(
    {
        # 成公积金委〔2026〕5号: contribution year 2026 (July to June); floors are
        # Sichuan's minimum wage tiers (tier 1 城市新区/中心城区, tier 2 县市新城).
        "chengdu": (
            Period(
                first_month=202607,
                last_month=202706,
                base_cap_fen=3_296_900,
                base_floor_fen={1: 233_000, 2: 220_000},
                rate_min_bp=500,
                rate_max_bp=1200,
                whole_percent=True,
                rounding="yuan_up",
            ),
        ),
    }
)

PROFILES: tuple[str, ...] = tuple(_PROFILES)


def profile_periods(name: str) -> tuple[Period, ...]:
    """The built-in periods of a named profile; KeyError for an unknown name."""
    return _PROFILES[name]


def next_month(month: int) -> int:
    """202612 -> 202701."""
    year, mon = divmod(month, 100)
    return (year + 1) * 100 + 1 if mon == 12 else month + 1


def previous_month(month: int) -> int:
    """202701 -> 202612."""
    year, mon = divmod(month, 100)
    return (year - 1) * 100 + 12 if mon == 1 else month - 1
