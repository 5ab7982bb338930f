"""Validating files in memory: master data as a stand-in for the database, files built from rows, and checks every report must pass.

Master data (`MemoryLookups`): one employer 0101000123 with two active members,
due for 202611 on 2026-11-22. Each test changes one thing and checks the codes,
rows and columns reported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date

import polars as pl

from batch.lookups import Employer
from batch.policy import Policy, profile_periods
from batch.validate import Earlier, Report, Submission, ValidationOptions, validate, validate_many
from schemas.codes import FILE_CODES, ROW_CODES
from schemas.columns import BY_NAME, LABEL
from schemas.master import MEMBER as MEMBER_SCHEMA
from tests.support.rows import ID_LI, ID_ZHANG, LI, ZHANG

UNIT = "0101000123"
OTHER = "0101000999"
FILE = f"{UNIT}_202611.csv"
TODAY = date(2026, 11, 22)
OPTIONS = ValidationOptions(Policy(profile_periods("chengdu"), "yuan_up"), TODAY, 200 << 20, 2_000_000)

ID_PERMIT = "810000199408230021"
ID_BAD_CHECK = "110105194912310021"

COLUMNS = list(BY_NAME)
CHINESE = [LABEL[c] for c in COLUMNS]


def employer(
    unit: str = UNIT,
    *,
    status: str = "01",
    rate: int = 1200,
    tier: int = 1,
    rounding: str | None = None,
    paid: int | None = 202610,
) -> Employer:
    return Employer(unit, f"单位{unit}", status, rate, rate, tier, rounding, paid)


MemberRow = tuple[str, str, str, str, str, int, str]

MEMBERS: list[MemberRow] = [
    ("1001", UNIT, "张三", "01", ID_ZHANG, 500_000, "normal"),
    ("1002", UNIT, "李四", "01", ID_LI, 233_000, "normal"),
    ("1004", UNIT, "封存", "01", ID_PERMIT, 300_000, "sealed"),
    ("1005", UNIT, "销户", "01", ID_PERMIT, 300_000, "closed"),
    ("2001", OTHER, "赵六", "01", ID_ZHANG, 300_000, "normal"),
]


class MemoryLookups:
    """Master data in memory, answering as `db.store.Store` does; `earlier` stands for the register's duplicate."""

    def __init__(
        self, employers: Iterable[Employer] = (), members: Iterable[MemberRow] = (), earlier: int | None = None
    ) -> None:
        self.employers = {e.unit_account: e for e in employers}
        self.frame = pl.DataFrame(list(members), schema=MEMBER_SCHEMA, orient="row")
        self.earlier = earlier
        self.calls: list[str] = []

    def employer(self, unit_account: str) -> Employer | None:
        self.calls.append("employer")
        return self.employers.get(unit_account)

    def members(
        self, unit_account: str, accounts: pl.Series | Sequence[str], *, month: int | None = None
    ) -> pl.DataFrame:
        self.calls.append("members")
        wanted = pl.Series(list(accounts), dtype=pl.String).implode()
        return self.frame.filter((pl.col("unit_account") == unit_account) | pl.col("member_account").is_in(wanted))


def lookups(
    *, employers: Iterable[Employer] = (), members: Iterable[MemberRow] = (), earlier: int | None = None
) -> MemoryLookups:
    base_employers = [employer(), employer(OTHER, rate=500, tier=2, paid=None)]
    return MemoryLookups([*base_employers, *employers], [*MEMBERS, *members], earlier)


def row(template: dict[str, str] | None = None, /, **changes: str) -> dict[str, str]:
    return {**(template or ZHANG), **changes}


def csv_file(*rows: dict[str, str], header: Sequence[str] = CHINESE, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(c, "") for c in COLUMNS])
    return out.getvalue().encode(encoding)


def run(
    *rows: dict[str, str],
    name: str = FILE,
    look: MemoryLookups | None = None,
    options: ValidationOptions = OPTIONS,
    inbox: str | None = None,
    marker: bytes | None = None,
    data: bytes | None = None,
    strict_ids: bool = True,
) -> Report:
    body = csv_file(*rows) if data is None else data
    look = look or lookups()
    report = validate(
        Submission(name, body, inbox_unit=inbox, marker=marker),
        options,
        look,
        duplicate_of=Earlier(look.earlier, "POSTED") if look.earlier else None,
    )
    check_messages(report)
    check_masked(report, look, strict_ids)
    check_grouped(report, Submission(name, body, inbox_unit=inbox, marker=marker), look, options)
    return report


