"""Hostile and broken input: every case is made here from the valid samples, deterministically.

Each case asserts the exact reason codes (with row and column), that messages name
where the damage is, and that nothing is posted. A property test mutates the bytes
of the samples and checks that validation never raises and never accepts a file
whose data changed. One pipeline test uploads the nastiest files in one cycle.

Master data is the sample master (samples/master), read by the importer's own
parsers, and today is 2026-11-22 as in every sample.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.lookups import Employer
from batch.master_files import parse_employers, parse_members
from batch.policy import Policy, profile_periods
from batch.results import result_files, result_names
from batch.validate import Report, Submission, ValidationOptions, validate
from schemas.codes import FILE_CODES, ROW_CODES
from schemas.master import MEMBER as MEMBER_SCHEMA
from tests.support.environments import Job, SftpEnv
from tests.support.samples import SAMPLES

TODAY = date(2026, 11, 22)
OPTIONS = ValidationOptions(Policy(profile_periods("chengdu"), "yuan_up"), TODAY, 200 << 20, 2_000_000)
A, B, D = "0101000123", "0101000456", "0101000321"
CSV_A, CSV_B, XLSX_D = f"{A}_202611.csv", f"{B}_202611.csv", f"{D}_202611.xlsx"
VALID = SAMPLES / "valid"
BYTES = {name: (VALID / name).read_bytes() for name in (CSV_A, CSV_B, XLSX_D)}
MARKERS = {name: (VALID / f"{name}.done").read_bytes() for name in BYTES}


# ------------------------------------------------------------------ master data


class SampleLookups:
    """The sample master data in memory, answering as `db.store.Store` does."""

    def __init__(self) -> None:
        employers = parse_employers((SAMPLES / "master" / "employers.csv").read_bytes(), "employers.csv")
        assert isinstance(employers, pl.DataFrame)
        members = parse_members(
            (SAMPLES / "master" / "members.csv").read_bytes(),
            "members.csv",
            employers["unit_account"].to_list(),
            TODAY,
        )
        assert isinstance(members, pl.DataFrame)
        self.employers = {
            r["unit_account"]: Employer(
                r["unit_account"],
                r["name"],
                r["status"],
                r["employer_rate_bp"],
                r["employee_rate_bp"],
                r["wage_tier"],
                r["rounding"],
                r["paid_through"],
            )
            for r in employers.iter_rows(named=True)
        }
        self.frame = members.select(MEMBER_SCHEMA.names())

    def employer(self, unit_account: str) -> Employer | None:
        return self.employers.get(unit_account)

    def members(
        self, unit_account: str, accounts: pl.Series | Sequence[str], *, month: int | None = None
    ) -> pl.DataFrame:
        wanted = pl.Series(list(accounts), dtype=pl.String).implode()
        return self.frame.filter((pl.col("unit_account") == unit_account) | pl.col("member_account").is_in(wanted))


LOOKUPS = SampleLookups()
Key = tuple[str, int | None, str | None]


def check(
    data: bytes,
    name: str = CSV_A,
    *,
    options: ValidationOptions = OPTIONS,
    marker: bytes | None = None,
    unit: str | None = None,
) -> Report:
    """Validate, and hold every report to the contract: known codes, Chinese messages, nothing posted."""
    report = validate(Submission(name, data, inbox_unit=unit, marker=marker), options, LOOKUPS)
    assert isinstance(report, Report)
    for p in report.problems():
        assert p.code in FILE_CODES or p.code in ROW_CODES
        assert re.search(r"[\u4e00-\u9fff]", p.message), p
        assert len(p.message) < 2000, (p.code, len(p.message))  # bounded, whatever the cell held
        if p.code in ROW_CODES:
            assert p.row_no is not None and p.column is not None
    assert ("F_ROW_ERRORS" in {p.code for p in report.file_problems}) is (report.row_problems.height > 0)
    return report


def keys(report: Report) -> list[Key]:
    """(code, row, column) of every problem, sorted as the samples' expected.json."""
    found = [(p.code, p.row_no, p.column) for p in report.problems()]
    return sorted(found, key=lambda k: (k[1] is not None, k[1] or 0, k[2] or "", k[0]))


