"""Regenerate every sample under samples/: master data, valid files, one folder per defect.

    PYTHONPATH=. python samples/make_samples.py

The samples are the November 2026 filing (today = 2026-11-22, month 202611) of
four Chengdu employers. They are test cases and the demo's input at once:
`valid/` must validate with zero problems, and each `invalid/<defect>/` holds
one file with exactly one defect plus `expected.json`, the codes the validator
must report, written here from SPEC.md §4, never copied from the validator.

Amounts are computed here independently of `batch.policy` (SPEC §4 rounding
text, Decimal arithmetic), so a rounding bug in the product cannot leak into
the samples. Only the check characters come from `schemas.ids`, as the brief asks.
Output is byte-for-byte deterministic: no clocks, no randomness.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from batch.master_files import EMPLOYER_COLUMNS, MEMBER_COLUMNS  # noqa: E402
from schemas.columns import BY_NAME, LABEL  # noqa: E402
from schemas.ids import ric_check_char, uscc_check_char  # noqa: E402

MONTH = "202611"

# ------------------------------------------------------------------ identifiers

_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code(first8: str) -> str:
    """A 9-character organisation code (GB 11714): 8 characters and their check character."""
    c = 11 - sum(_ORG_ALPHABET.index(ch) * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True)) % 11
    return first8 + {10: "X", 11: "0"}.get(c, str(c))


def credit_code(area: str, org8: str) -> str:
    """统一社会信用代码: 9 (market regulator) 1 (enterprise), area, organisation code, GB 32100 check."""
    first17 = "91" + area + org_code(org8)
    return first17 + uscc_check_char(first17)


def resident_id(area: str, born: str, seq: str) -> str:
    """A resident ID number (GB 11643): area, birth date, 3-digit sequence (odd = male), check."""
    first17 = area + born + seq
    return first17 + ric_check_char(first17)


def resident_id_ending_x(area: str, born: str, seq_from: int) -> str:
    """The first resident ID from `seq_from` on whose check character is X."""
    for seq in range(seq_from, 1000, 2):
        number = resident_id(area, born, f"{seq:03d}")
        if number.endswith("X"):
            return number
    raise AssertionError("no sequence gives X")


# ------------------------------------------------------------------ master data


@dataclass(frozen=True)
class Employer:
    unit_account: str
    name: str
    credit_code: str
    status: str
    rate: int  # whole percent, the same for employer and employee here
    wage_tier: int
    rounding: str  # "" = the centre default (yuan_up)
    paid_through: str


@dataclass(frozen=True)
class Member:
    member_account: str
    unit_account: str
    name: str
    id_type: str
    id_number: str
    base: str  # yuan, as written in members.csv
    status: str
    paid_through: str


A = Employer("0101000123", "成都锦城云数科技有限公司", credit_code("510107", "MA6CQ7P2"), "01", 12, 1, "", "202610")
B = Employer(
    "0101000456", "都江堰市青城山茶业有限公司", credit_code("510181", "MA62XN3L"), "02", 5, 2, "yuan_half_up", ""
)
C = Employer("0101000789", "成都蓉兴商贸有限公司", credit_code("510104", "72034518"), "04", 12, 1, "", "202610")
D = Employer("0101000321", "成都少城文化传播有限公司", credit_code("510105", "MA6DJ41W"), "03", 8, 1, "", "202610")
EMPLOYERS = (A, B, C, D)


def roster(e: Employer, *people: tuple[str, str, str, str, str, str]) -> tuple[Member, ...]:
    """(account suffix, name, ID number, base, status, paid through) -> members of `e`; type 01 unless not an ID."""
    prefix = "100" + e.unit_account[-3:] + "000"
    return tuple(
        Member(prefix + suffix, e.unit_account, name, "01" if len(number) == 18 else "03", number, base, status, paid)
        for suffix, name, number, base, status, paid in people
    )


RID = resident_id
A_MEMBERS = roster(
    A,
    ("001", "王建国", RID("510107", "19780315", "271"), "8765.43", "normal", "202610"),
    ("002", "李晓燕", RID("510104", "19851120", "462"), "5000.50", "normal", "202610"),
    ("003", "张伟", RID("510106", "19900708", "135"), "32969.00", "normal", "202610"),
    ("004", "刘芳", resident_id_ending_x("510108", "19991203", 208), "2330.00", "normal", "202610"),
    ("005", "陈志强", RID("510112", "19830224", "357"), "6543.21", "normal", "202610"),
    ("006", "杨丽", RID("500103", "19870911", "046"), "12000.00", "normal", "202610"),
    ("007", "赵敏", RID("510107", "19920416", "528"), "4800.00", "sealed", "202605"),
    ("008", "黄磊", RID("513702", "19750630", "219"), "3600.00", "closed", "202512"),
)
B_MEMBERS = roster(
    B,
    ("001", "周婷", RID("510181", "19960105", "324"), "2330.00", "normal", ""),
    ("002", "吴海涛", RID("510181", "19810817", "153"), "2200.00", "normal", ""),
    ("003", "徐静", RID("510182", "19890322", "086"), "4321.00", "normal", ""),
    # 𠮷 (U+20BB7) is outside GBK: four bytes in GB18030, so the file must be read as GB18030.
    ("004", "王𠮷", RID("510181", "20010909", "013"), "5678.90", "normal", ""),
)
C_MEMBERS = roster(
    C,
    # The centre closed the employer (business licence revoked); its members are not yet transferred.
    ("001", "郑丽娟", RID("510104", "19860512", "408"), "4000.00", "normal", "202610"),
    ("002", "冯刚", RID("510104", "19790119", "331"), "5500.00", "normal", "202610"),
)
D_MEMBERS = roster(
    D,
    ("001", "马俊", RID("510105", "19930214", "173"), "6543.00", "normal", "202610"),
    ("002", "胡晓梅", RID("510122", "19880728", "264"), "7777.77", "normal", "202610"),
    ("003", "MUELLER ANNA", "C01X00T47", "15000.00", "normal", "202610"),  # passport: 证件类型 03
    ("004", "何雪", RID("510105", "19950601", "502"), "6000.00", "normal", "202610"),
)
MEMBERS = (*A_MEMBERS, *B_MEMBERS, *C_MEMBERS, *D_MEMBERS)
BY_ACCOUNT = {m.member_account: m for m in MEMBERS}
EMPLOYER_OF = {e.unit_account: e for e in EMPLOYERS}


def normal(members: tuple[Member, ...]) -> list[Member]:
    return [m for m in members if m.status == "normal"]


# -------------------------------------------------------------------- arithmetic


def part(base: str, rate: int, rounding: str) -> Decimal:
    """base × rate% to the yuan: yuan_up (见角进元: up when the fraction is ≥ 0.1) or yuan_half_up."""
    exact = Decimal(base.replace(",", "")) * rate / 100
    whole = exact.to_integral_value(ROUND_FLOOR)
    fraction = exact - whole
    if rounding in ("", "yuan_up"):
        return whole + (1 if fraction >= Decimal("0.1") else 0)
    assert rounding == "yuan_half_up", rounding
    return whole + (1 if fraction >= Decimal("0.5") else 0)


# The worked examples of DOMAIN.md §2.3, and the employer override, pinned.
assert part("32969", 12, "yuan_up") == 3957
assert part("2330", 5, "yuan_half_up") == 117
assert part("2330", 12, "yuan_up") == 280
assert part("5000.50", 12, "yuan_up") == 600  # 600.06: under a jiao, not rounded up
assert part("4321", 5, "yuan_half_up") == 216  # 216.05: yuan_up would give 217


def money(value: Decimal | str, style: str = "plain") -> str:
    """'plain' 1052.00, 'bare' 1052, 'sep' 1,052.00."""
    d = Decimal(str(value).replace(",", ""))
    if style == "bare" and d == d.to_integral_value():
        return str(int(d))
    if style == "sep":
        return f"{d:,.2f}"
    return f"{d:.2f}"


# -------------------------------------------------------------------------- rows

COLUMNS = tuple(BY_NAME)
"""The remittance columns in SPEC order: the product's own list, so samples cannot drift."""
CHINESE = dict(LABEL)


