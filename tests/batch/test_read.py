"""Reading remittance files: CSV in the encodings employers use, XLSX, and every way they break."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

import openpyxl
import pytest
import xlsxwriter

from batch.read import Table, read_table
from schemas.codes import Problem
from schemas.columns import BY_NAME, REQUIRED

HEADER = (
    "个人账号,姓名,证件类型,证件号码,缴存基数,单位缴存比例,个人缴存比例,单位月缴存额,个人月缴存额,月缴存额合计,汇缴年月"
)
ROW1 = "1001,张三,01,11010519491231002X,2330,12%,12%,280,280,560,202611"
ROW2 = '1002,李四,01,440524188001010014,"5,000.00",12,0.12,600,600,1200,202611'
ROW3 = "1003,王五,,810000199408230021,3000,12%,12%,360,360,720,"
HEADERS = HEADER.split(",")


def table(data: bytes, name: str = "0101000123_202611.csv", max_rows: int = 1000) -> Table:
    result = read_table(data, name, max_rows=max_rows)
    assert isinstance(result, Table), result
    return result


def problems(data: bytes, name: str = "0101000123_202611.csv", max_rows: int = 1000) -> list[Problem]:
    result = read_table(data, name, max_rows=max_rows)
    assert isinstance(result, list), result
    assert result, "a problem list is never empty"
    for p in result:
        assert p.row_no is None  # file-level: no row
        assert re.search(r"[\u4e00-\u9fff]", p.message)
    return result


def codes(data: bytes, name: str = "0101000123_202611.csv", max_rows: int = 1000) -> list[str]:
    return [p.code for p in problems(data, name, max_rows)]


def csv_bytes(*lines: str, encoding: str = "utf-8", eol: str = "\n") -> bytes:
    return (eol.join(lines) + eol).encode(encoding)


# ---------------------------------------------------------------------- CSV


def test_utf8_without_bom() -> None:
    t = table(csv_bytes(HEADER, ROW1, ROW2, ROW3))
    assert t.encoding == "utf-8"
    assert t.frame.columns == ["row_no", *BY_NAME]
    assert t.frame["row_no"].to_list() == [2, 3, 4]
    assert t.frame["name"].to_list() == ["张三", "李四", "王五"]
    assert t.frame["base"].to_list() == ["2330", "5,000.00", "3000"]  # text, parsed later
    assert t.frame["id_type"].to_list() == ["01", "01", None]  # empty cell -> null
    assert t.frame["contribution_month"].to_list() == ["202611", "202611", None]
    assert dict(t.headers)["name"] == "姓名"


def test_utf8_with_bom() -> None:
    t = table(b"\xef\xbb\xbf" + csv_bytes(HEADER, ROW1, ROW2))
    assert t.encoding == "utf-8-sig"
    assert t.frame["member_account"].to_list() == ["1001", "1002"]  # BOM is not part of the first header
    assert t.frame["row_no"].to_list() == [2, 3]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_chinese_encodings_detected(encoding: str) -> None:
    t = table(csv_bytes(HEADER, ROW1, ROW2, encoding=encoding))
    assert t.encoding == "gb18030"  # GBK read as its superset
    assert t.frame["name"].to_list() == ["张三", "李四"]
    assert t.frame["row_no"].to_list() == [2, 3]


def test_gb18030_only_characters() -> None:
    # 䶮 (CJK Ext A) and 𠮷 (Ext B, four bytes in GB18030) are not in GBK.
    row = "1001,王䶮𠮷,01,11010519491231002X,2330,12%,12%,280,280,560,202611"
    data = csv_bytes(HEADER, row, encoding="gb18030")
    with pytest.raises(UnicodeEncodeError):
        "𠮷".encode("gbk")
    t = table(data)
    assert t.frame["name"].to_list() == ["王䶮𠮷"]


def test_crlf_line_endings() -> None:
    t = table(csv_bytes(HEADER, ROW1, "", ROW2, eol="\r\n"))
    assert t.frame["row_no"].to_list() == [2, 4]
    assert t.frame["contribution_month"].to_list() == ["202611", "202611"]  # no stray \r


def test_last_line_without_newline() -> None:
    t = table((HEADER + "\n" + ROW1).encode())
    assert t.frame["row_no"].to_list() == [2]
    assert t.frame["contribution_month"].to_list() == ["202611"]


def test_invalid_bytes_are_an_encoding_problem() -> None:
    data = csv_bytes(HEADER, ROW1).replace("张三".encode(), b"\xff\xfe\xfd")
    assert codes(data) == ["F_ENCODING"]


def test_invalid_utf8_after_a_bom_is_an_encoding_problem() -> None:
    # A BOM says UTF-8: a GBK tail is not silently read as GB18030.
    data = b"\xef\xbb\xbf" + csv_bytes(HEADER) + csv_bytes(ROW1, encoding="gbk")
    (p,) = problems(data)
    assert p.code == "F_ENCODING"
    assert "BOM" in p.message


def test_encoding_problem_names_the_bad_line() -> None:
    # A GBK file with one damaged character on line 3: the message points at line 3, not at the
    # first non-UTF-8 byte (the GBK header on line 1).
    data = csv_bytes(HEADER, ROW1, encoding="gbk") + b"1002,\x80\x80,01\n"
    (p,) = problems(data)
    assert p.code == "F_ENCODING"
    assert "第3行" in p.message


def test_nul_byte_is_a_format_problem() -> None:
    data = csv_bytes(HEADER, ROW1, ROW2).replace("李四".encode(), b"\x00")
    (p,) = problems(data)
    assert p.code == "F_FORMAT"
    assert "第3行" in p.message


def test_utf16_is_an_encoding_problem() -> None:
    # Excel's "Unicode text" is UTF-16 with a BOM: neither UTF-8 nor GB18030, never misread.
    (p,) = problems(csv_bytes(HEADER, ROW1, encoding="utf-16"))
    assert p.code == "F_ENCODING"
    assert "UTF-16" in p.message


def test_utf16_without_bom_is_refused() -> None:
    assert codes(csv_bytes(HEADER, ROW1, encoding="utf-16-le")) in (["F_ENCODING"], ["F_FORMAT"])


def test_bom_in_the_middle_is_a_format_problem() -> None:
    # Two files concatenated: the second one's BOM is on line 3.
    data = b"\xef\xbb\xbf" + csv_bytes(HEADER, ROW1) + b"\xef\xbb\xbf" + csv_bytes(HEADER, ROW2)
    (p,) = problems(data)
    assert p.code == "F_FORMAT"
    assert "第3行" in p.message


def test_empty_file() -> None:
    assert codes(b"") == ["F_FORMAT"]


@pytest.mark.parametrize("data", [b"\n", b"\n\n\r\n", b",,,\n,,\n", b"   \n"])
def test_blank_file(data: bytes) -> None:
    assert codes(data) == ["F_FORMAT"]


@pytest.mark.parametrize("data", [csv_bytes(HEADER), csv_bytes(HEADER, "", ""), csv_bytes(HEADER, ",,,,,,,,,,")])
def test_header_only(data: bytes) -> None:
    assert codes(data) == ["F_FORMAT"]


def test_row_with_too_many_fields_is_named() -> None:
    data = csv_bytes(HEADER, ROW1, ROW2, "1004,赵六,01,11010519491231002X,2,330,12%,12%,280,280,560,202611", ROW3)
    (p,) = problems(data)
    assert p.code == "F_FORMAT"
    assert "第4行" in p.message
    assert "11" in p.message  # the header's width


def test_every_long_row_is_named() -> None:
    data = csv_bytes(HEADER, ROW1 + ",x", ROW2, ROW1 + ",y,z")
    (p,) = problems(data)
    assert p.code == "F_FORMAT"
    assert "第2、4行" in p.message


def test_short_row_reads_with_empty_cells() -> None:
    # Missing trailing fields are empty cells (R_REQUIRED later), not a broken file.
    t = table(csv_bytes(HEADER, "1001,张三", ROW2))
    assert t.frame["row_no"].to_list() == [2, 3]
    assert t.frame.row(0, named=True)["id_number"] is None
    assert t.frame.row(0, named=True)["name"] == "张三"


def test_unterminated_quote() -> None:
    data = csv_bytes(HEADER, ROW1, '1002,"李四,01,440524188001010014,2330,12%,12%,280,280,560,202611')
    (p,) = problems(data)
    assert p.code == "F_FORMAT"
    assert "引号" in p.message


def test_text_after_closing_quote_is_a_format_problem() -> None:
    assert codes(csv_bytes(HEADER, '1001,"张"三,01,11010519491231002X,2330,12%,12%,280,280,560,202611')) == ["F_FORMAT"]


def test_text_after_closing_quote_is_explained_in_chinese() -> None:
    (p,) = problems(csv_bytes(HEADER, '1001,"张"三,01,11010519491231002X,2330,12%,12%,280,280,560,202611'))
    assert "引号后应紧跟逗号或换行" in p.message
    assert "expected" not in p.message


def test_missing_required_column_is_named() -> None:
    header = HEADER.replace("证件号码,", "")
    row = ROW1.replace("11010519491231002X,", "")
    (p,) = problems(csv_bytes(header, row))
    assert (p.code, p.column) == ("F_COLUMNS", "id_number")


def test_each_missing_column_is_reported() -> None:
    header = "个人账号,姓名,缴存基数"
    found = problems(csv_bytes(header, "1001,张三,2330"))
    assert {p.code for p in found} == {"F_COLUMNS"}
    assert sorted(p.column for p in found) == sorted(set(REQUIRED) - {"member_account", "name", "base"})


def test_optional_columns_may_be_absent() -> None:
    header = HEADER.replace(",汇缴年月", "").replace("证件类型,", "")
    row = ROW1.replace(",202611", "").replace("01,1101", "1101")
    t = table(csv_bytes(header, row))
    assert t.frame.row(0, named=True)["id_type"] is None
    assert t.frame.row(0, named=True)["contribution_month"] is None
    assert t.frame.row(0, named=True)["id_number"] == "11010519491231002X"


def test_duplicated_column_in_two_languages() -> None:
    data = csv_bytes(HEADER + ",name", ROW1 + ",张三")
    (p,) = problems(data)
    assert (p.code, p.column) == ("F_COLUMNS", "name")
    assert "姓名" in p.message and "name" in p.message


def test_duplicated_and_missing_columns_reported_together() -> None:
    header = HEADER.replace("个人缴存比例", "单位缴存比例")
    found = problems(csv_bytes(header, ROW1))
    assert sorted((p.code, p.column) for p in found) == [("F_COLUMNS", "employee_rate"), ("F_COLUMNS", "employer_rate")]


def test_quoted_newline_is_one_row() -> None:
    row = '1002,"李\n四",01,440524188001010014,2330,12%,12%,280,280,560,202611'
    t = table(csv_bytes(HEADER, ROW1, row, ROW3))
    assert t.frame.height == 3
    assert t.frame["row_no"].to_list() == [2, 3, 4]
    assert t.frame["name"].to_list() == ["张三", "李\n四", "王五"]


def test_blank_lines_keep_row_numbers() -> None:
    t = table(csv_bytes(HEADER, "", ROW1, "", "", ROW2, ",,,,,,,,,,", ROW3, ""))
    assert t.frame["row_no"].to_list() == [3, 6, 8]
    assert t.frame["member_account"].to_list() == ["1001", "1002", "1003"]


def test_blank_lines_before_header_keep_row_numbers() -> None:
    t = table(csv_bytes("", HEADER, ROW1))
    assert t.frame["row_no"].to_list() == [3]
    assert t.frame["member_account"].to_list() == ["1001"]


def test_headers_in_any_order_and_english_any_case() -> None:
    header = (
        "Total_Amount,EMPLOYEE_AMOUNT,employer_amount,Employee_Rate,employer_rate,"
        "BASE,Id_Number,id_type,Name,member_account"
    )
    row = "560,280,280,12%,12%,2330,11010519491231002X,01,张三,1001"
    t = table(csv_bytes(header, row))
    got = t.frame.row(0, named=True)
    assert got == {
        "row_no": 2,
        "member_account": "1001",
        "name": "张三",
        "id_type": "01",
        "id_number": "11010519491231002X",
        "base": "2330",
        "employer_rate": "12%",
        "employee_rate": "12%",
        "employer_amount": "280",
        "employee_amount": "280",
        "total_amount": "560",
        "contribution_month": None,
    }
    assert t.headers["total_amount"] == "Total_Amount"


def test_mixed_languages_and_blanks_around_headers() -> None:
    header = " member_account ,姓名, 证件号码,base,单位缴存比例,employee_rate,单位月缴存额,employee_amount,月缴存额合计"
    t = table(csv_bytes(header, "1001,张三,11010519491231002X,2330,12%,12%,280,280,560"))
    assert t.frame.row(0, named=True)["member_account"] == "1001"
    assert t.frame.row(0, named=True)["id_number"] == "11010519491231002X"


def test_unknown_columns_are_ignored() -> None:
    t = table(csv_bytes("序号," + HEADER + ",备注", "1," + ROW1 + ",新入职", "2," + ROW2 + ","))
    assert t.frame.columns == ["row_no", *BY_NAME]
    assert t.frame["member_account"].to_list() == ["1001", "1002"]


def test_cells_are_stripped() -> None:
    t = table(csv_bytes(HEADER, " 1001 , 张三 ,01,11010519491231002X , 2330 ,12%,12%,280,280,560,  "))
    got = t.frame.row(0, named=True)
    assert (got["member_account"], got["name"], got["base"]) == ("1001", "张三", "2330")
    assert got["contribution_month"] is None  # blanks only -> empty


def test_more_rows_than_max_rows() -> None:
    data = csv_bytes(HEADER, ROW1, ROW2, ROW3)
    assert codes(data, max_rows=2) == ["F_TOO_LARGE"]
    assert table(data, max_rows=3).frame.height == 3


def test_csv_named_csv_but_zip_inside() -> None:
    assert codes(_xlsx_bytes([HEADERS, ROW1.split(",")])) == ["F_FORMAT"]


def test_unknown_extension_is_read_by_content() -> None:
    assert table(csv_bytes(HEADER, ROW1), name="list.txt").frame.height == 1
    assert table(_xlsx_bytes([HEADERS, ROW1.split(",")]), name="list.dat").encoding == "xlsx"


# ---------------------------------------------------------------------- XLSX


def _xlsx_bytes(*sheets: list[list[object]], start_rows: tuple[int, ...] = ()) -> bytes:
    """An XLSX with one sheet per argument; None rows are blank; start_rows[i] is sheet i's first row (0-based)."""
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    for i, rows in enumerate(sheets):
        sheet = workbook.add_worksheet(f"S{i + 1}")
        first = start_rows[i] if i < len(start_rows) else 0
        for r, row in enumerate(rows):
            if row is not None:
                sheet.write_row(first + r, 0, row)
    workbook.close()
    return out.getvalue()


