"""Bytes of a CSV or XLSX remittance file -> a frame of text cells with spreadsheet row numbers.

Every cell is read as text (stripped; empty becomes null) and parsed later by
us, so a bad cell is an error with its row, never a crash or a silent null.
Row numbers are those a person sees when opening the file: the header is on
row 1 in the usual case, blank rows and leading blank rows keep their place,
and a quoted multi-line cell is still one row.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from xml.etree import ElementTree

import fastexcel
import polars as pl

from schemas.codes import Problem
from schemas.columns import REMITTANCE, ColumnSet

XLSX_MAX_UNZIPPED = 2 << 30
"""Uncompressed bytes an XLSX may expand to; beyond this it is treated as a zip bomb."""
XLSX_MAX_RATIO = 200
"""Compression ratio beyond which an XLSX member is treated as a zip bomb."""
CELL_MAX_CHARS = 32_767
"""Excel's limit on the characters of one cell: a longer cell is damage, not data, and is never echoed back."""


@dataclass(frozen=True, slots=True)
class Table:
    """The data rows of a file: `row_no` plus one text column per recognised header."""

    frame: pl.DataFrame
    headers: MappingProxyType[str, str]
    """Canonical column name -> the header text as written in the file."""
    encoding: str


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The start of an old binary Excel file (.xls, and .et files saved as .xls)."""
LEGACY_XLS = (
    "这是旧版Excel（.xls）格式的文件，无法读取：请在Excel或WPS中“另存为”.xlsx，或“CSV UTF-8（逗号分隔）”后重新上传"
)


def read_table(data: bytes, file_name: str, *, max_rows: int, columns: ColumnSet = REMITTANCE) -> Table | list[Problem]:
    """Read `data` as the file `file_name` of the kind `columns` says; file-level problems when it cannot be read."""
    if not data:
        return [Problem("F_FORMAT", "文件为空（0字节）")]
    if data.startswith(OLE2):
        return [Problem("F_FORMAT", LEGACY_XLS)]
    is_zip = data[:4] == b"PK\x03\x04"
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if ext == "xlsx" or (ext != "csv" and is_zip):
        if not is_zip:
            return [Problem("F_FORMAT", "扩展名为.xlsx，但文件内容不是有效的XLSX（ZIP）文件")]
        return _read_xlsx(data, max_rows, columns)
    if is_zip:
        return [Problem("F_FORMAT", "扩展名为.csv，但文件内容是ZIP/XLSX文件，请另存为CSV或改用.xlsx扩展名")]
    return _read_csv(data, max_rows, columns)


# -------------------------------------------------------------------- CSV


def _read_csv(data: bytes, max_rows: int, spec: ColumnSet) -> Table | list[Problem]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [
            Problem(
                "F_ENCODING",
                "文件编码应为UTF-8或GB18030/GBK，实际为UTF-16（Excel的“Unicode文本”）：请另存为“CSV UTF-8（逗号分隔）”",
            )
        ]
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    for bad, what in (
        (b"\x00", "NUL字符（\\0），文件可能已损坏或不是文本文件"),
        (b"\xef\xbb\xbf", "字节顺序标记（BOM），文件可能由多个文件拼接而成"),
    ):
        at = body.find(bad)
        if at >= 0:
            line = body.count(b"\n", 0, at) + 1
            return [Problem("F_FORMAT", f"第{line}行含有{what}")]
    # Blank lines above the header keep their numbers but must not set the width.
    leading = _LEADING_BLANK_LINES.match(body)
    first_row = 1 + body.count(b"\n", 0, leading.end()) if leading else 1
    body = body[leading.end() :] if leading else body
    # Polars checks UTF-8 itself, so the common case never decodes in Python.
    cells = _polars_csv(body, max_rows)
    encoding = "utf-8-sig" if bom else "utf-8"
    if cells is None:
        decoded = decode_text(body, bom)
        if isinstance(decoded, Problem):
            return [decoded]
        text, encoding = decoded
        cells = _polars_csv(text.encode("utf-8"), max_rows) if encoding == "gb18030" else None
        if cells is None:
            return [_csv_syntax_problem(text)]
    frame, width = cells
    return _table(frame, width, first_row, encoding, max_rows, spec)


_LEADING_BLANK_LINES = re.compile(rb"(?:[ \t\r]*\n)+")


def _polars_csv(utf8: bytes, max_rows: int) -> tuple[pl.DataFrame, int] | None:
    """All cells as text, plus one spare column that catches rows longer than the header."""
    try:
        width = _width(utf8)
        cells = pl.read_csv(
            utf8,
            has_header=False,
            schema={f"c{i}": pl.String for i in range(width + 1)},
            missing_columns="insert",
            truncate_ragged_lines=True,
            n_rows=max_rows + 2,
        )
    except (pl.exceptions.PolarsError, OSError):
        return None
    return cells, width


def _width(utf8: bytes) -> int:
    """The fields of the first row: counted by commas when it has no quotes (a polars read costs a millisecond)."""
    line = utf8[: utf8.find(b"\n")] if b"\n" in utf8 else utf8
    if b'"' not in line:
        return line.count(b",") + 1
    return pl.read_csv(utf8, has_header=False, n_rows=1, infer_schema=False, truncate_ragged_lines=True).width


def decode_text(data: bytes, bom: bool = False) -> tuple[str, str] | Problem:
    """(text, encoding): UTF-8, else GB18030 (a superset of GBK)."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        if bom:
            return _encoding_problem(data, utf8_error.start, "UTF-8（文件带有UTF-8 BOM）")
        try:
            return data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError as gb_error:
            # The encoding that read further is the one the file was meant to be in,
            # so its failure is where the damage is.
            if gb_error.start >= utf8_error.start:
                return _encoding_problem(data, gb_error.start, "UTF-8或GB18030/GBK", "GB18030/GBK")
            return _encoding_problem(data, utf8_error.start, "UTF-8或GB18030/GBK", "UTF-8")


