"""A small XLSX writer whose rows are built by polars expressions, not Python loops.

Result workbooks have a few styled cells and then up to a hundred thousand
detail rows (or a million error lines). xlsxwriter writes about 150,000 cells
a second from Python, which made the detail sheet of a large file cost 11 s;
here each sheet's XML is one polars string expression over the whole frame.

What it writes is deliberately little: inline-string and number cells, a bold
and a money style, column widths and a frozen header row. Every text cell is
XML-escaped; characters XML 1.0 cannot carry become U+FFFD, and a literal
`_xHHHH_` is escaped so Excel shows it as written. There is no way to write a
formula: no `<f>` element is ever produced.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import polars as pl

PLAIN, BOLD, MONEY = 0, 1, 2
"""Cell styles (indexes into cellXfs of styles.xml)."""

MONEY_FORMAT = "#,##0.00"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a sheet: a String expression holding the value, how to write it, its width."""

    value: pl.Expr
    number: bool | pl.Expr = False
    """Write the text as a number (it must then be a decimal literal such as 1234.56); per row when an Expr."""
    style: pl.Expr | int = PLAIN
    width: float = 10


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str
    headers: Sequence[str]
    columns: Sequence[Column]
    frame: pl.DataFrame
    """The rows under the header; `columns` are evaluated on it."""


def workbook(sheets: Sequence[Sheet]) -> bytes:
    """The bytes of an .xlsx file with these sheets, each with a bold, frozen header row."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        book.writestr("[Content_Types].xml", _content_types(len(sheets)))
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", _workbook([s.name for s in sheets]))
        book.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        book.writestr("xl/styles.xml", _STYLES)
        for i, sheet in enumerate(sheets, start=1):
            book.writestr(f"xl/worksheets/sheet{i}.xml", _sheet_xml(sheet))
    return out.getvalue()


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def xml_text(text: pl.Expr) -> pl.Expr:
    """Text made safe for an XML text node that Excel reads back exactly."""
    return (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]", "\ufffd")
        .str.replace_all(r"_(x[0-9A-Fa-f]{4}_)", "_x005F_$1")
    )


def _sheet_xml(sheet: Sheet) -> bytes:
    header = "".join(
        f'<c r="{column_letter(c)}1" s="{BOLD}" t="inlineStr"><is><t xml:space="preserve">{escape(h)}</t></is></c>'
        for c, h in enumerate(sheet.headers)
    )
    body = ""
    if sheet.frame.height:
        row = pl.int_range(2, pl.len() + 2, dtype=pl.Int64).cast(pl.String)
        cells = [_cell(column_letter(c), row, column) for c, column in enumerate(sheet.columns)]
        lines = sheet.frame.select(
            pl.concat_str([pl.lit('<row r="'), row, pl.lit('">'), *cells, pl.lit("</row>")], ignore_nulls=True)
            .str.join("")
            .alias("xml")
        )
        body = lines.item()
    widths = "".join(
        f'<col min="{c}" max="{c}" width="{column.width}" customWidth="1"/>'
        for c, column in enumerate(sheet.columns, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{widths}</cols>'
        f'<sheetData><row r="1">{header}</row>{body}</sheetData></worksheet>'
    ).encode()


def _cell(letter: str, row: pl.Expr, column: Column) -> pl.Expr:
    """The `<c>` element of each row for this column, or null (no cell) where the value is null."""
    style = column.style if isinstance(column.style, pl.Expr) else pl.lit(column.style)
    start = pl.concat_str([pl.lit(f'<c r="{letter}'), row, pl.lit('" s="'), style.cast(pl.String)])
    number = pl.concat_str([start, pl.lit('"><v>'), column.value, pl.lit("</v></c>")])
    inline = '" t="inlineStr"><is><t xml:space="preserve">'
    text = pl.concat_str([start, pl.lit(inline), xml_text(column.value), pl.lit("</t></is></c>")])
    if isinstance(column.number, pl.Expr):
        return pl.when(column.number).then(number).otherwise(text)
    return number if column.number else text


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    f'<numFmts count="1"><numFmt numFmtId="164" formatCode="{MONEY_FORMAT}"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def _content_types(sheets: int) -> str:
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{kind}.worksheet+xml"/>'
        for i in range(1, sheets + 1)
    )
    return (
        f'{_XML}<Types xmlns="{_PKG}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{kind}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{kind}.styles+xml"/>{overrides}</Types>'
    )


def _workbook(names: Sequence[str]) -> str:
    sheets = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(names, start=1)
    )
    return f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{sheets}</sheets></workbook>'


def _workbook_rels(sheets: int) -> str:
    links = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, sheets + 1)
    )
    styles = f'<Relationship Id="rId{sheets + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
    return f'{_XML}<Relationships xmlns="{_PKG}/relationships">{links}{styles}</Relationships>'