def rejected(report: Report, *expected: Key) -> Report:
    """The report has exactly these problems and posts nothing."""
    assert not report.ok
    assert keys(report) == sorted(expected, key=lambda k: (k[1] is not None, k[1] or 0, k[2] or "", k[0])), [
        (p.code, p.row_no, p.column, p.message[:200]) for p in report.problems()
    ]
    return report


def message(report: Report, code: str) -> str:
    return next(p.message for p in report.problems() if p.code == code)


def row_message(report: Report, code: str, row_no: int, column: str) -> str:
    return next(p.message for p in report.problems() if (p.code, p.row_no, p.column) == (code, row_no, column))


ROW_ERRORS: Key = ("F_ROW_ERRORS", None, None)


def roster(*accounts: str) -> list[Key]:
    return [("F_ROSTER_MISSING", None, None) for _ in accounts]


# ----------------------------------------------------------- building the files

SAMPLE_A = BYTES[CSV_A]
BOM = b"\xef\xbb\xbf"
LINES_A = SAMPLE_A[len(BOM) :].split(b"\n")
"""Sample A without its BOM, by line: [0] the header, [1] row 2 … [6] row 7, [7] empty (the final newline)."""


def lines_a(*lines: bytes) -> bytes:
    return BOM + b"\n".join(lines)


def with_line(row_no: int, line: bytes) -> bytes:
    """Sample A with spreadsheet row `row_no` (header = 1) replaced."""
    changed = list(LINES_A)
    changed[row_no - 1] = line
    return lines_a(*changed)


def with_cell(row_no: int, column: int, text: str, *more: tuple[int, int, str]) -> bytes:
    """Sample A with cells (row, 0-based column) replaced, quoted as RFC 4180 wants."""
    changed = list(LINES_A)
    for r, c, t in [(row_no, column, text), *more]:
        cells = next(csv.reader([changed[r - 1].decode("utf-8")]))
        cells[c] = t
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(cells)
        changed[r - 1] = out.getvalue().removesuffix("\n").encode("utf-8")
    return lines_a(*changed)


NAME, ID_NUMBER, EMPLOYER_AMOUNT = 1, 3, 7


def xlsx_book(
    rows: Sequence[Sequence[object]], *, numeric_ids: bool = False, sheets: Sequence[Sequence[Sequence[object]]] = ()
) -> bytes:
    """A workbook: `rows` on the first sheet, then each of `sheets`.

    numeric_ids writes digit-only ID numbers as numbers, as a clerk's Excel does
    when the column is not formatted as text.
    """
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    for i, cells in enumerate([rows, *sheets]):
        sheet = book.add_worksheet(f"Sheet{i + 1}")
        for r, line in enumerate(cells):
            for c, value in enumerate(line):
                if numeric_ids and r and c == ID_NUMBER and str(value).isdigit():
                    sheet.write_number(r, c, float(str(value)))
                elif isinstance(value, str):
                    sheet.write_string(r, c, value)
                else:
                    sheet.write(r, c, value)
    book.close()
    return out.getvalue()


def sample_d_rows() -> list[list[object]]:
    """The cells of sample D's first sheet, as the reader sees them (text)."""
    import fastexcel

    sheet = fastexcel.read_excel(BYTES[XLSX_D]).load_sheet(0, header_row=None, dtypes="string")
    return [list(r) for r in sheet.to_polars().iter_rows()]


D_ROWS = sample_d_rows()