def row(
    m: Member,
    month: str = MONTH,
    *,
    unit: Employer | None = None,
    style: str = "plain",
    rate_forms: tuple[str, str] | None = None,
    **override: str,
) -> dict[str, str]:
    """A correct row for `m` as filed by `unit` (default: the member's employer), then `override`."""
    e = unit or EMPLOYER_OF[m.unit_account]
    base = override.get("base", m.base)
    er_rate = int(override.get("employer_rate", str(e.rate)).rstrip("%"))
    ee_rate = int(override.get("employee_rate", str(e.rate)).rstrip("%"))
    er, ee = part(base, er_rate, e.rounding), part(base, ee_rate, e.rounding)
    r = {
        "member_account": m.member_account,
        "name": m.name,
        "id_type": m.id_type,
        "id_number": m.id_number,
        "base": money(base, style),
        "employer_rate": rate_forms[0] if rate_forms else f"{er_rate}%",
        "employee_rate": rate_forms[1] if rate_forms else f"{ee_rate}%",
        "employer_amount": money(er, style),
        "employee_amount": money(ee, style),
        "total_amount": money(er + ee, style),
        "contribution_month": month,
    }
    r.update(override)
    return r


def csv_text(
    rows: list[dict[str, str]],
    columns: tuple[str, ...] = COLUMNS,
    *,
    headers: dict[str, str] | None = None,
    newline: str = "\n",
) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator=newline)
    w.writerow([(headers or CHINESE).get(c, c) for c in columns])
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    return out.getvalue()


def total_of(rows: list[dict[str, str]]) -> str:
    return money(sum((Decimal(r["total_amount"].replace(",", "")) for r in rows), Decimal(0)))


def marker_text(data: bytes, rows: list[dict[str, str]]) -> str:
    return f"rows={len(rows)}\ntotal={total_of(rows)}\nsha256={hashlib.sha256(data).hexdigest()}\n"


def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


# ----------------------------------------------------------------- master files


def write_master(root: Path) -> None:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(EMPLOYER_COLUMNS)
    for e in EMPLOYERS:
        w.writerow(
            (
                e.unit_account,
                e.name,
                e.credit_code,
                e.status,
                f"{e.rate}%",
                f"{e.rate}%",
                e.wage_tier,
                e.rounding,
                e.paid_through,
            )
        )
    write(root / "master" / "employers.csv", out.getvalue())
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(MEMBER_COLUMNS)
    for m in MEMBERS:
        w.writerow((m.member_account, m.unit_account, m.name, m.id_type, m.id_number, m.base, m.status, m.paid_through))
    write(root / "master" / "members.csv", out.getvalue())