def _patched(data: bytes, member: str, edit: Callable[[str], str]) -> bytes:
    """`data` with one zip member's text rewritten: a hand edit of the workbook XML."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == member:
                edited = edit(content.decode())
                assert edited != content.decode(), "the edit changed nothing"
                content = edited.encode()
            target.writestr(info, content)
    return out.getvalue()


XROW1: list[object] = ["1001", "张三", "01", "11010519491231002X", 2330.5, 0.12, "12%", 280, 280, 560, 202611]
XROW2: list[object] = ["1002", "李四", "01", "440524188001010014", 2330, 12, 12, 279.6, 280, 559.6, "202611"]


def test_xlsx_basic_and_numeric_cells_as_text() -> None:
    t = table(_xlsx_bytes([HEADERS, XROW1, XROW2]), name="0101000123_202611.xlsx")
    assert t.encoding == "xlsx"
    assert t.frame["row_no"].to_list() == [2, 3]
    first, second = t.frame.to_dicts()
    assert first["base"] == "2330.5"
    assert first["employer_rate"] == "0.12"
    assert first["employee_rate"] == "12%"
    assert first["employer_amount"] == "280"  # a whole number, not "280.0"
    assert first["contribution_month"] == "202611"
    assert second["employer_rate"] == "12"
    assert second["employer_amount"] == "279.6"
    assert second["total_amount"] == "559.6"


def test_xlsx_first_sheet_only() -> None:
    other = [HEADERS, ["9999", "别的", "01", "11010519491231002X", 1, 1, 1, 1, 1, 2, 202611]]
    t = table(_xlsx_bytes([HEADERS, XROW1], other, [["x"]]), name="a.xlsx")
    assert t.frame["member_account"].to_list() == ["1001"]


def test_xlsx_first_sheet_is_the_workbook_order_not_the_file_name() -> None:
    # Sheet S2 (sheet2.xml, header on row 3) is moved before S1 in workbook.xml.
    data = _xlsx_bytes([HEADERS, XROW1], [HEADERS, XROW2], start_rows=(0, 2))

    def swap(xml: str) -> str:
        m = re.search(r"(<sheet [^>]*/>)(<sheet [^>]*/>)", xml)
        assert m
        return xml[: m.start()] + m.group(2) + m.group(1) + xml[m.end() :]

    t = table(_patched(data, "xl/workbook.xml", swap), name="a.xlsx")
    assert t.frame["member_account"].to_list() == ["1002"]
    assert t.frame["row_no"].to_list() == [4]  # that sheet's own row numbers


def test_xlsx_english_headers_any_order_openpyxl() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(
        [
            "Total_Amount",
            "MEMBER_ACCOUNT",
            "Name",
            "id_number",
            "base",
            "Employer_Rate",
            "employee_rate",
            "employer_amount",
            "employee_amount",
            "notes",
        ]
    )
    sheet.append([560, "1001", "张三", "11010519491231002X", 2330, "12%", 0.12, 280, 280, "备注"])
    second = workbook.create_sheet("other")
    second.append(["nothing"])
    out = io.BytesIO()
    workbook.save(out)
    t = table(out.getvalue(), name="a.xlsx")
    got = t.frame.row(0, named=True)
    assert got["row_no"] == 2
    picked = (got["member_account"], got["name"], got["total_amount"], got["employee_rate"])
    assert picked == ("1001", "张三", "560", "0.12")
    assert got["id_type"] is None


def test_xlsx_leading_and_middle_blank_rows_keep_sheet_row_numbers() -> None:
    # Header on sheet row 3; data on rows 4 and 7 (rows 5-6 blank).
    data = _xlsx_bytes([HEADERS, XROW1, None, None, XROW2], start_rows=(2,))
    t = table(data, name="a.xlsx")
    assert t.frame["row_no"].to_list() == [4, 7]
    assert t.frame["member_account"].to_list() == ["1001", "1002"]


def test_xlsx_empty_string_cells_above_the_header_do_not_shift_rows() -> None:
    data = _xlsx_bytes([HEADERS, XROW1, None, XROW2], start_rows=(2,))
    empty_formula = '<row r="1"><c r="A1" t="str"><f>""</f><v></v></c></row>'
    data = _patched(
        data, "xl/worksheets/sheet1.xml", lambda xml: xml.replace("<sheetData>", "<sheetData>" + empty_formula)
    )
    assert table(data, name="a.xlsx").frame["row_no"].to_list() == [4, 6]


def test_xlsx_blank_rows_only_below_header() -> None:
    assert codes(_xlsx_bytes([HEADERS, None, None]), name="a.xlsx") == ["F_FORMAT"]


def test_xlsx_empty_first_sheet() -> None:
    problems = read_table(_xlsx_bytes([], [HEADERS, XROW1]), "a.xlsx", max_rows=100)
    assert isinstance(problems, list) and [p.code for p in problems] == ["F_FORMAT"]
    assert "清册在工作表" in problems[0].message  # and where the list is


def test_xlsx_seventeen_significant_digits_in_money_column() -> None:
    # The clerk saw 279.6; the file stores the float's 17-digit repr (hand-edited into the XML).
    row: list[object] = ["1002", "李四", "01", "440524188001010014", 2330, 12, 0.12, 279.6, 280, 559.6, 202611]
    data = _xlsx_bytes([HEADERS, row])

    def lengthen(xml: str) -> str:
        xml = xml.replace("<v>279.6</v>", "<v>279.59999999999997</v>")
        xml = xml.replace("<v>559.6</v>", "<v>559.60000000000002</v>")
        return xml.replace("<v>0.12</v>", "<v>0.12000000000000001</v>")

    patched = _patched(data, "xl/worksheets/sheet1.xml", lengthen)
    assert b"279.59999999999997" in zipfile.ZipFile(io.BytesIO(patched)).read("xl/worksheets/sheet1.xml")
    got = table(patched, name="a.xlsx").frame.row(0, named=True)
    assert got["employer_amount"] == "279.6"
    assert got["total_amount"] == "559.6"
    assert got["employee_rate"] == "0.12"


def test_xlsx_error_cell_is_not_read_as_empty() -> None:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, HEADERS)
    sheet.write_row(1, 0, XROW1[:9])
    sheet.write_formula(1, 9, "=1/0", None, "#DIV/0!")
    workbook.close()
    got = table(out.getvalue(), name="a.xlsx").frame.row(0, named=True)
    assert got["employee_amount"] == "280"
    assert got["total_amount"] is not None


def test_xlsx_eighteen_digit_id_stored_as_number_stays_digits() -> None:
    row: list[object] = ["1002", "李四", "01", 1.0, 2330, 12, 12, 280, 280, 560, 202611]
    data = _xlsx_bytes([HEADERS, row])
    data = _patched(
        data,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'(<c r="D2"[^>]*>)<v>1</v>', r"\g<1><v>110105194912310021</v>", xml),
    )
    t = table(data, name="a.xlsx")
    number = t.frame["id_number"].item()
    # Excel's float has lost the last digits; what is left is 18 digits, not 1.1E+17 and not cut to 15.
    assert re.fullmatch(r"[0-9]{18}", number), number
    assert number.startswith("1101051949123100")
    assert number != "110105194912310000"


def test_not_a_zip_named_xlsx() -> None:
    assert codes(b"this is not a workbook at all", name="a.xlsx") == ["F_FORMAT"]


def test_truncated_zip_named_xlsx() -> None:
    data = _xlsx_bytes([HEADERS, XROW1])
    assert codes(data[: len(data) // 2], name="a.xlsx") == ["F_FORMAT"]


def test_zip_that_is_not_a_workbook() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert codes(out.getvalue(), name="a.xlsx") == ["F_FORMAT"]


def test_csv_named_xlsx() -> None:
    assert codes(csv_bytes(HEADER, ROW1), name="0101000123_202611.xlsx") == ["F_FORMAT"]


def test_xlsx_extension_is_case_insensitive() -> None:
    assert table(_xlsx_bytes([HEADERS, XROW1]), name="A.XLSX").encoding == "xlsx"


def test_xlsx_more_rows_than_max_rows() -> None:
    data = _xlsx_bytes([HEADERS, XROW1, XROW2, XROW1])
    assert codes(data, name="a.xlsx", max_rows=2) == ["F_TOO_LARGE"]
    assert table(data, name="a.xlsx", max_rows=3).frame.height == 3


def test_xlsx_zip_bomb_is_refused_unread() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (17 << 20))
    assert codes(out.getvalue(), name="a.xlsx") == ["F_TOO_LARGE"]


def test_quoted_header_cells_are_counted_as_fields() -> None:
    """A header with quotes (a comma inside one) is counted by the CSV reader, not by its commas."""
    header = HEADER.replace("姓名", '"姓名"') + ',"备注,其他"'
    t = table(f"{header}\n{ROW1},x\n".encode())
    assert t.frame.row(0, named=True)["name"] == "张三"
    assert problems(f"{header}\n{ROW1},x,y\n".encode())[0].code == "F_FORMAT"