@functools.cache
def zip_bomb(megabytes: int) -> bytes:
    """Sample D with `megabytes` of blanks appended to its sheet: tiny compressed, huge inflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(BYTES[XLSX_D])) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b"</worksheet>", b" " * (megabytes << 20) + b"</worksheet>")
            z.writestr(info.filename, body)
    return out.getvalue()


# ------------------------------------------------------------------ the samples


@pytest.mark.parametrize("name", list(BYTES))
def test_the_samples_themselves_are_valid(name: str) -> None:
    assert check(BYTES[name], name, marker=MARKERS[name]).ok


# ------------------------------------------------------------------- truncation


def test_truncated_mid_row() -> None:
    """Cut after row 5's 单位缴存比例: the rest of the row and rows 6-7 are gone."""
    cut = SAMPLE_A[
        : SAMPLE_A.index(b"100123000004,") + len("100123000004,刘芳,01,51010819991203210x,2330,12%".encode())
    ]
    report = rejected(
        check(cut),
        ROW_ERRORS,
        *roster("100123000005", "100123000006"),
        ("R_REQUIRED", 5, "employee_rate"),
        ("R_REQUIRED", 5, "employer_amount"),
        ("R_REQUIRED", 5, "employee_amount"),
        ("R_REQUIRED", 5, "total_amount"),
    )
    assert "个人缴存比例" in row_message(report, "R_REQUIRED", 5, "employee_rate")


def test_truncated_mid_row_with_its_marker() -> None:
    """The marker's row count, total and hash all tell that the file was cut."""
    cut = SAMPLE_A[: SAMPLE_A.index(b"100123000004,") + 30]
    report = check(cut, marker=MARKERS[CSV_A])
    assert not report.ok
    # rows and sha256 (the total is unknown: row 5 has no amounts)
    assert [k for k in keys(report) if k[0] == "F_MANIFEST"] == [("F_MANIFEST", None, None)] * 2


def test_truncated_inside_a_quoted_cell() -> None:
    """Row 4 holds "32,969.00": a cut inside the quotes leaves a quote that never closes."""
    cut = SAMPLE_A[: SAMPLE_A.index(b'"32,969') + 4]
    report = rejected(check(cut), ("F_FORMAT", None, None))
    assert "第4行" in message(report, "F_FORMAT") and "引号" in message(report, "F_FORMAT")


def test_truncated_mid_character_utf8() -> None:
    """The last byte of 陈 (row 6, three bytes in UTF-8) is cut off."""
    at = SAMPLE_A.index("陈志强".encode())
    report = rejected(check(SAMPLE_A[: at + 2]), ("F_ENCODING", None, None))
    assert "第6行" in message(report, "F_ENCODING")


def test_truncated_mid_character_gb18030() -> None:
    """Sample B (GB18030, CRLF) cut after the first byte of 王 on row 5."""
    data = BYTES[CSV_B]
    at = data.index("王".encode("gb18030"))
    report = rejected(check(data[: at + 1], CSV_B), ("F_ENCODING", None, None))
    assert "第5行" in message(report, "F_ENCODING")


def test_truncated_xlsx() -> None:
    report = rejected(check(BYTES[XLSX_D][:-200], XLSX_D), ("F_FORMAT", None, None))
    assert "XLSX" in message(report, "F_FORMAT")


# ------------------------------------------------------------- CSV structure


def test_quoted_newline_inside_a_cell_is_one_row() -> None:
    """A line break inside quotes stays in the cell; the rows below keep their spreadsheet numbers."""
    data = with_cell(2, NAME, "王\n建国", (4, NAME, "张伟伟"))
    report = rejected(check(data), ROW_ERRORS, ("R_NAME_MISMATCH", 2, "name"), ("R_NAME_MISMATCH", 4, "name"))
    assert "“王\n建国”" in row_message(report, "R_NAME_MISMATCH", 2, "name")
    assert "张伟伟" in row_message(report, "R_NAME_MISMATCH", 4, "name")


def test_ragged_row_with_too_few_fields() -> None:
    """Row 2 lost its last three fields: the missing required cells are empty."""
    short = b",".join(LINES_A[1].split(b",")[:-3])
    rejected(
        check(with_line(2, short)),
        ROW_ERRORS,
        ("R_REQUIRED", 2, "employee_amount"),
        ("R_REQUIRED", 2, "total_amount"),
    )