# ------------------------------------------------------------------ valid files


def valid_a() -> tuple[bytes, list[dict[str, str]]]:
    """UTF-8 with BOM, Chinese headers, separators on some rows, rates as 12%, 12 and 0.12."""
    m = {x.member_account[-1]: x for x in A_MEMBERS}
    rows = [
        row(m["1"], rate_forms=("12%", "12%")),
        # Surrounding blanks in a name are ignored (SPEC §4 R_NAME_MISMATCH).
        row(m["2"], rate_forms=("12", "12"), name=f"  {m['2'].name} "),
        row(m["3"], style="sep", rate_forms=("0.12", "0.12")),  # at the cap: 3956.28 -> 3957
        # At the tier-1 floor; the ID's check character X written in lower case (accepted).
        row(m["4"], style="bare", rate_forms=("12%", "0.12"), id_number=m["4"].id_number.lower()),
        row(m["5"], rate_forms=("12", "12%"), contribution_month=""),  # month column may be blank
        row(m["6"], style="sep", rate_forms=("12%", "12")),
    ]
    return b"\xef\xbb\xbf" + csv_text(rows).encode("utf-8"), rows


B_ORDER = (
    "name",
    "member_account",
    "id_number",
    "id_type",
    "base",
    "employer_rate",
    "employer_amount",
    "employee_rate",
    "employee_amount",
    "total_amount",
)


def valid_b() -> tuple[bytes, list[dict[str, str]]]:
    """GB18030, CRLF, Chinese headers in another order, no 汇缴年月 column; rounding 四舍五入到元."""
    rows = [row(m, style="bare") for m in B_MEMBERS]
    return csv_text(rows, B_ORDER, newline="\r\n").encode("gb18030"), rows


def valid_d_xlsx() -> tuple[bytes, list[dict[str, str]]]:
    """XLSX, English headers: numeric cells for money, rates and month; IDs and accounts as text."""
    import xlsxwriter

    rows = [row(m) for m in normal(D_MEMBERS)]
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties(
        {"title": f"{D.name} {MONTH} 住房公积金汇缴清册", "author": D.name, "created": datetime(2026, 11, 20, 9, 30, 0)}
    )
    ws = wb.add_worksheet("汇缴清册")
    bold = wb.add_format({"bold": True})
    yuan, pct = wb.add_format({"num_format": "#,##0.00"}), wb.add_format({"num_format": "0%"})
    for c, name in enumerate(COLUMNS):
        ws.write_string(0, c, name, bold)
    for r, values in enumerate(rows, 1):
        for c, name in enumerate(COLUMNS):
            v = values[name]
            if name in ("base", "employer_amount", "employee_amount", "total_amount"):
                ws.write_number(r, c, float(v), yuan)
            elif name in ("employer_rate", "employee_rate"):
                ws.write_number(r, c, int(v.rstrip("%")) / 100, pct)
            elif name == "contribution_month":
                ws.write_number(r, c, int(v))
            else:
                ws.write_string(r, c, v)
    ws.set_column(0, len(COLUMNS) - 1, 16)
    wb.close()
    return buf.getvalue(), rows


def write_valid(root: Path) -> list[tuple[str, str]]:
    listing = []
    for name, (data, rows), what in (
        (
            f"{A.unit_account}_{MONTH}.csv",
            valid_a(),
            "UTF-8 with BOM, Chinese headers; thousands separators, rates as 12% / 12 / 0.12, a blank-padded name, "
            "a lower-case x check character, a blank 汇缴年月; one member at the cap (32969 × 12% → 3957), one at the "
            "tier-1 floor (2330 × 12% → 280), 5000.50 × 12% = 600.06 → 600 (under a jiao: not rounded up)",
        ),
        (
            f"{B.unit_account}_{MONTH}.csv",
            valid_b(),
            "GB18030 with CRLF, Chinese headers in another order, no 汇缴年月 column; a name with 𠮷 (4 bytes in GB18030, "
            "not in GBK); tier 2 at 5% rounded 四舍五入到元: 2330 × 5% = 116.5 → 117, 2200 (tier-2 floor) → 110, "
            "4321 × 5% = 216.05 → 216; employer status 02 (开户), no paid-through month",
        ),
        (
            f"{D.unit_account}_{MONTH}.xlsx",
            valid_d_xlsx(),
            "XLSX, English headers; money, rates (0.08 shown as 8%) and the month as numeric cells, accounts and ID "
            "numbers as text; a passport holder (证件类型 03); 8% rounded 见角进元; employer status 03 (缓缴)",
        ),
    ):
        write(root / "valid" / name, data)
        write(root / "valid" / f"{name}.done", marker_text(data, rows))
        listing.append((f"valid/{name}", what))
    data = valid_changes()
    write(root / "valid" / CHANGES_NAME, data)
    write(root / "valid" / f"{CHANGES_NAME}.done", change_marker(data))
    listing.append(
        (
            f"valid/{CHANGES_NAME}",
            "A's change list (人员变更清册), UTF-8 with BOM: 开户 of a new hire (no account: the centre assigns one), "
            "封存 of 杨丽 (reason 3 调动暂不转移), 启封 of 赵敏 with her base (reason 1), 基数调整 of 王建国 to 9,000.00",
        )
    )
    return listing


# ----------------------------------------------------------------- invalid files


