"""A small XLSX writer whose rows are built by polars expressions, not Python loops.

Result workbooks have a few styled cells and then up to a hundred thousand
detail rows (or a million error lines). xlsxwriter writes about 150,000 cells
a second from Python, which made the detail sheet of a large file cost 11 s;
here each sheet's XML is one polars string expression over the whole frame.

What it writes is deliberately little: inline-string and number cells, a few
styles (bold, money, counts, a title, a header, a good and a bad verdict),
column widths, a frozen header row, an optional title above it, an autofilter
and a few footer rows below the table. Every text cell is
XML-escaped; characters XML 1.0 cannot carry become U+FFFD, and a literal
`_xHHHH_` is escaped so Excel shows it as written. There is no way to write a
formula: no `<f>` element is ever produced.
"""

from __future__ import annotations

import functools
import re
import struct
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import polars as pl

PLAIN, BOLD, MONEY, TITLE, HEADER, COUNT, MONEY_BOLD, GOOD, BAD = range(9)
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
class Cell:
    """One cell of a footer row: a few totals under a table, written from Python values."""

    column: int
    value: str
    """Text, or the decimal literal of a number when `number`."""
    style: int = PLAIN
    number: bool = False


@dataclass(frozen=True, slots=True)
class Sheet:
    name: str
    headers: Sequence[str]
    columns: Sequence[Column]
    frame: pl.DataFrame
    """The rows under the header; `columns` are evaluated on it."""
    title: str | None = None
    """A title on the first row, above the header."""
    header_style: int = BOLD
    autofilter: bool = False
    footer: Sequence[Sequence[Cell]] = ()
    """Rows written after the table and one empty row."""
    page_title: str | None = None
    """Printed at the top of every page (unit, month, status): payroll staff print their receipts."""

    @property
    def header_row(self) -> int:
        return 2 if self.title is not None else 1


def workbook(sheets: Sequence[Sheet]) -> bytes:
    """The bytes of an .xlsx file with these sheets, each with a bold, frozen header row."""
    return workbooks([sheets])[0]


def workbooks(books: Sequence[Sequence[Sheet]]) -> list[bytes]:
    """`workbook` of each book, the sheets that share one `columns` object evaluated in one polars query.

    A month-end cycle writes thousands of small workbooks; one query per
    sheet costs more than the rows it writes, so the sheets built from the
    same columns (the same kind of sheet in every book) are stacked and
    written together.
    """
    kinds: dict[int, list[Sheet]] = {}
    for sheets in books:
        for sheet in sheets:
            kinds.setdefault(id(sheet.columns), []).append(sheet)
    bodies: dict[int, bytes] = {}
    for same in kinds.values():
        bodies.update(zip(map(id, same), _bodies(same), strict=True))
    xml = [_sheet_xml(sheet, bodies[id(sheet)]) for sheets in books for sheet in sheets]
    deflated = iter(_deflate_all(xml))
    done = []
    for sheets in books:
        parts = [
            _packed("[Content_Types].xml", _content_types(len(sheets)).encode()),
            _packed("_rels/.rels", _ROOT_RELS.encode()),
            _packed("xl/workbook.xml", _workbook(sheets).encode()),
            _packed("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)).encode()),
            _packed("xl/styles.xml", _STYLES.encode()),
        ]
        parts += [(f"xl/worksheets/sheet{i}.xml".encode(), *next(deflated)) for i in range(1, len(sheets) + 1)]
        done.append(_zip(parts))
    return done


_THREADED = 1 << 20
"""Bytes of sheets from which they are deflated on two threads (zlib lets go of the GIL while it works)."""


def _deflate_all(members: Sequence[tuple[bytes, ...]]) -> list[tuple[int, int, bytes]]:
    """(CRC-32, size, deflated bytes) of each member (given as the pieces it is made of), in order."""
    if sum(len(p) for m in members for p in m) < _THREADED:
        return [_deflate(m) for m in members]
    half = len(members) // 2
    with ThreadPoolExecutor(1) as other:
        second = other.submit(lambda: [_deflate(m) for m in members[half:]])
        first = [_deflate(m) for m in members[:half]]
        return first + second.result()


def _deflate(pieces: tuple[bytes, ...]) -> tuple[int, int, bytes]:
    """Deflated piece by piece: a large sheet's body is never copied to join it with its head and tail."""
    # Level 1: a result sheet deflates to a sixth of its size and the level costs what writing it does.
    size = sum(map(len, pieces))
    if size < 1 << 16:  # the small sheets of a month-end cycle: one call each
        data = b"".join(pieces)
        return zlib.crc32(data), size, zlib.compress(data, 1, wbits=-15)
    deflater = zlib.compressobj(1, zlib.DEFLATED, -15)
    crc, out = 0, []
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
        out.append(deflater.compress(piece))
    out.append(deflater.flush())
    return crc, size, b"".join(out)


_Packed = tuple[bytes, int, int, bytes]
"""A zip member: its name, CRC-32, size, and deflated bytes."""


def _pack(name: str, data: bytes) -> _Packed:
    return name.encode(), *_deflate((data,))


@functools.lru_cache(maxsize=256)
def _packed(name: str, data: bytes) -> _Packed:
    """`_pack` of the members every workbook of the same sheets has (content types, styles, …): deflated once."""
    return _pack(name, data)


_STAMP = (0, (1 << 5) | 1)
"""DOS time and date of every member (1980-01-01 00:00): the same rows give the same bytes."""


def _zip(members: Sequence[_Packed]) -> bytes:
    """A zip archive of deflated members (what zipfile writes, without its per-member Python overhead).

    A month-end cycle writes tens of thousands of small workbooks; zipfile's
    bookkeeping cost more than the deflating.
    """
    out, central = [], []
    at = 0
    for name, crc, size, packed in members:
        head = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, *_STAMP, crc, len(packed), size, len(name), 0)
        central.append(
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, *_STAMP, crc, len(packed), size, len(name),
                        0, 0, 0, 0, 0, at) + name
        )  # fmt: skip
        out += [head, name, packed]
        at += len(head) + len(name) + len(packed)
    directory = b"".join(central)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), at, 0)
    return b"".join(out) + directory + end