def test_ragged_row_with_too_many_fields() -> None:
    report = rejected(check(with_line(3, LINES_A[2] + b",x,y")), ("F_FORMAT", None, None))
    assert "第3行" in message(report, "F_FORMAT") and "11列" in message(report, "F_FORMAT")


def test_header_only() -> None:
    report = rejected(check(lines_a(LINES_A[0], b"")), ("F_FORMAT", None, None))
    assert "只有表头" in message(report, "F_FORMAT")


@pytest.mark.parametrize("name", [CSV_A, XLSX_D])
def test_zero_bytes(name: str) -> None:
    report = rejected(check(b"", name), ("F_FORMAT", None, None))
    assert "0字节" in message(report, "F_FORMAT")


def test_bom_in_the_middle() -> None:
    """Two files pasted together: the second one's BOM sits at the start of row 4."""
    report = rejected(check(with_line(4, BOM + LINES_A[3])), ("F_FORMAT", None, None))
    assert "第4行" in message(report, "F_FORMAT") and "BOM" in message(report, "F_FORMAT")


def test_mixed_encodings() -> None:
    """Rows 2-3 in UTF-8, rows 4 on in GB18030: neither encoding reads the whole file."""
    text = SAMPLE_A[len(BOM) :].decode("utf-8").split("\n")
    data = "\n".join(text[:3]).encode("utf-8") + b"\n" + "\n".join(text[3:]).encode("gb18030")
    report = rejected(check(data), ("F_ENCODING", None, None))
    assert "第4行" in message(report, "F_ENCODING")


@pytest.mark.parametrize("where", ["cell", "line end"])
def test_nul_bytes(where: str) -> None:
    data = with_cell(5, NAME, "刘\x00芳") if where == "cell" else with_line(5, LINES_A[4] + b"\x00\x00")
    report = rejected(check(data), ("F_FORMAT", None, None))
    assert "第5行" in message(report, "F_FORMAT") and "NUL" in message(report, "F_FORMAT")


def test_a_one_megabyte_name() -> None:
    """No spreadsheet cell holds more than 32,767 characters: refused, never echoed back whole."""
    report = rejected(check(with_cell(4, NAME, "张" * (1 << 20))), ("F_FORMAT", None, "name"))
    said = message(report, "F_FORMAT")
    assert "第4行" in said and "姓名" in said and "1048576" in said


def test_a_long_but_possible_name_is_echoed_shortened() -> None:
    """10,000 characters fit a cell: a name mismatch, whose message shows only the start of it."""
    report = rejected(check(with_cell(4, NAME, "张" * 10_000)), ROW_ERRORS, ("R_NAME_MISMATCH", 4, "name"))
    said = row_message(report, "R_NAME_MISMATCH", 4, "name")
    assert "张张张" in said and "10000" in said and len(said) < 200


# ---------------------------------------------------------------- formulas

FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-1+1"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_formulas_in_names_come_back_guarded(formula: str) -> None:
    report = rejected(check(with_cell(4, NAME, formula)), ROW_ERRORS, ("R_NAME_MISMATCH", 4, "name"))
    files = result_files(report, batch_id=None, status="REJECTED", xlsx_detail_rows=100)
    lines = list(csv.reader(io.StringIO(files[f"{A}_202611.result.csv"].decode("utf-8-sig"))))
    header, row4 = lines[0], next(line for line in lines[1:] if line[0] == "4")
    assert row4[header.index("name")] == "'" + formula
    for line in lines:
        assert not any(cell[:1] in ("=", "+", "-", "@") for cell in line), line
    with zipfile.ZipFile(io.BytesIO(files[f"{A}_202611.result.xlsx"])) as book:
        sheets = [book.read(n).decode("utf-8") for n in book.namelist() if n.startswith("xl/worksheets/")]
    cells = [re.sub(r"&quot;", '"', t) for s in sheets for t in re.findall(r"<t[^>]*>([^<]*)</t>", s)]
    cells = [t.replace("&amp;", "&").replace("&apos;", "'") for t in cells]
    assert "'" + formula in cells
    assert not any(t[:1] in ("=", "+", "-", "@") for t in cells)
    assert not any("<f>" in s or "<f " in s for s in sheets)