@dataclass(frozen=True)
class Case:
    folder: str
    file_name: str
    data: bytes
    what: str
    codes: tuple[tuple[str, int | None, str | None], ...]
    inbox_unit: str | None = None
    marker: str | None = None


def a_rows(month: str = MONTH) -> list[dict[str, str]]:
    """A's clean November rows: every normal member once, plain forms."""
    return [row(m, month) for m in normal(A_MEMBERS)]


def utf8(rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    return csv_text(rows, columns).encode("utf-8")


def with_row(rows: list[dict[str, str]], at: int, new: dict[str, str]) -> list[dict[str, str]]:
    """Replace the data row on spreadsheet row `at` (header = 1)."""
    out = list(rows)
    out[at - 2] = new
    return out


ROW_ERRORS = ("F_ROW_ERRORS", None, None)
A_NAME = f"{A.unit_account}_{MONTH}.csv"
AM = {m.member_account[-1]: m for m in A_MEMBERS}


def cases() -> list[Case]:
    c: list[Case] = []

    # ---- file level
    c.append(
        Case(
            "f_name",
            f"汇缴清册_{A.unit_account}_{MONTH}.csv",
            utf8(a_rows()),
            "the file name has a prefix: it must start with the unit account",
            (("F_NAME", None, None),),
        )
    )
    c.append(
        Case(
            "f_unit_mismatch",
            A_NAME,
            utf8(a_rows()),
            "A's correct file uploaded into D's inbox (inbox_unit 0101000321)",
            (("F_UNIT_MISMATCH", None, None),),
            inbox_unit=D.unit_account,
        )
    )
    c.append(
        Case(
            "f_employer_unknown",
            f"0101000132_{MONTH}.csv",
            utf8(a_rows()),
            "A's file with two digits of the unit account transposed (0101000132): no such employer; "
            "nothing is checked against master data",
            (("F_EMPLOYER_UNKNOWN", None, None),),
        )
    )
    c.append(
        Case(
            "f_employer_status",
            f"{C.unit_account}_{MONTH}.csv",
            utf8([row(m) for m in C_MEMBERS]),
            "employer 0101000789 is closed (04); its file is otherwise correct",
            (("F_EMPLOYER_STATUS", None, None),),
        )
    )

    broken = csv_text(a_rows()).encode("gbk")
    cut = "张伟".encode("gbk")
    assert broken.count(cut) == 1
    broken = broken.replace(cut, cut[:-1])  # half a character, then the comma
    c.append(
        Case(
            "f_encoding",
            A_NAME,
            broken,
            "a GBK file whose row 4 lost the second byte of 伟: neither UTF-8 nor GB18030",
            (("F_ENCODING", None, None),),
        )
    )
    c.append(
        Case(
            "f_encoding_utf16",
            A_NAME,
            csv_text(a_rows()).encode("utf-16"),
            "the file saved as UTF-16 (Excel's “Unicode 文本”): neither UTF-8 nor GB18030",
            (("F_ENCODING", None, None),),
        )
    )
    c.append(
        Case("f_format_header_only", A_NAME, utf8([]), "only the header row, no data rows", (("F_FORMAT", None, None),))
    )
    c.append(
        Case(
            "f_format_xlsx_not_zip",
            f"{D.unit_account}_{MONTH}.xlsx",
            utf8([row(m) for m in normal(D_MEMBERS)]),
            "a CSV renamed to .xlsx: not a ZIP/XLSX file",
            (("F_FORMAT", None, None),),
        )
    )
    c.append(
        Case(
            "f_columns_missing",
            A_NAME,
            utf8(a_rows(), tuple(x for x in COLUMNS if x != "id_number")),
            "the required column 证件号码 is missing",
            (("F_COLUMNS", None, "id_number"),),
        )
    )
    dup_cols = (*COLUMNS, "base")
    c.append(
        Case(
            "f_columns_duplicate",
            A_NAME,
            utf8(a_rows(), dup_cols),
            "缴存基数 appears twice (same values)",
            (("F_COLUMNS", None, "base"),),
        )
    )

    data = utf8(a_rows())
    manifest = f"rows=5\ntotal={total_of(a_rows())}\n"
    c.append(
        Case(
            "f_manifest",
            A_NAME,
            data,
            "the marker says rows=5, the file has 6 data rows (its total is right)",
            (("F_MANIFEST", None, None),),
            marker=manifest,
        )
    )

    b_dec = [row(m, "202612", style="bare") for m in B_MEMBERS]
    c.append(
        Case(
            "f_month_future",
            f"{B.unit_account}_202612.csv",
            utf8(b_dec),
            "B files December 2026 in November (B has no paid-through month, so only F_MONTH_FUTURE)",
            (("F_MONTH_FUTURE", None, None),),
        )
    )
    c.append(
        Case(
            "f_month_not_due",
            f"{A.unit_account}_202610.csv",
            utf8(a_rows("202610")),
            "A files October again: paid through 202610, so 202611 is due",
            (("F_MONTH_NOT_DUE", None, None),),
        )
    )
    b_jun = [row(m, "202606", style="bare") for m in B_MEMBERS]
    c.append(
        Case(
            "f_no_policy",
            f"{B.unit_account}_202606.csv",
            utf8(b_jun),
            "B files June 2026, before the 2026 contribution year (202607–202706); B has no paid-through "
            "month and June is not in the future, so F_NO_POLICY alone",
            (("F_NO_POLICY", None, None),),
        )
    )
    c.append(
        Case(
            "f_roster_missing",
            A_NAME,
            utf8([r for r in a_rows() if r["member_account"] != "100123000006"]),
            "杨丽 (100123000006), a normal member, has no row",
            (("F_ROSTER_MISSING", None, None),),
        )
    )

    # ---- row level (all A's November file; header = row 1, 王建国 row 2 … 杨丽 row 7)
    rows = a_rows()
    c.append(
        Case(
            "r_required",
            A_NAME,
            utf8(with_row(rows, 3, row(AM["2"], name=""))),
            "row 3: 姓名 empty",
            (ROW_ERRORS, ("R_REQUIRED", 3, "name")),
        )
    )
    c.append(
        Case(
            "r_number",
            A_NAME,
            utf8(with_row(rows, 6, row(AM["5"], employee_amount="786元"))),
            "row 6: 个人月缴存额 written “786元”",
            (ROW_ERRORS, ("R_NUMBER", 6, "employee_amount")),
        )
    )
    (hire,) = roster(A, ("009", "孙悦", RID("510107", "20000518", "627"), "4500.00", "normal", ""))
    c.append(
        Case(
            "r_account_format",
            A_NAME,
            utf8([*rows, row(hire, member_account="待开户")]),
            "row 8: a new hire listed with 个人账号 “待开户” (not yet opened)",
            (ROW_ERRORS, ("R_ACCOUNT_FORMAT", 8, "member_account")),
        )
    )
    c.append(
        Case(
            "r_account_unknown",
            A_NAME,
            utf8([*rows, row(hire)]),
            "row 8: a new hire with account 100123000009, which the centre has not opened",
            (ROW_ERRORS, ("R_ACCOUNT_UNKNOWN", 8, "member_account")),
        )
    )
    c.append(
        Case(
            "r_account_other_employer",
            A_NAME,
            utf8([*rows, row(BY_ACCOUNT["100321000004"], unit=A)]),
            "row 8: 何雪 (100321000004) is still D's member: her transfer to A is not done",
            (ROW_ERRORS, ("R_ACCOUNT_OTHER_EMPLOYER", 8, "member_account")),
        )
    )
    c.append(
        Case(
            "r_account_sealed",
            A_NAME,
            utf8([*rows, row(AM["7"])]),
            "row 8: 赵敏 (100123000007) is sealed: she must be unsealed first",
            (ROW_ERRORS, ("R_ACCOUNT_SEALED", 8, "member_account")),
        )
    )
    c.append(
        Case(
            "r_account_closed",
            A_NAME,
            utf8([*rows, row(AM["8"])]),
            "row 8: 黄磊 (100123000008) is closed",
            (ROW_ERRORS, ("R_ACCOUNT_CLOSED", 8, "member_account")),
        )
    )
    c.append(
        Case(
            "r_name_mismatch",
            A_NAME,
            utf8(with_row(rows, 3, row(AM["2"], name="李晓艳"))),
            "row 3: 李晓艳 for the registered 李晓燕",
            (ROW_ERRORS, ("R_NAME_MISMATCH", 3, "name")),
        )
    )
    c.append(
        Case(
            "r_id_type",
            A_NAME,
            utf8(with_row(rows, 2, row(AM["1"], id_type="身份证"))),
            "row 2: 证件类型 written “身份证” instead of the code 01 (the number is right)",
            (ROW_ERRORS, ("R_ID_TYPE", 2, "id_type")),
        )
    )
    good_id = AM["3"].id_number
    swapped = good_id[:14] + good_id[15] + good_id[14] + good_id[16:]
    assert swapped != good_id
    c.append(
        Case(
            "r_id_invalid",
            A_NAME,
            utf8(with_row(rows, 4, row(AM["3"], id_number=swapped))),
            "row 4: two digits of the sequence code swapped; the check character no longer fits "
            "(and so it also differs from the registered number)",
            (ROW_ERRORS, ("R_ID_INVALID", 4, "id_number"), ("R_ID_MISMATCH", 4, "id_number")),
        )
    )
    c.append(
        Case(
            "r_base_range_below_floor",
            A_NAME,
            utf8(with_row(rows, 5, row(AM["4"], base="2200.00"))),
            "row 5: base 2200 (the tier-2 floor) for a tier-1 employer, amounts computed from it; "
            "it also differs from the registered 2330",
            (ROW_ERRORS, ("R_BASE_MISMATCH", 5, "base"), ("R_BASE_RANGE", 5, "base")),
        )
    )
    c.append(
        Case(
            "r_base_range_above_cap",
            A_NAME,
            utf8(with_row(rows, 4, row(AM["3"], base="35000.00"))),
            "row 4: base 35000 (the full salary) over the cap 32969, amounts computed from it; "
            "it also differs from the registered 32969",
            (ROW_ERRORS, ("R_BASE_MISMATCH", 4, "base"), ("R_BASE_RANGE", 4, "base")),
        )
    )
    c.append(
        Case(
            "r_base_mismatch",
            A_NAME,
            utf8(with_row(rows, 7, row(AM["6"], base="12500.00"))),
            "row 7: base 12500 (in range, amounts computed from it) for the registered 12000",
            (ROW_ERRORS, ("R_BASE_MISMATCH", 7, "base")),
        )
    )
    c.append(
        Case(
            "r_rate_range",
            A_NAME,
            utf8(with_row(rows, 2, row(AM["1"], employee_rate="13%"))),
            "row 2: 个人缴存比例 13% (over 12%), amount computed at 13%; it also differs from the registered 12%",
            (ROW_ERRORS, ("R_RATE_MISMATCH", 2, "employee_rate"), ("R_RATE_RANGE", 2, "employee_rate")),
        )
    )
    c.append(
        Case(
            "r_rate_mismatch",
            A_NAME,
            utf8(with_row(rows, 3, row(AM["2"], employer_rate="10%"))),
            "row 3: 单位缴存比例 10% (in range) for the registered 12%, amount computed at 10%",
            (ROW_ERRORS, ("R_RATE_MISMATCH", 3, "employer_rate")),
        )
    )
    half_up = money((Decimal(AM["5"].base) * 12 / 100).quantize(Decimal(1), ROUND_HALF_UP))
    assert half_up == "785.00"
    c.append(
        Case(
            "r_amount",
            A_NAME,
            utf8(
                with_row(
                    rows, 6, row(AM["5"], employer_amount=half_up, employee_amount=half_up, total_amount=money("1570"))
                )
            ),
            "row 6: both parts rounded 四舍五入 (6543.21 × 12% = 785.19 → 785) instead of 见角进元 (786)",
            (ROW_ERRORS, ("R_AMOUNT", 6, "employee_amount"), ("R_AMOUNT", 6, "employer_amount")),
        )
    )
    b_up = [row(m, style="bare") for m in B_MEMBERS]
    b_up[2] = row(B_MEMBERS[2], style="bare", employer_amount="217", employee_amount="217", total_amount="434")
    c.append(
        Case(
            "r_amount_employer_rounding",
            f"{B.unit_account}_{MONTH}.csv",
            utf8(b_up, B_ORDER),
            "B rounds 四舍五入到元, but row 4 used the centre's 见角进元 (4321 × 5% = 216.05 → 217 instead of 216)",
            (ROW_ERRORS, ("R_AMOUNT", 4, "employee_amount"), ("R_AMOUNT", 4, "employer_amount")),
        )
    )
    c.append(
        Case(
            "r_total",
            A_NAME,
            utf8(with_row(rows, 7, row(AM["6"], total_amount="2800.00"))),
            "row 7: 月缴存额合计 2800.00 for 1440.00 + 1440.00",
            (ROW_ERRORS, ("R_TOTAL", 7, "total_amount")),
        )
    )
    c.append(
        Case(
            "r_duplicate",
            A_NAME,
            utf8([rows[0], *rows]),
            "王建国 listed twice (rows 2 and 3, identical)",
            (ROW_ERRORS, ("R_DUPLICATE", 2, "member_account"), ("R_DUPLICATE", 3, "member_account")),
        )
    )
    c.append(
        Case(
            "r_month",
            A_NAME,
            utf8(with_row(rows, 4, row(AM["3"], "202610"))),
            "row 4: 汇缴年月 202610 (copied from last month's file) in the 202611 file",
            (ROW_ERRORS, ("R_MONTH", 4, "contribution_month")),
        )
    )
    return c


def sort_key(code: dict[str, Any]) -> tuple[Any, ...]:
    row_no, column = code["row_no"], code["column"]
    return (row_no is not None, row_no or 0, column is not None, column or "", code["code"])


def write_invalid(root: Path) -> list[tuple[str, str, str]]:
    listing = []
    for case in [*cases(), *change_cases()]:
        folder = root / "invalid" / case.folder
        write(folder / case.file_name, case.data)
        codes = sorted(({"code": k, "row_no": r, "column": col} for k, r, col in case.codes), key=sort_key)
        expected: dict[str, object] = {"codes": codes}
        if case.inbox_unit is not None:
            expected["inbox_unit"] = case.inbox_unit
        if case.marker is not None:
            expected["marker"] = case.marker
            write(folder / f"{case.file_name}.done", case.marker)
        write(folder / "expected.json", json.dumps(expected, ensure_ascii=False, indent=2) + "\n")
        shown = ", ".join(
            f"{k}" + (f"@{r}:{col}" if r else (f":{col}" if col else ""))
            for k, r, col in ((x["code"], x["row_no"], x["column"]) for x in codes)
        )
        listing.append((f"invalid/{case.folder}/{case.file_name}", case.what, shown))
    return listing


# ------------------------------------------------------------------ change lists

CHANGE_FIELDS = ("change_type", "member_account", "name", "id_type", "id_number", "base", "reason", "effective_month")
CHANGE_CHINESE = ("变更类型", "个人账号", "姓名", "证件类型", "证件号码", "缴存基数", "原因", "生效年月")
HIRE = Member("", A.unit_account, "孙悦", "01", RID("510107", "19980521", "142"), "7000.00", "normal", "")
"""A's new hire in November: no account yet, so the centre opens one (SPEC §3.2)."""
DM = {m.member_account[-1]: m for m in D_MEMBERS}


def change(kind: str, m: Member, **cells: str) -> dict[str, str]:
    """One change list row for `m`; an opening carries the ID, the others the account."""
    opening = kind == "开户"
    return {
        "change_type": kind,
        "member_account": "" if opening else m.member_account,
        "name": m.name,
        "id_type": m.id_type if opening else "",
        "id_number": m.id_number if opening else "",
        **cells,
    }


def change_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CHANGE_CHINESE)
    for r in rows:
        w.writerow([r.get(c, "") for c in CHANGE_FIELDS])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def change_marker(data: bytes) -> str:
    """A change list's marker: its rows (the header excluded) and its digest; it has no amounts."""
    rows = data.count(b"\n") - 1
    return f"rows={rows}\nsha256={hashlib.sha256(data).hexdigest()}\n"


