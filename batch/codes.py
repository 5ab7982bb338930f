"""Reason codes (SPEC §4) and the one record every check reports.

Codes are stable for machines; messages are Chinese for people and always say
what was expected and what was found. A file-level problem has no row.
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

CODES = MappingProxyType({**FILE_CODES, **ROW_CODES})


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file, a row or a cell."""

    code: str
    message: str
    row_no: int | None = None
    column: str | None = None
    member_account: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown reason code {self.code!r}")

    def as_dict(self) -> dict[str, object]:
        """The `errors[]` item of the result document (SPEC §6)."""
        d = asdict(self)
        return {k: d[k] for k in ("code", "row_no", "column", "member_account", "message")}