def test_a_formula_in_an_amount_is_not_a_number() -> None:
    report = rejected(check(with_cell(5, EMPLOYER_AMOUNT, "=140*2")), ROW_ERRORS, ("R_NUMBER", 5, "employer_amount"))
    assert "“=140*2”" in row_message(report, "R_NUMBER", 5, "employer_amount")


# ------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2.8e2", "应为金额"),
        ("1e3", "应为金额"),
        ("2.8E+2", "应为金额"),
        ("-280", "不能为负数"),
        ("280.001", "最多两位小数"),
        ("２８０", "全角"),
        ("280", None),
    ],
)
def test_amounts(text: str, words: str | None) -> None:
    report = check(with_cell(5, EMPLOYER_AMOUNT, text))
    if words is None:
        assert report.ok
        return
    rejected(report, ROW_ERRORS, ("R_NUMBER", 5, "employer_amount"))
    said = row_message(report, "R_NUMBER", 5, "employer_amount")
    assert words in said and f"“{text}”" in said


def test_full_width_digits_in_an_account() -> None:
    """１００１２３０００００１ looks right and is not: a format error, and the real member is missing."""
    data = with_cell(2, 0, "１００１２３０００００１")
    report = rejected(check(data), ROW_ERRORS, *roster("100123000001"), ("R_ACCOUNT_FORMAT", 2, "member_account"))
    assert "全角" in row_message(report, "R_ACCOUNT_FORMAT", 2, "member_account")


def test_full_width_percent_rate() -> None:
    report = rejected(check(with_cell(2, 5, "１２%")), ROW_ERRORS, ("R_NUMBER", 2, "employer_rate"))
    assert "全角" in row_message(report, "R_NUMBER", 2, "employer_rate")


def test_id_numbers_stored_as_excel_numbers() -> None:
    """Digit-only IDs written as numbers keep 15-17 significant digits: the last digits change."""
    report = rejected(
        check(xlsx_book(D_ROWS, numeric_ids=True), XLSX_D),
        ROW_ERRORS,
        ("R_ID_INVALID", 3, "id_number"),
        ("R_ID_MISMATCH", 3, "id_number"),
        ("R_ID_INVALID", 5, "id_number"),
        ("R_ID_MISMATCH", 5, "id_number"),
    )
    for row_no in (3, 5):
        assert "数值" in row_message(report, "R_ID_INVALID", row_no, "id_number")
    assert check(xlsx_book(D_ROWS), XLSX_D).ok  # the same cells as text are fine


def test_id_number_in_scientific_notation() -> None:
    """What a CSV saved from such a sheet holds: 5.10107E+17."""
    report = rejected(
        check(with_cell(2, ID_NUMBER, "5.10107E+17")),
        ROW_ERRORS,
        ("R_ID_INVALID", 2, "id_number"),
        ("R_ID_MISMATCH", 2, "id_number"),
    )
    assert "数值" in row_message(report, "R_ID_INVALID", 2, "id_number")


# ---------------------------------------------------------------------- XLSX


def test_xlsx_zip_bomb() -> None:
    bomb = zip_bomb(24)
    assert len(bomb) < 1 << 20
    report = rejected(check(bomb, XLSX_D), ("F_TOO_LARGE", None, None))
    assert "压缩炸弹" in message(report, "F_TOO_LARGE")


@pytest.mark.parametrize("data", [b"hello,world\n", SAMPLE_A, b"\x00" * 100, b"PK\x03\x04" + b"\x00" * 50])
def test_xlsx_that_is_not_a_zip(data: bytes) -> None:
    report = rejected(check(data, XLSX_D), ("F_FORMAT", None, None))
    assert "XLSX" in message(report, "F_FORMAT")