def valid_changes() -> bytes:
    return change_csv(
        [
            change("开户", HIRE, base="7000.00"),
            change("封存", AM["6"], reason="3", effective_month=MONTH),
            change("启封", AM["7"], base="4800.00", reason="1"),
            change("基数调整", AM["1"], base="9,000.00"),
        ]
    )


CHANGES_NAME = f"BG_{A.unit_account}_{MONTH}.csv"


def change_cases() -> list[Case]:
    hire = change("开户", HIRE, base="7000.00")
    he_xue = DM["4"]
    defects = (
        ("c_type", change("入职", AM["1"], base="9000.00"), "row 3: 变更类型 “入职” (not one of 开户、封存、启封、基数调整)",
         ("C_TYPE", 3, "change_type")),
        ("c_state", change("封存", AM["7"], reason="1"), "row 3: 赵敏 (100123000007) is already sealed",
         ("C_STATE", 3, "change_type")),
        ("c_active_elsewhere", change("开户", he_xue, base="6000.00"),
         "row 3: 何雪 is opened at A while her account 100321000004 is still normal at D: D must seal it first",
         ("C_ACTIVE_ELSEWHERE", 3, "id_number")),
        ("c_reason", change("封存", AM["6"], reason="5"), "row 3: seal reason 5 (only 1, 2, 3 exist)",
         ("C_REASON", 3, "reason")),
        ("c_month", change("基数调整", AM["1"], base="9000.00", effective_month="202610"),
         "row 3: effective 202610, a month A has already paid (paid through 202610)", ("C_MONTH", 3, "effective_month")),
    )  # fmt: skip
    return [
        Case(folder, CHANGES_NAME, change_csv([hire, bad]), what, (ROW_ERRORS, code))
        for folder, bad, what, code in defects
    ]