def _encoding_problem(data: bytes, offset: int, expected: str, read_as: str | None = None) -> Problem:
    line = data.count(b"\n", 0, offset) + 1
    found = data[offset : offset + 4].hex(" ")
    how = f"按{read_as}读取时，" if read_as else ""
    return Problem(
        "F_ENCODING",
        f"文件编码无法识别：应为{expected}，{how}第{line}行（字节偏移{offset}）处的字节 {found} 无效",
    )


def _csv_syntax_problem(text: str) -> Problem:
    """Where the CSV stops being CSV: the slow, exact reader on the failure path only."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for _ in reader:
            pass
    except csv.Error as e:
        return Problem("F_FORMAT", f"CSV格式错误，第{reader.line_num}行：{_csv_reason(str(e))}")
    return Problem("F_FORMAT", "CSV格式错误：无法解析（请检查引号和分隔符）")


def _csv_reason(message: str) -> str:
    if "EOF" in message or "end of data" in message:
        return "引号未闭合"
    if "expected after" in message:
        return '右引号后应紧跟逗号或换行（引号内的引号要写成两个""）'
    return f"无法解析（{message}）"


# ------------------------------------------------------------------- XLSX


def _read_xlsx(data: bytes, max_rows: int, spec: ColumnSet) -> Table | list[Problem]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return [Problem("F_FORMAT", "不是有效的XLSX文件（ZIP结构损坏）")]
    unzipped = sum(i.file_size for i in infos)
    if unzipped > XLSX_MAX_UNZIPPED or any(
        i.compress_size and i.file_size / i.compress_size > XLSX_MAX_RATIO and i.file_size > (16 << 20) for i in infos
    ):
        return [Problem("F_TOO_LARGE", f"XLSX解压后达{unzipped // (1 << 20)}MB，疑似压缩炸弹，未读取")]
    try:
        first_row = _first_used_row(archive)
        reader = fastexcel.read_excel(data)
        sheet = reader.load_sheet(0, header_row=None, dtypes="string", n_rows=max_rows + 2)
        batch, errors = sheet.to_arrow_with_errors()
        cells = _with_error_cells(pl.DataFrame(batch), errors.errors if errors else [])
    except Exception as e:
        return [Problem("F_FORMAT", f"不是可读取的XLSX文件：{type(e).__name__}")]
    if cells.width == 0:
        elsewhere = _list_on_another_sheet(reader, spec)
        return [Problem("F_FORMAT", f"第一个工作表是空的；{elsewhere.message}" if elsewhere else "第一个工作表是空的")]
    cells = cells.rename(dict(zip(cells.columns, (f"c{i}" for i in range(cells.width)), strict=True)))
    cells = cells.with_columns(pl.lit(None, pl.String).alias(f"c{cells.width}"))
    table = _table(cells, cells.width - 1, first_row, "xlsx", max_rows, spec)
    if isinstance(table, list) and all(p.code == "F_COLUMNS" for p in table):
        elsewhere = _list_on_another_sheet(reader, spec)
        return [elsewhere] if elsewhere else table
    return table


def _list_on_another_sheet(reader: Any, spec: ColumnSet) -> Problem | None:
    """When the list is on a later sheet (an instructions sheet first), say so; only the first sheet is read."""
    names = list(reader.sheet_names)
    for index, name in enumerate(names[1:6], start=1):
        try:
            head = reader.load_sheet(index, header_row=None, dtypes="string", n_rows=10).to_polars()
        except Exception:  # a sheet we cannot read is no evidence either way
            continue
        columns = list(head.columns)
        if any(_recognised(row, columns, spec) >= 3 for row in head.iter_rows(named=True)):
            return Problem(
                "F_COLUMNS",
                f"第一个工作表“{names[0]}”不是{spec.kind}，清册在工作表“{name}”：只读取第一个工作表，"
                "请把清册移到最前面（或删除说明页）后重新提交",
            )
    return None


_EXCEL_ERRORS = {
    "Div0": "#DIV/0!", "NA": "#N/A", "Value": "#VALUE!", "Ref": "#REF!",
    "Name": "#NAME?", "Num": "#NUM!", "Null": "#NULL!", "GettingData": "#GETTING_DATA",
}  # fmt: skip
_ERROR_DETAIL = re.compile(r"Error\((\w+)\)")


def _with_error_cells(cells: pl.DataFrame, errors: list[Any]) -> pl.DataFrame:
    """Formula errors (#DIV/0!, #N/A, …) as the text Excel shows, never an empty cell.

    calamine reads them as null, which would tell the employer "required" when
    the cell holds a broken formula.
    """
    by_column: dict[int, tuple[list[int], list[str]]] = {}
    for error in errors:
        row, col = error.offset_position
        m = _ERROR_DETAIL.search(error.detail)
        text = _EXCEL_ERRORS.get(m.group(1), f"#{m.group(1)}") if m else "#ERROR"
        rows, texts = by_column.setdefault(col, ([], []))
        rows.append(row)
        texts.append(text)
    for col, (rows, texts) in by_column.items():
        name = cells.columns[col]
        cells = cells.with_columns(cells[name].scatter(rows, texts))
    return cells


_CELL_REF = re.compile(r"[A-Z]+([0-9]+)")


def _first_used_row(archive: zipfile.ZipFile) -> int:
    """The sheet row of the first cell with a value: calamine starts its range there."""
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    with archive.open(_first_sheet_path(archive)) as stream:
        for _, elem in ElementTree.iterparse(stream, events=("end",)):
            if elem.tag == f"{ns}c" and (elem.find(f"{ns}v") is not None or elem.find(f"{ns}is") is not None):
                m = _CELL_REF.match(elem.get("r", ""))
                return int(m.group(1)) if m else 1
            if elem.tag == f"{ns}row":
                elem.clear()
    return 1


def _first_sheet_path(archive: zipfile.ZipFile) -> str:
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    sheet = book.find(f"{ns_main}sheets/{ns_main}sheet")
    rid = sheet.get(f"{ns_rel}id") if sheet is not None else None
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return "xl/worksheets/sheet1.xml"


def _excel_numbers(column: str) -> pl.Expr:
    """A numeric cell written with more digits than Excel shows is cut to 15 significant digits.

    Excel keeps and displays 15 significant digits, so a stored 279.59999999999997
    is the 279.6 the payroll clerk saw. Only such long decimals are touched
    (rare, so the Python step is cheap), and only in money and rate columns:
    an 18-digit ID number is text and must stay as written.
    """
    col = pl.col(column)
    long_float = col.str.contains(r"^-?[0-9]*\.[0-9]{3,}$") & (
        col.str.replace_all(r"[-.]", "").str.strip_chars_start("0").str.len_chars() > 15
    )
    return (
        pl.when(long_float)
        .then(col.map_elements(lambda s: format(float(s), ".15g"), return_dtype=pl.String))
        .otherwise(col)
        .alias(column)
    )


# ----------------------------------------------------------------- common


def _recognised(row: dict[str, Any], columns: list[str], spec: ColumnSet) -> int:
    return sum(1 for c in columns if spec.canonical(row.get(c) or "") is not None)


def _header_hint(
    header: dict[str, Any], cells: pl.DataFrame, columns: list[str], found: dict[str, tuple[str, int]], spec: ColumnSet
) -> Problem | None:
    """One problem that says what went wrong with the header, where it is a common mistake; else None.

    A title row above the header, or a file separated by semicolons or tabs,
    would otherwise be told as nine missing columns.
    """
    if len(found) >= 3:
        return None  # a real header missing a column or two: each is named
    # A one-cell title row makes a CSV one column wide: the header below shows only in its first cells.
    seen = [*columns, f"c{len(columns)}"]
    enough = min(3, len(seen))
    for row in cells.head(10).iter_rows(named=True):
        if _recognised(row, seen, spec) >= enough:
            return Problem(
                "F_COLUMNS",
                f"表头应在第一行，但第{row['row_no']}行才是表头（含“个人账号”“姓名”等列名）："
                "请删除表头上方的标题行或空行后重新提交",
            )
    texts = [str(header.get(c) or "") for c in columns]
    for mark, words in ((";", "分号（;）"), ("；", "中文分号（；）"), ("\t", "制表符"), ("|", "竖线（|）")):
        if any(mark in t for t in texts) and not found:
            return Problem(
                "F_COLUMNS",
                f"表头中有{words}：文件似乎以{words}分隔，CSV应以逗号分隔：请在Excel或WPS中另存为“CSV（逗号分隔）”",
            )
    return None


def _too_long_cells(frame: pl.DataFrame, spec: ColumnSet, shown: int = 5) -> list[Problem]:
    """F_FORMAT for each cell longer than a spreadsheet cell can be (the first few), naming row and column."""
    # Bytes first: cheap, and never fewer than the characters.
    suspects = frame.filter(pl.any_horizontal(pl.col(c).str.len_bytes() > CELL_MAX_CHARS for c in spec.by_name))
    if suspects.height == 0:
        return []
    cells = (
        suspects.unpivot(index="row_no", on=list(spec.by_name), variable_name="column")
        .with_columns(pl.col("value").str.len_chars().alias("chars"))
        .filter(pl.col("chars") > CELL_MAX_CHARS)
        .sort("row_no")
    )
    return [
        Problem(
            "F_FORMAT",
            f"第{c['row_no']}行“{spec.label[c['column']]}”列的内容应不超过{CELL_MAX_CHARS}个字符（电子表格单元格的上限），"
            f"实际为{c['chars']}个字符，文件可能已损坏",
            column=c["column"],
        )
        for c in cells.head(shown).iter_rows(named=True)
    ]


def _clean(cell: pl.Expr) -> pl.Expr:
    stripped = cell.str.strip_chars()
    return pl.when(stripped != "").then(stripped)


def _table(
    cells: pl.DataFrame, width: int, first_row: int, encoding: str, max_rows: int, spec: ColumnSet
) -> Table | list[Problem]:
    """Find the header, map it to canonical columns, drop blank rows, number rows."""
    data_cols = [f"c{i}" for i in range(width)]
    blank = pl.all_horizontal(pl.col(c).is_null() for c in [*data_cols, f"c{width}"])
    cells = (
        cells.lazy()
        .with_columns(_clean(pl.col(c)) for c in cells.columns)
        .with_row_index("row_no", offset=first_row)
        .with_columns(pl.col("row_no").cast(pl.Int64))
        .filter(~blank)
        .collect()
    )
    if cells.height == 0:
        return [Problem("F_FORMAT", "文件没有内容")]
    header = cells.row(0, named=True)
    cells = cells.slice(1)
    if cells.height > max_rows:
        return [Problem("F_TOO_LARGE", f"数据行应不超过{max_rows}行，实际多于{max_rows}行，未检查")]

    problems: list[Problem] = []
    found: dict[str, tuple[str, int]] = {}
    for i, col in enumerate(data_cols):
        text = header[col] or ""
        name = spec.canonical(text)
        if name is None:
            continue
        if name in found:
            problems.append(
                Problem(
                    "F_COLUMNS",
                    f"列“{spec.label[name]}”（{name}）出现了两次：第{found[name][1] + 1}列“{found[name][0]}”和第{i + 1}列“{text}”",
                    column=name,
                )
            )
        else:
            found[name] = (text, i)
    missing = [name for name in spec.required if name not in found]
    if missing and (hint := _header_hint(header, cells, data_cols, found, spec)):
        return [*problems, hint]
    for name in missing:
        problems.append(Problem("F_COLUMNS", f"缺少必填列“{spec.label[name]}”（{name}），表头中没有找到", column=name))
    if problems:
        return problems
    if cells.height == 0:
        return [Problem("F_FORMAT", "没有数据行：只有表头")]

    spare = cells[f"c{width}"]
    ragged = cells["row_no"].filter(spare.is_not_null()) if spare.null_count() < spare.len() else None
    if ragged is not None:
        rows = "、".join(str(r) for r in ragged.head(10))
        more = f"等{ragged.len()}行" if ragged.len() > 10 else ""
        return [Problem("F_FORMAT", f"第{rows}行{more}的字段数多于表头的{width}列（可能有未加引号的逗号）")]

    at = {name: i for name, (_, i) in found.items()}
    frame = cells.select(
        "row_no",
        *(pl.col(f"c{at[c]}").alias(c) if c in at else pl.lit(None, pl.String).alias(c) for c in spec.by_name),
    )
    too_long = _too_long_cells(frame, spec)
    if too_long:
        return too_long
    if encoding == "xlsx":
        frame = frame.with_columns(_excel_numbers(c) for c in (*spec.money, *spec.rates))
    return Table(frame=frame, headers=MappingProxyType({n: t for n, (t, _) in found.items()}), encoding=encoding)