def _companions() -> list[Submission]:
    """Files validated beside the one under test: another file of its employer, another employer's with errors, junk."""
    zhao = row(member_account="2001", name="赵六", base="3000", employer_rate="5%", employee_rate="5%",
               employer_amount="150", employee_amount="150", total_amount="300")  # fmt: skip
    other = csv_file(zhao, row(zhao, member_account="2002"), row(zhao, employer_amount="151"), zhao)
    return [
        Submission(FILE, csv_file(ZHANG, LI)),
        Submission(f"{OTHER}_202611.csv", other, inbox_unit=OTHER),
        Submission(f"{UNIT}_202611.txt", b"\x00\x01"),
    ]


def check_grouped(report: Report, sub: Submission, look: MemoryLookups, options: ValidationOptions) -> None:
    """The file validated among others gives exactly the report it gets alone, and so does each of the others."""
    calls = list(look.calls)
    earlier = Earlier(look.earlier, "POSTED") if look.earlier else None
    subs: list[tuple[Submission, Earlier | None]] = [(s, None) for s in _companions()]
    subs.insert(1, (sub, earlier))
    grouped = validate_many(subs, options, look)
    alone = [validate(s, options, look, duplicate_of=e) for s, e in subs]
    look.calls[:] = calls
    assert_same(grouped[1], report)
    for a, b in zip(grouped, alone, strict=True):
        assert_same(a, b)


def assert_same(a: Report, b: Report) -> None:
    for name in Report.__slots__:  # type: ignore[attr-defined]
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, pl.DataFrame):
            assert x.equals(y), (name, x, y)
        else:
            assert x == y, (name, x, y)


def file_codes(report: Report) -> list[str]:
    return sorted(p.code for p in report.file_problems)


def row_codes(report: Report) -> list[tuple[int, str, str]]:
    return [(r["row_no"], r["code"], r["column"]) for r in report.row_problems.iter_rows(named=True)]


_HAN = re.compile(r"[\u4e00-\u9fff]")


def check_messages(report: Report) -> None:
    """Every message is Chinese and shows no whole ID number; codes are known; ok iff nothing found."""
    problems = report.problems()
    for p in problems:
        assert p.code in FILE_CODES or p.code in ROW_CODES
        assert p.message and _HAN.search(p.message), p
        if p.code in ROW_CODES:
            assert p.row_no is not None and p.column in BY_NAME
        else:
            assert p.row_no is None
    assert report.ok is (not problems)
    has_rows = report.row_problems.height > 0
    assert ("F_ROW_ERRORS" in {p.code for p in report.file_problems}) is has_rows


def check_masked(report: Report, look: MemoryLookups, strict: bool) -> None:
    """No message shows a whole ID number (SPEC §6 shows the first 6 and last 4 characters).

    Strict: no message anywhere holds any ID number of the file or the register. Otherwise
    (random cells, where an ID-like text may legitimately be echoed as an account or amount):
    the messages about a row's ID do not hold that row's number.
    """
    ids = {n.upper() for n in report.rows["id_number"].drop_nulls() if len(n) > 10}
    ids |= {n.upper() for n in look.frame["id_number"] if len(n) > 10}
    if strict:
        for p in report.problems():
            assert not any(n in p.message.upper() for n in ids), p.message
        return
    about_ids = report.row_problems.filter(pl.col("column").is_in(["id_type", "id_number"]))
    numbers = dict(zip(report.rows["row_no"], report.rows["id_number"], strict=True))
    for row_no, message in about_ids.select("row_no", "message").iter_rows():
        number = numbers.get(row_no)
        if number is not None and len(number) > 10:
            assert number.upper() not in message.upper(), message


def only_row_code(report: Report) -> list[tuple[int, str, str]]:
    assert file_codes(report) == ["F_ROW_ERRORS"]
    assert not report.ok
    return row_codes(report)
