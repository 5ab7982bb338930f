"""Every status the system records or reports, typed (SPEC §3, §6, §7, §8).

They are `StrEnum`s: a member is its code (`BatchStatus.POSTED == "POSTED"`),
so the database, JSON documents and CSV cells carry the same text as before,
while the code names each state once.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class BatchStatus(StrEnum):
    """What became of one arrival of a file (SPEC §7)."""

    RECEIVED = "RECEIVED"
    """Claimed; its outcome is not decided yet."""
    AWAITING_FUNDS = "AWAITING_FUNDS"
    """A valid remittance list waiting for its money (SPEC §9)."""
    POSTED = "POSTED"
    APPLIED = "APPLIED"
    """A member change list whose changes are in force (SPEC §3.2)."""
    REJECTED = "REJECTED"
    DUPLICATE = "DUPLICATE"
    FAILED = "FAILED"
    """A technical failure, never bad data; retried."""
    REVERSED = "REVERSED"
    BOOKED = "BOOKED"
    """A bank arrival file whose movements are booked (SPEC §9)."""
    EXPIRED = "EXPIRED"
    """A list whose money did not come within `funds.expire_days`."""
    SUPERSEDED = "SUPERSEDED"
    """An awaiting list replaced by a later valid list for the same month."""


class Step(StrEnum):
    """How far a batch has come; a rerun resumes after the last step completed.

    Its outcome is decided (and, if POSTED, posted) in one transaction; then
    its results are published; then its source is archived.
    """

    CLAIMED = "claimed"
    DECIDED = "decided"
    PUBLISHED = "published"
    ARCHIVED = "archived"


STEP_LABELS = MappingProxyType(
    {
        Step.CLAIMED: "读取与检查（claimed）",
        Step.DECIDED: "上传结果（decided）",
        Step.PUBLISHED: "归档源文件（published）",
        Step.ARCHIVED: "已完成（archived）",
    }
)
"""Where a batch stands, in words: the next thing it has to do."""


class RowStatus(StrEnum):
    """The `status` of one line of `X.result.csv` (SPEC §6)."""

    POSTED = "POSTED"
    REJECTED = "REJECTED"
    NOT_POSTED = "NOT_POSTED"
    """The row is fine but its file was not posted."""
    MISSING = "MISSING"
    """An active member with no row."""
    APPLIED = "APPLIED"
    """A change list's row that took effect."""
    NOT_APPLIED = "NOT_APPLIED"
    """A change list's row that is fine, in a list that was rejected."""


class Outcome(StrEnum):
    """What one call of the pipeline did with one ready file."""

    POSTED = "POSTED"
    APPLIED = "APPLIED"
    AWAITING_FUNDS = "AWAITING_FUNDS"
    BOOKED = "BOOKED"
    REJECTED = "REJECTED"
    DUPLICATE = "DUPLICATE"
    REVERSED = "REVERSED"
    """Already finished earlier, and reversed since."""
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    FAILED = "FAILED"
    BUSY = "BUSY"
    """Another worker holds the batch right now."""
    WAITING = "WAITING"
    """It failed before and its next retry is not due yet."""
    EXHAUSTED = "EXHAUSTED"
    """It failed before and used up its attempts: only a person reruns it."""

    @classmethod
    def of(cls, status: BatchStatus) -> Outcome:
        """The outcome of a batch that reached `status`."""
        return cls(status.value)


STANDING = frozenset(
    {
        BatchStatus.POSTED, BatchStatus.APPLIED, BatchStatus.AWAITING_FUNDS, BatchStatus.BOOKED,
        BatchStatus.RECEIVED, BatchStatus.FAILED,
    }
)  # fmt: skip
"""A batch that stands: its outcome holds, or it is still in progress (SPEC §4 F_DUPLICATE_FILE).

A file whose earlier batches all ended otherwise (REJECTED, REVERSED, …) is
validated afresh when sent again.
"""
OWNS_RESULTS = frozenset({BatchStatus.POSTED, BatchStatus.APPLIED, BatchStatus.AWAITING_FUNDS, BatchStatus.BOOKED})
"""A batch whose result files no other batch may replace (SPEC §6 result names)."""

RESULT_STATUSES = (
    BatchStatus.POSTED, BatchStatus.AWAITING_FUNDS, BatchStatus.REJECTED, BatchStatus.DUPLICATE,
    BatchStatus.EXPIRED, BatchStatus.SUPERSEDED, BatchStatus.REVERSED,
)  # fmt: skip
"""The statuses of a remittance list whose results go back to the employer."""
CHANGE_RESULT_STATUSES = (BatchStatus.APPLIED, BatchStatus.REJECTED, BatchStatus.DUPLICATE)
"""The statuses of a member change list whose results go back to the employer (SPEC §6)."""

EMPLOYER_STATUSES = MappingProxyType({"01": "正常", "02": "开户", "03": "缓缴", "04": "销户", "05": "封存"})
FILING_STATUSES = frozenset({"01", "02", "03"})
"""Employer statuses that may file (SPEC §4 F_EMPLOYER_STATUS)."""
OPENED = "02"
"""An employer that was only opened; it becomes normal (01) once it has paid."""
MEMBER_STATUSES = MappingProxyType({"normal": "正常", "sealed": "封存", "closed": "销户"})

STATUS_LABELS = MappingProxyType(
    {
        BatchStatus.RECEIVED: "处理中",
        BatchStatus.POSTED: "已入账",
        BatchStatus.APPLIED: "已办理变更",
        BatchStatus.REJECTED: "已退回，未入账",
        BatchStatus.DUPLICATE: "重复文件，未处理",
        BatchStatus.FAILED: "处理失败，待重试",
        BatchStatus.REVERSED: "已冲销",
        BatchStatus.AWAITING_FUNDS: "待到账入账",
        BatchStatus.BOOKED: "到账已登记",
        BatchStatus.EXPIRED: "逾期未到账，已失效",
        BatchStatus.SUPERSEDED: "已被新清册取代",
        "VALID": "检查通过",
    }
)
"""Chinese beside every batch status people read (result files, the terminal)."""

ROW_STATUS_LABELS = MappingProxyType(
    {
        RowStatus.POSTED: "已入账",
        RowStatus.REJECTED: "有错误",
        RowStatus.NOT_POSTED: "未入账",
        RowStatus.MISSING: "缺少缴存行",
        RowStatus.APPLIED: "已办理",
        RowStatus.NOT_APPLIED: "未办理",
    }
)
"""Chinese beside the status of each line of a result file."""