def write_cycle(root: Path) -> list[tuple[str, str]]:
    """`cycle/<unit>/`: change lists and the remittance lists that need them, sent in one cycle (the demo's)."""
    a_rows_hired = [*a_rows(), row(HIRE, member_account="")]
    d_rows = [row(m) for m in normal(D_MEMBERS) if m != DM["4"]]
    files = (
        (A.unit_account, CHANGES_NAME, change_csv([change("开户", HIRE, base="7000.00")]), None,
         "A opens an account for its new hire 孙悦 (no account yet: the centre assigns one)"),
        (A.unit_account, A_NAME, utf8(a_rows_hired), a_rows_hired,
         "A's November list with 孙悦 on it, 个人账号 empty: matched by ID type and number"),
        (D.unit_account, f"BG_{D.unit_account}_{MONTH}.csv",
         change_csv([change("封存", DM["4"], reason="3")]), None, "D seals 何雪 (100321000004), who left: 调动暂不转移"),
        (D.unit_account, f"{D.unit_account}_{MONTH}.csv", utf8(d_rows), d_rows,
         "D's November list without 何雪, who is sealed from 202611"),
    )  # fmt: skip
    listing = []
    for unit, name, data, rows, what in files:
        write(root / "cycle" / unit / name, data)
        marker = marker_text(data, rows) if rows else change_marker(data)
        write(root / "cycle" / unit / f"{name}.done", marker)
        listing.append((f"cycle/{unit}/{name}", what))
    return listing


