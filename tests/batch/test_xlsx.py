"""The polars-built XLSX writer, read back by openpyxl and by fastexcel (calamine), as Excel users' tools would."""

from __future__ import annotations

import io
import zipfile

import fastexcel
import openpyxl
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch import xlsx

HOSTILE = [
    "a & b <c> \"d\" 'e'",
    "控制\x01字符\x1f",
    "_x0041_ stays as written",
    "  leading and trailing  ",
    '=HYPERLINK("http://x")',
    "two\nlines",
    "成都锦城云数科技有限公司",
    "",
]


def book(frame: pl.DataFrame, columns: list[xlsx.Column], headers: tuple[str, ...]) -> bytes:
    return xlsx.workbook([xlsx.Sheet("明细", headers, columns, frame), xlsx.Sheet("空", ("a",), [], pl.DataFrame())])


@pytest.mark.parametrize(
    ("index", "letter"), [(0, "A"), (25, "Z"), (26, "AA"), (51, "AZ"), (52, "BA"), (701, "ZZ"), (702, "AAA")]
)
def test_column_letters(index: int, letter: str) -> None:
    assert xlsx.column_letter(index) == letter


def test_text_comes_back_exactly_except_characters_xml_cannot_carry() -> None:
    frame = pl.DataFrame({"no": list(range(1, len(HOSTILE) + 1)), "text": HOSTILE})
    data = book(
        frame, [xlsx.Column(pl.col("no").cast(pl.String), number=True), xlsx.Column(pl.col("text"))], ("行", "文本")
    )
    sheet = openpyxl.load_workbook(io.BytesIO(data))["明细"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("行", "文本")
    expected = [t.replace("\x01", "\ufffd").replace("\x1f", "\ufffd") for t in HOSTILE]
    # openpyxl does not undo the `_xHHHH_` escape in inline strings; Excel and calamine (below) do.
    by_openpyxl = [t.replace("_x0041_", "_x005F_x0041_") for t in expected]
    assert [r[1] if r[1] is not None else "" for r in rows[1:]] == by_openpyxl
    assert [r[0] for r in rows[1:]] == list(range(1, len(HOSTILE) + 1))
    formula = sheet.cell(row=6, column=2)
    assert formula.data_type == "s" and formula.value.startswith("=")  # text, never a formula
    assert sheet.freeze_panes == "A2"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert not any(b"<f>" in z.read(n) for n in z.namelist())
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
    # Excel trims the edges of a text without xml:space="preserve"; it is written only where it matters.
    assert '<t xml:space="preserve">  leading and trailing  </t>' in sheet_xml
    assert "<t>two\nlines</t>" in sheet_xml
    calamine = fastexcel.read_excel(data).load_sheet("明细", dtypes="string").to_polars()
    assert calamine["文本"].fill_null("").to_list() == expected


def test_numbers_styles_and_missing_cells() -> None:
    frame = pl.DataFrame(
        {"label": ["总额", "行数", "空"], "value": ["1234567.89", "12", None], "money": [True, False, False]}
    )
    money = pl.when(pl.col("money")).then(xlsx.MONEY).otherwise(xlsx.PLAIN)
    columns = [
        xlsx.Column(pl.col("label"), style=xlsx.BOLD, width=24),
        xlsx.Column(pl.col("value"), number=True, style=money),
    ]
    sheet = openpyxl.load_workbook(io.BytesIO(book(frame, columns, ("项目", "内容"))))["明细"]
    assert sheet["B2"].value == pytest.approx(1234567.89) and sheet["B2"].number_format == "#,##0.00"
    assert sheet["B3"].value == 12 and sheet["B3"].number_format == "General"
    assert sheet["A2"].font.b and not sheet["B3"].font.b
    assert sheet["B4"].value is None and sheet.max_row == 4
    assert sheet.column_dimensions["A"].width == 24


def test_per_row_choice_of_number_or_text() -> None:
    frame = pl.DataFrame({"v": ["7", "=1+1"], "n": [True, False]})
    sheet = openpyxl.load_workbook(io.BytesIO(book(frame, [xlsx.Column(pl.col("v"), number=pl.col("n"))], ("v",))))[
        "明细"
    ]
    assert sheet["A2"].value == 7 and sheet["A3"].value == "=1+1" and sheet["A3"].data_type == "s"


def test_an_empty_sheet_has_only_its_header() -> None:
    sheet = openpyxl.load_workbook(
        io.BytesIO(book(pl.DataFrame({"t": []}, schema={"t": pl.String}), [xlsx.Column(pl.col("t"))], ("t",)))
    )["明细"]
    assert list(sheet.iter_rows(values_only=True)) == [("t",)]


@given(st.text(alphabet=st.sampled_from(list("ab&<>_x0F5\x00\x01\x0b\x1f\ufffe\uffff中 \t\n")), max_size=30))
def test_the_scalar_xml_escape_agrees_with_the_column_one(text: str) -> None:
    from batch.xlsx import _xml_text, xml_text

    assert _xml_text(text) == pl.select(xml_text(pl.lit(text, pl.String))).item()
