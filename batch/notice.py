"""The funds settings and the payment notice (汇缴通知) of a list that waits for its money (SPEC §6, §9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from batch.reference import reference

ARRIVAL, IMMEDIATE = "arrival", "immediate"


@dataclass(frozen=True, slots=True)
class Funds:
    """`[funds]`: how money is known to have come, and what the payment notice says."""

    mode: str = ARRIVAL
    accounts: tuple[str, ...] = ()
    """The centre's collection accounts (收款账号); the notice names the first."""
    account_name: str = "成都住房公积金管理中心"
    bank: str = "中国建设银行成都市分行"
    pay_days: int = 5
    expire_days: int = 30

    @property
    def arrival(self) -> bool:
        return self.mode == ARRIVAL


def payment_notice(
    funds: Funds, unit: str, month: int, total_fen: int, suspense_fen: int, since: date
) -> dict[str, Any]:
    """`result.json`'s `payment`: pay `outstanding_fen` by `pay_by` to the account, the reference in the memo."""
    return {
        "reference": reference(unit, month),
        "amount_fen": total_fen,
        "outstanding_fen": max(0, total_fen - max(0, suspense_fen)),
        "pay_by": (since + timedelta(days=funds.pay_days)).isoformat(),
        "account_name": funds.account_name,
        "account": funds.accounts[0] if funds.accounts else None,
        "bank": funds.bank,
    }