@functools.lru_cache(maxsize=256)
def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_NEEDS_ESCAPE = r"[&<>\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]|_x[0-9A-Fa-f]{4}_"


def xml_text(text: pl.Expr) -> pl.Expr:
    """Text made safe for an XML text node that Excel reads back exactly.

    One search finds the few cells that need escaping; the five replacements run on those alone.
    """
    needs = text.str.contains(_NEEDS_ESCAPE)
    return pl.coalesce(_escaped(pl.when(needs).then(text)), text)


def _escaped(text: pl.Expr) -> pl.Expr:
    return (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]", "\ufffd")
        .str.replace_all(r"_(x[0-9A-Fa-f]{4}_)", "_x005F_$1")
    )


def _bodies(sheets: Sequence[Sheet]) -> list[bytes]:
    """The `<row>` elements under each sheet's header, as UTF-8; the sheets have the same columns.

    Taken out of polars as bytes: a hundred thousand rows as a Python str cost
    more to make and to encode again than polars took to write them.
    """
    filled = [(n, s) for n, s in enumerate(sheets) if s.frame.height]
    bodies = [b""] * len(sheets)
    if not filled:
        return bodies
    columns = sheets[0].columns
    if len(filled) == 1:
        n, sheet = filled[0]
        first = sheet.header_row + 1
        row = pl.int_range(first, pl.len() + first, dtype=pl.Int64).cast(pl.String)
        bodies[n] = sheet.frame.select(_row_xml(row, columns).str.join("").cast(pl.Binary)).item()
        return bodies
    # Each row tagged with its sheet and the sheet's first row number, then one query over them all.
    tags = pl.DataFrame(
        {"_sheet": [n for n, _ in filled], "_first": [s.header_row + 1 for _, s in filled],
         "_rows": [s.frame.height for _, s in filled]},
        schema={"_sheet": pl.Int32, "_first": pl.Int64, "_rows": pl.Int64},
    ).select(pl.col("_sheet", "_first").repeat_by("_rows").explode())  # fmt: skip
    frames = [s.frame for _, s in filled]
    same = all(f.schema == frames[0].schema for f in frames)  # vertical is several times cheaper than diagonal
    stacked = pl.concat([pl.concat(frames, how="vertical" if same else "diagonal_relaxed"), tags], how="horizontal")
    row = (pl.int_range(pl.len(), dtype=pl.Int64).over("_sheet") + pl.col("_first")).cast(pl.String)
    joined = (
        stacked.lazy()
        .select("_sheet", _row_xml(row, columns).alias("xml"))
        .group_by("_sheet")
        .agg(pl.col("xml").str.join("").cast(pl.Binary))
        .collect()
    )
    for n, xml in joined.iter_rows():
        bodies[n] = xml
    return bodies