def test_xlsx_with_several_sheets_reads_the_first() -> None:
    junk = [["note"], ["=1+1"], ["anything"]]
    assert check(xlsx_book(D_ROWS, sheets=[junk, D_ROWS[:2]]), XLSX_D).ok
    # The list on a later sheet: one problem that says where it is, not nine missing columns.
    report = rejected(check(xlsx_book(junk, sheets=[D_ROWS]), XLSX_D), ("F_COLUMNS", None, None))
    assert "清册在工作表" in message(report, "F_COLUMNS")


# ------------------------------------------------------------------- limits


@pytest.mark.parametrize("name", [CSV_A, XLSX_D])
def test_over_the_size_limit(name: str) -> None:
    data = BYTES[name]
    options = ValidationOptions(OPTIONS.policy, TODAY, len(data) - 1, 2_000_000)
    report = rejected(check(data, name, options=options), ("F_TOO_LARGE", None, None))
    said = message(report, "F_TOO_LARGE")
    assert str(len(data) - 1) in said and str(len(data)) in said  # both sizes, exactly, for a small limit
    assert check(data, name, options=ValidationOptions(OPTIONS.policy, TODAY, len(data), 2_000_000)).ok


@pytest.mark.parametrize("name", [CSV_A, XLSX_D])
def test_over_the_row_limit(name: str) -> None:
    rows = 3
    report = rejected(
        check(BYTES[name], name, options=ValidationOptions(OPTIONS.policy, TODAY, 200 << 20, rows)),
        ("F_TOO_LARGE", None, None),
    )
    assert "3行" in message(report, "F_TOO_LARGE")
    assert check(BYTES[name], name, options=ValidationOptions(OPTIONS.policy, TODAY, 200 << 20, 6)).ok


# -------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    [
        f"../{CSV_A}",
        f"..{CSV_A}",
        f"{A}_202611..csv",
        f"{A}_202611_../x.csv",
        f"{A}_202611 .csv",
        f" {CSV_A}",
        f"{A} _202611.csv",
        f"{A}_202611_v 2.csv",
        f"{A}_202611_{'v' * 278}.csv",
        "x" * 300,
    ],
)
def test_bad_file_names(name: str) -> None:
    report = rejected(check(SAMPLE_A, name), ("F_NAME", None, None))
    assert report.unit_account is None and report.month is None


def test_a_long_name_is_not_echoed_whole() -> None:
    name = f"{A}_202611_{'v' * 278}.csv"
    assert len(name) == 300
    said = message(check(SAMPLE_A, name), "F_NAME")
    assert len(said) < 300


# ------------------------------------------------------------- property test

SAMPLE_ROWS = {name: check(data, name).rows for name, data in BYTES.items()}


def _truncate(data: bytes, at: int, _: bytes) -> bytes:
    return data[: at % (len(data) + 1)]


def _insert(data: bytes, at: int, junk: bytes) -> bytes:
    at %= len(data) + 1
    return data[:at] + junk + data[at:]


def _flip(data: bytes, at: int, junk: bytes) -> bytes:
    if not data:
        return data
    at %= len(data)
    return data[:at] + bytes([data[at] ^ (junk[0] if junk and junk[0] else 0xFF)]) + data[at + 1 :]


def _duplicate_line(data: bytes, at: int, _: bytes) -> bytes:
    lines = data.split(b"\n")
    i = at % len(lines)
    return b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])


def _swap_delimiter(data: bytes, at: int, junk: bytes) -> bytes:
    new = [b";", b"\t", b"|", b"\xef\xbc\x8c"][at % 4]  # the last one is a full-width comma
    if junk and junk[0] % 2:
        return data.replace(b",", new)
    i = data.find(b",", at % (len(data) or 1))
    return data if i < 0 else data[:i] + new + data[i + 1 :]