# ----------------------------------------------------------------------- bank

COLLECTION_ACCOUNT = "51050188360000000001"
"""The centre's collection account (收款账号) in the samples and the demo's `funds.accounts`."""


def _iso7064(digits: str) -> str:
    """The check digit of ISO 7064 MOD 11,10, computed here apart from batch.reference on purpose."""
    check = 5
    for d in digits:
        check = (((check or 10) * 2) % 11 + int(d)) % 10
    return str((1 - ((check or 10) * 2) % 11) % 10)


def bank_line(seq: int, serial: str, amount: str, *, payer: str = "", payer_name: str = "", memo: str = "",
              summary: str = "", flag: str = "N", time: str = "101500") -> str:  # fmt: skip
    """One movement in the platform's 23 fields, `|`-separated with a trailing `|` (SPEC §9)."""
    fields = [str(seq), COLLECTION_ACCOUNT, serial, "0001", payer, payer_name, amount, "20261122", time, "0",
              "510100", memo, "156", "1", "0", "0", "", "", "", summary, flag, str(seq), "1"]  # fmt: skip
    return "|".join(fields) + "|"


def write_bank(root: Path) -> list[tuple[str, str]]:
    """`bank/`: the day's arrival notices (GBK, as the platform sends them) that pay the demo's lists."""
    ref = {u: u + "202611" + _iso7064(u + "202611") for u in (A.unit_account, B.unit_account, D.unit_account)}
    wide = "".join(chr(ord(c) + 0xFEE0) for c in ref[A.unit_account])
    files = (
        ("001", [
            bank_line(1, "CCB20261122000101", "17910.00", payer="6217003810000000123", payer_name=A.name,
                      memo=f"住房公积金 {wide}"),
            bank_line(2, "CCB20261122000102", "1354.00", payer="6217003810000000456", payer_name=B.name,
                      summary=f"公积金{B.unit_account}"),
            bank_line(3, "CCB20261122000103", "4694.00", payer="6217003810000000321", payer_name=D.name),
            bank_line(4, "CCB20261122000104", "888.00", payer="6222020000000000777", payer_name="张三",
                      memo="货款"),
            bank_line(5, "CCB20261122000105", "-35.00", payer="0", payer_name="中心手续费", summary="手续费"),
        ], "A paid exactly (reference, full-width), B 100.00 short (unit account), D by its name, an "
           "unidentified 888.00 (三无), and the centre's own fee (another movement)"),
        ("002", [
            bank_line(1, "CCB20261122000201", "100.00", payer="6217003810000000456", payer_name=B.name,
                      memo=f"补缴 {ref[B.unit_account][:10]} {ref[B.unit_account][10:]}", time="153000"),
        ], "B's top-up, its reference typed with a space"),
    )  # fmt: skip
    listing = []
    for seq, lines, what in files:
        name = f"DZTZ_{COLLECTION_ACCOUNT}_20261122_{seq}.txt"
        data = "".join(f"{line}\r\n" for line in lines).encode("gb18030")
        total = sum(Decimal(line.split("|")[6]) for line in lines)
        write(root / "bank" / name, data)
        write(
            root / "bank" / f"{name}.done",
            f"rows={len(lines)}\ntotal={total:.2f}\nsha256={hashlib.sha256(data).hexdigest()}\n",
        )
        listing.append((f"bank/{name}", what))
    return listing