def _row_xml(row: pl.Expr, columns: Sequence[Column]) -> pl.Expr:
    cells = [_cell(column_letter(c), row, column) for c, column in enumerate(columns)]
    return pl.concat_str([pl.lit('<row r="'), row, pl.lit('">'), *cells, pl.lit("</row>")], ignore_nulls=True)


def _sheet_xml(sheet: Sheet, body: bytes) -> tuple[bytes, bytes, bytes]:
    """The sheet's XML in three pieces: what comes before the body, the body, what comes after."""
    top = sheet.header_row
    first = top + 1
    cells = "".join(_text_cell(f"{column_letter(c)}{top}", h, sheet.header_style) for c, h in enumerate(sheet.headers))
    header = f'<row r="{top}">{cells}</row>'
    if sheet.title is not None:
        header = f'<row r="1">{_text_cell("A1", sheet.title, TITLE)}</row>' + header
    last = top + sheet.frame.height
    footer = "".join(
        f'<row r="{n}">{"".join(_footer_cell(f"{column_letter(c.column)}{n}", c) for c in cells)}</row>'
        for n, cells in enumerate(sheet.footer, start=last + 2)
    )
    end = column_letter(len(sheet.headers) - 1)
    autofilter = f'<autoFilter ref="A{top}:{end}{last}"/>' if sheet.autofilter else ""
    widths = "".join(
        f'<col min="{c}" max="{c}" width="{column.width}" customWidth="1"/>'
        for c, column in enumerate(sheet.columns, start=1)
    )
    head = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        '<sheetViews><sheetView workbookViewId="0">'
        f'<pane ySplit="{top}" topLeftCell="A{first}" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews>'
        f'<sheetFormatPr defaultRowHeight="15"/><cols>{widths}</cols>'
        f"<sheetData>{header}"
    )
    tail = f"{footer}</sheetData>{autofilter}{_print_layout(sheet)}</worksheet>"
    return head.encode(), body, tail.encode()


def _print_layout(sheet: Sheet) -> str:
    """A4 landscape, every column on one page width, pages numbered, the title on each page.

    The header row is repeated on every page by the workbook's Print_Titles name.
    """
    title = ""
    if sheet.page_title:
        # In header text `&` starts a code: a literal ampersand is written twice.
        title = f"<oddHeader>&amp;C{_xml_text(sheet.page_title.replace('&', '&&'))}</oddHeader>"
    return (
        '<pageMargins left="0.4" right="0.4" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
        '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
        f"<headerFooter>{title}<oddFooter>&amp;C第 &amp;P 页，共 &amp;N 页</oddFooter></headerFooter>"
    )


def _text_cell(ref: str, text: str, style: int) -> str:
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{_xml_text(text)}</t></is></c>'


def _footer_cell(ref: str, cell: Cell) -> str:
    if cell.number:
        float(cell.value)  # a number cell holds a decimal literal, never anything a spreadsheet would evaluate
        return f'<c r="{ref}" s="{cell.style}"><v>{cell.value}</v></c>'
    return _text_cell(ref, cell.value, cell.style)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPE_LIKE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


