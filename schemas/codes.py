"""Reason codes and the one record every check reports, whatever it checks.

A remittance file's problems (SPEC §4), a master-data line's (SPEC §8), a
ledger invariant that does not hold (`hpf verify`) and a reconciliation
total that disagrees are all a `Problem` (like beancount's one error
protocol): a stable code for machines, a Chinese message for people that says
what was expected and what was found, and where it is, as far as it applies.
A file-level problem has no row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import MappingProxyType

FILE_CODES = MappingProxyType(
    {
        "F_DUPLICATE_FILE": "重复文件",
        "F_TOO_LARGE": "文件过大",
        "F_NAME": "文件名不符合规范",
        "F_UNIT_MISMATCH": "单位账号与所在目录不符",
        "F_EMPLOYER_UNKNOWN": "单位不存在",
        "F_EMPLOYER_STATUS": "单位状态不允许汇缴",
        "F_MONTH_FUTURE": "汇缴年月晚于当前月份",
        "F_MONTH_NOT_DUE": "汇缴年月不是应缴月份",
        "F_NO_POLICY": "该月份未配置缴存政策",
        "F_ENCODING": "文件编码无法识别",
        "F_FORMAT": "文件格式错误",
        "F_COLUMNS": "列缺失或重复",
        "F_MANIFEST": "标记文件与文件内容不符",
        "F_ROSTER_MISSING": "在册职工缺少缴存行",
        "F_ROW_ERRORS": "存在错误行",
    }
)

ROW_CODES = MappingProxyType(
    {
        "R_REQUIRED": "必填项为空",
        "R_NUMBER": "数值无效",
        "R_ACCOUNT_FORMAT": "个人账号格式错误",
        "R_ACCOUNT_UNKNOWN": "个人账号不存在",
        "R_ACCOUNT_OTHER_EMPLOYER": "个人账号属于其他单位",
        "R_ACCOUNT_SEALED": "个人账户已封存",
        "R_ACCOUNT_CLOSED": "个人账户已销户",
        "R_NAME_MISMATCH": "姓名与登记不符",
        "R_ID_TYPE": "证件类型无效",
        "R_ID_INVALID": "身份证号码无效",
        "R_ID_MISMATCH": "证件号码与登记不符",
        "R_BASE_RANGE": "缴存基数超出上下限",
        "R_BASE_MISMATCH": "缴存基数与登记不符",
        "R_RATE_RANGE": "缴存比例超出范围",
        "R_RATE_MISMATCH": "缴存比例与单位登记不符",
        "R_AMOUNT": "月缴存额计算错误",
        "R_TOTAL": "合计错误",
        "R_DUPLICATE": "个人账号重复",
        "R_MONTH": "汇缴年月与文件不符",
    }
)

CHANGE_CODES = MappingProxyType(
    {
        "C_TYPE": "变更类型无效",
        "C_STATE": "变更与账户状态不符",
        "C_ACTIVE_ELSEWHERE": "该职工在其他单位为正常缴存状态",
        "C_REASON": "封存或启封原因无效",
        "C_MONTH": "生效年月无效",
    }
)
"""Change-list row codes (SPEC §4, §3.2), besides the R_ codes they share with remittance lists."""

MASTER_CODES = MappingProxyType(
    {
        "M_FILE": "主数据文件无法读取",
        "M_COLUMNS": "主数据列缺失或未知",
        "M_VALUE": "主数据行有误",
    }
)
"""Problems of `employers.csv` and `members.csv` (SPEC §8)."""

LEDGER_CODES = MappingProxyType(
    {
        "L_BALANCE": "账户余额不等于分录之和",
        "L_CONTROL": "控制账户与个人账户不对应",
        "L_UNBALANCED": "批次分录借贷不平衡",
        "L_BATCH_TOTAL": "批次入账金额与分录不符",
        "L_ORPHAN": "分录、缴存或变更记录无所属",
        "L_DOUBLE_DEPOSIT": "同一职工同一月份重复缴存",
        "L_MONTH_TOTAL": "本月入账合计与账本不符",
        "L_PAID_THROUGH": "缴至年月与入账记录不符",
        "L_EVENTS": "账户状态与变更记录不符",
        "L_FUNDS": "资金去向与到账不符",
        "L_SUSPENSE": "单位暂收余额与其分录不符或为负",
    }
)
"""Ledger invariants that do not hold (`hpf verify`, the reconciliation's control totals)."""

BANK_CODES = MappingProxyType(
    {
        "B_FORMAT": "到账通知格式错误",
        "B_ENCODING": "到账通知编码无法识别",
        "B_MANIFEST": "标记文件与到账通知不符",
        "B_ACCOUNT": "到账通知的帐号不是本中心的收款账号",
        "B_CURRENCY": "币别不是人民币",
        "B_CONFLICT": "同一银行流水号内容不同",
    }
)
"""An arrival file's problems (SPEC §9): any of them rejects the whole file, nothing booked."""

CODES = MappingProxyType({**FILE_CODES, **ROW_CODES, **CHANGE_CODES, **MASTER_CODES, **LEDGER_CODES, **BANK_CODES})


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file, a row or a cell."""

    code: str
    message: str
    row_no: int | None = None
    column: str | None = None
    member_account: str | None = None
    source: str | None = None
    """The file it is about where several are in play (a master import reads two)."""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown reason code {self.code!r}")

    def as_dict(self) -> dict[str, object]:
        """The `errors[]` item of the result document (SPEC §6)."""
        d = asdict(self)
        return {k: d[k] for k in ("code", "row_no", "column", "member_account", "message")}

    def __str__(self) -> str:
        """`source 第N行 column: message`, each part only where known (for the terminal)."""
        if self.source is None and self.row_no is None and self.column is None:
            return self.message
        where = f"第{self.row_no}行" if self.row_no else ""
        column = f" {self.column}" if self.column else ""
        return f"{self.source or ''} {where}{column}: {self.message}".replace("  ", " ").strip()