MUTATIONS: dict[str, Callable[[bytes, int, bytes], bytes]] = {
    "truncate": _truncate,
    "insert": _insert,
    "flip": _flip,
    "duplicate_line": _duplicate_line,
    "swap_delimiter": _swap_delimiter,
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(list(BYTES)),
    st.lists(
        st.tuples(st.sampled_from(list(MUTATIONS)), st.integers(min_value=0, max_value=1 << 20), st.binary(max_size=8)),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_samples_never_raise_and_never_pass_changed_data(
    name: str, mutations: list[tuple[str, int, bytes]]
) -> None:
    data = BYTES[name]
    for kind, at, junk in mutations:
        data = MUTATIONS[kind](data, at, junk)
    report = check(data, name)
    if report.ok:
        # Every member is on the roster and every amount is base x rate of the register, so a
        # file that still passes must still say what the sample says, row for row.
        original = SAMPLE_ROWS[name]
        typed = ["member_account", "base_fen", "employer_amount_fen", "employee_amount_fen", "total_amount_fen"]
        assert report.rows.height == original.height > 0
        assert report.rows.select(typed).sort("member_account").equals(original.select(typed).sort("member_account"))
    else:
        assert report.problems()


# --------------------------------------------------------------- the pipeline


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


LONG_NAME = f"{A}_202611_{'x' * 200}.csv"
"""As long as a name can be and still have room, in a 255-byte file system, for its results' temporary names."""


def hostile_uploads() -> dict[str, tuple[bytes, str]]:
    """File name -> (content, expected code) for the pipeline test."""
    return {
        f"{A}_202611_empty.csv": (b"", "F_FORMAT"),
        f"{A}_202611_notzip.xlsx": (
            SAMPLE_A.replace(b"\n", b"\r\n"),
            "F_FORMAT",
        ),  # not the valid file: its hash differs
        f"{A}_202611_nul.csv": (with_cell(5, NAME, "刘\x00芳"), "F_FORMAT"),
        f"{A}_202611 copy.csv": (with_cell(5, NAME, "刘芳芳"), "F_NAME"),
        LONG_NAME: (with_cell(6, NAME, "陈志"), "F_NAME"),
        f"{A}_202611_formula.csv": (with_cell(4, NAME, '=HYPERLINK("http://x","y")'), "F_ROW_ERRORS"),
        f"{A}_202611_bomb.xlsx": (zip_bomb(24), "F_TOO_LARGE"),
    }


@pytest.mark.parametrize("sftp_env", ["openssh", "embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_cycle_of_hostile_files_rejects_each_and_posts_the_valid_one(
    sftp_env: SftpEnv, db_url: str, job: Job
) -> None:
    uploads = hostile_uploads()
    for i, (name, (data, _)) in enumerate(uploads.items()):
        path = job.env.put(A, name, data)
        os.utime(path, (1_790_000_000 + i, 1_790_000_000 + i))
    job.upload(A, VALID / CSV_A, mtime=1_790_000_100)
    before = job.balances()

    result = job.run("run-once")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output

    posted = job.result(A, CSV_A)
    assert posted["status"] == "POSTED" and posted["posted_fen"] == 1623000
    for name, (_, code) in uploads.items():
        doc = job.result(A, name)
        assert doc["status"] == "REJECTED", (name, doc)
        assert doc["posted_rows"] == doc["posted_fen"] == 0
        assert code in [e["code"] for e in doc["errors"]], (name, doc["errors"])  # type: ignore[union-attr]
    formula = job.env.root / A / "outbox" / f"{A}_202611_formula.result.csv"
    assert "'=HYPERLINK" in formula.read_text("utf-8-sig")
    assert _files(job.env.root / A / "inbox") == []
    archived = _files(job.env.root / A / "archive")
    for name in [*uploads, CSV_A]:
        assert name in archived and f"{name}.done" in archived
    after = job.balances()  # also verifies the ledger
    changed = {m for m in after if after[m] != before.get(m, 0)}
    assert changed == {f"1001230000{i:02d}" for i in range(1, 7)}
    assert sum(after.values()) - sum(before.values()) == 1623000


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_name_as_long_as_the_file_system_allows_still_gets_a_result(sftp_env: SftpEnv, db_url: str, job: Job) -> None:
    name = f"{A}_202611_{'x' * 228}.csv"
    assert len(f"{name}.done") == 255  # the longest name that can still have its marker
    job.env.put(A, name, SAMPLE_A)
    assert job.run("run-once").exit_code == 0
    json_name, csv_name, xlsx_name = result_names(name)
    assert max(len(n.encode()) for n in (json_name, csv_name, xlsx_name)) <= 255
    outbox = job.env.root / A / "outbox"
    assert sorted(p.name for p in outbox.iterdir()) == sorted([json_name, csv_name, xlsx_name])
    result = json.loads((outbox / json_name).read_text("utf-8"))
    assert result["file"] == name and result["status"] == "REJECTED"
    assert _files(job.env.root / A / "inbox") == []


# ------------------------------------------------------------ text, not markup

MARKUP_NAMES = (
    "王建国[/]",
    "[red]李晓燕[/red]",
    "[bold]张伟",
    "刘芳:cn:",
    "陈志强[link=http://x]点我[/link]",
    "杨丽\x1b[31m",
)
"""Names that a rich console would read as markup, emoji codes or terminal escapes if it were allowed to."""


@pytest.mark.parametrize("sftp_env", ["embedded"], indirect=True)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_names_that_look_like_markup_print_as_written_in_every_command(sftp_env: SftpEnv, job: Job) -> None:
    """validate, run-once, batches show, accounts show, import problems: the text comes out as it went in."""
    members = (SAMPLES / "master" / "members.csv").read_text("utf-8")
    sample = BYTES[CSV_A].decode("utf-8-sig")
    real = ("王建国", "李晓燕", "张伟", "刘芳", "陈志强", "杨丽")
    for plain, hostile in zip(real, MARKUP_NAMES, strict=True):
        members = members.replace(f",{plain},", f',"{hostile}",')
    master = job.home / "members.csv"
    master.write_text(members.replace("\x1b", ""), "utf-8")  # control characters are refused by import
    imported = job.run("accounts", "import", "--members", str(master))
    assert imported.exit_code == 0, imported.output

    wrong = sample.replace("王建国", "王建国[/]x")  # a name that differs: its message quotes the markup
    path = job.home / CSV_A
    path.write_text(wrong, "utf-8")
    checked = job.run("validate", str(path))
    assert checked.exit_code == 1 and "Traceback" not in checked.output
    assert "王建国[/]x" in checked.output and "王建国[/]" in checked.output

    job.upload(A, path)
    cycle = job.run("run-once")
    assert cycle.exit_code == 0, cycle.output
    (batch,) = json.loads(job.run("batches", "list", "--json").output)
    shown = job.run("batches", "show", str(batch["id"]))
    assert shown.exit_code == 0 and "王建国[/]x" in shown.output

    for account, hostile in (("100123000002", "[red]李晓燕[/red]"), ("100123000003", "[bold]张伟"),
                             ("100123000004", "刘芳:cn:"), ("100123000005", "陈志强[link=http://x]点我[/link]")):  # fmt: skip
        member = job.run("accounts", "show", account)
        assert member.exit_code == 0 and hostile in member.output, member.output

    bad = job.home / "bad_members.csv"
    bad.write_text(members.replace("\x1b", "").replace("100123000001,", "[/]x,", 1), "utf-8")
    refused = job.run("accounts", "import", "--members", str(bad))
    assert refused.exit_code == 1 and "“[/]x”" in refused.output and "Traceback" not in refused.output


def test_our_own_messages_keep_their_brackets(tmp_path: Path) -> None:
    """A message that names a config section, `[sftp]`, must not lose it to markup."""
    from click.testing import CliRunner

    from jobs.cli import hpf

    config = tmp_path / "hpf.toml"
    config.write_text("", "utf-8")
    result = CliRunner().invoke(hpf, ["--config", str(config), "run-once"])
    assert result.exit_code == 1 and "[sftp]" in result.output