# ----------------------------------------------------------------------- README

README_HEAD = """\
# Samples

The November 2026 filing (today 2026-11-22, month 202611) of four Chengdu employers, for tests and
for `hpf demo`. Regenerate everything with `PYTHONPATH=. python samples/make_samples.py`; do not
edit the files by hand.

- `master/employers.csv`, `master/members.csv`: master data (SPEC §8).
- `valid/`: files that must validate with zero problems; each has a `.done` marker with
  `rows`, `total` and `sha256`.
- `invalid/<defect>/`: one file with exactly one defect, and `expected.json`: the codes the
  validator must report, `{"codes": [{"code", "row_no", "column"}]}` sorted by row (file-level
  first), column, code; `inbox_unit` and `marker` when the case needs SFTP context (the marker is
  also written beside the file as `<file>.done`). Row numbers: header = row 1.

Employers (policy `chengdu` 2026: base 2330 tier 1 / 2200 tier 2 to 32969, rates 5–12% whole):

| | unit | name | status | rates | tier | rounding | paid through | members |
|---|---|---|---|---|---|---|---|---|
"""


def write_readme(
    root: Path,
    valid: list[tuple[str, str]],
    invalid: list[tuple[str, str, str]],
    cycle: list[tuple[str, str]],
    bank: list[tuple[str, str]],
) -> None:
    lines = [README_HEAD]
    for label, e in zip("ABCD", EMPLOYERS, strict=True):
        ms = [m for m in MEMBERS if m.unit_account == e.unit_account]
        counts = "、".join(
            f"{sum(m.status == s for m in ms)} {s}"
            for s in ("normal", "sealed", "closed")
            if any(m.status == s for m in ms)
        )
        lines.append(
            f"| {label} | {e.unit_account} | {e.name} | {e.status} | {e.rate}%/{e.rate}% | {e.wage_tier} | "
            f"{e.rounding or 'default (yuan_up 见角进元)'} | {e.paid_through or '—'} | {counts} |\n"
        )
    lines.append(
        "\nC was closed by the centre (licence revoked) before its two members were transferred, so they are "
        "still `normal`: its file differs from a good one only in the employer's status. Sealed and closed "
        "members of A are on no valid file.\n"
    )
    lines.append("\n## Valid files\n\n| file | what it shows |\n|---|---|\n")
    lines += [f"| `{f}` | {w} |\n" for f, w in valid]
    lines.append("\n## Invalid files\n\n| file | defect | expected codes |\n|---|---|---|\n")
    lines += [f"| `{f}` | {w} | {s} |\n" for f, w, s in invalid]
    lines.append(
        "\n## One cycle\n\nFiles that depend on each other, sent together (`hpf demo` uploads them): each "
        "employer's change list is applied before its remittance list for the month (SPEC §2).\n\n"
        "| file | what it shows |\n|---|---|\n"
    )
    lines += [f"| `{f}` | {w} |\n" for f, w in cycle]
    lines.append(
        f"\n## Bank arrival notices\n\nThe movements of the collection account {COLLECTION_ACCOUNT} on 2026-11-22 "
        "(SPEC §9), GBK, with `.done` markers; `hpf demo` books them after the lists above.\n\n"
        "| file | what it shows |\n|---|---|\n"
    )
    lines += [f"| `{f}` | {w} |\n" for f, w in bank]
    lines.append(
        "\nNot covered: F_DUPLICATE_FILE (needs a database of processed batches) and F_TOO_LARGE "
        "(needs small `limits`).\n"
    )
    write(root / "README.md", "".join(lines))


def main(root: Path = HERE) -> None:
    for sub in ("master", "valid", "invalid", "cycle", "bank"):
        shutil.rmtree(root / sub, ignore_errors=True)
    write_master(root)
    valid = write_valid(root)
    invalid = write_invalid(root)
    cycle = write_cycle(root)
    bank = write_bank(root)
    write_readme(root, valid, invalid, cycle, bank)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