@functools.lru_cache(maxsize=4096)
def _xml_text(text: str) -> str:
    """`xml_text` for one Python string (headers, titles, footers), in Python: a polars call per cell cost more."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _ESCAPE_LIKE.sub(r"_x005F_\1", _CONTROL.sub("\ufffd", text))


def _cell(letter: str, row: pl.Expr, column: Column) -> pl.Expr:
    """The `<c>` element of each row for this column, or null (no cell) where the value is null.

    Where `number` varies by row, each branch is built only on its own rows (the
    other's are null): polars evaluates both branches of a `when` in full, and
    escaping a column of numbers as text cost as much as writing it.
    """
    if isinstance(column.style, pl.Expr):
        start = pl.concat_str(
            [pl.lit(f'<c r="{letter}'), row, pl.lit('" s="'), column.style.cast(pl.String), pl.lit('"')]
        )
    else:  # style 0 is the default: not written, as Excel does not
        style = f' s="{column.style}"' if column.style != PLAIN else ""
        start = pl.concat_str([pl.lit(f'<c r="{letter}'), row, pl.lit(f'"{style}')])
    if isinstance(column.number, pl.Expr):
        numbers = pl.when(column.number).then(column.value)
        texts = pl.when(column.number.not_()).then(column.value)
        return pl.concat_str([start, pl.coalesce(_number_tail(numbers), _text_tail(texts))])
    return pl.concat_str([start, _number_tail(column.value) if column.number else _text_tail(column.value)])


def _number_tail(value: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit("><v>"), value, pl.lit("</v></c>")])


def _text_tail(value: pl.Expr) -> pl.Expr:
    """What follows a text cell's style: `xml:space` only where the text starts or ends with white space.

    That is where Excel writes it; on every cell it was a third of a large sheet's bytes.
    """
    edges = value.str.contains(r"^[ \t\r\n]|[ \t\r\n]$")
    preserve = pl.when(edges).then(pl.lit(' xml:space="preserve"')).otherwise(pl.lit(""))
    return pl.concat_str(
        [pl.lit(' t="inlineStr"><is><t'), preserve, pl.lit(">"), xml_text(value), pl.lit("</t></is></c>")]
    )


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)


def _font(extra: str = "", size: int = 11) -> str:
    return f'<font>{extra}<sz val="{size}"/><name val="Calibri"/><family val="2"/></font>'


def _fill(rgb: str) -> str:
    return (
        f'<fill><patternFill patternType="solid"><fgColor rgb="FF{rgb}"/><bgColor indexed="64"/></patternFill></fill>'
    )


def _xf(font: int = 0, fill: int = 0, border: int = 0, number: int = 0) -> str:
    applied = "".join(
        f' apply{name}="1"'
        for name, used in (("NumberFormat", number), ("Font", font), ("Fill", fill), ("Border", border))
        if used
    )
    return f'<xf numFmtId="{number}" fontId="{font}" fillId="{fill}" borderId="{border}" xfId="0"{applied}/>'


_FONTS = (
    _font(),
    _font("<b/>"),
    _font("<b/>", 14),
    _font('<b/><color rgb="FF006100"/>'),
    _font('<b/><color rgb="FF9C0006"/>'),
)
_FILLS = (
    '<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>',
    _fill("DDEBF7"),
    _fill("C6EFCE"),
    _fill("FFC7CE"),
)
_THIN = '<left style="thin"/><right style="thin"/><top style="thin"/><bottom style="thin"/><diagonal/>'
_CELL_XFS = (  # in the order of PLAIN … BAD; numFmtId 1 is the built-in "0"
    _xf(),
    _xf(font=1),
    _xf(number=164),
    _xf(font=2),
    _xf(font=1, fill=2, border=1),
    _xf(number=1),
    _xf(font=1, number=164),
    _xf(font=3, fill=3),
    _xf(font=4, fill=4),
)
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    f'<numFmts count="1"><numFmt numFmtId="164" formatCode="{MONEY_FORMAT}"/></numFmts>'
    f'<fonts count="{len(_FONTS)}">{"".join(_FONTS)}</fonts>'
    f'<fills count="5">{"".join(_FILLS)}</fills>'
    f'<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border><border>{_THIN}</border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    f'<cellXfs count="{len(_CELL_XFS)}">{"".join(_CELL_XFS)}</cellXfs>'
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


def _workbook(sheets: Sequence[Sheet]) -> str:
    listed = "".join(
        f'<sheet name={quoteattr(s.name)} sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(sheets, start=1)
    )
    # Each sheet's header row (and the title above it) printed again at the top of every page.
    titles = "".join(
        f'<definedName name="_xlnm.Print_Titles" localSheetId="{i}">'
        f"{_xml_text(_quoted_sheet(s.name))}!$1:${s.header_row}</definedName>"
        for i, s in enumerate(sheets)
    )
    return (
        f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{listed}</sheets>'
        f"<definedNames>{titles}</definedNames></workbook>"
    )


def _quoted_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _workbook_rels(sheets: int) -> str:
    links = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, sheets + 1)
    )
    styles = f'<Relationship Id="rId{sheets + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
    return f'{_XML}<Relationships xmlns="{_PKG}/relationships">{links}{styles}</Relationships>'
