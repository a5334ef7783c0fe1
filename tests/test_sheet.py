"""Issue 14: the XLSX export's sheet is written as XML and streamed (app/admin/sheet.py). What a spreadsheet reads
back is what was written: text (XML specials escaped, control characters dropped), numbers, dates and times typed,
neutralised formulas as text; the stream starts before the last row is read."""
import io
import warnings
from datetime import date, datetime, time
from decimal import Decimal

from openpyxl import load_workbook

from app.admin.export import safe_cell
from app.admin.sheet import xlsx_stream


def read(chunks):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a style or part openpyxl had to make up is a broken file
        return load_workbook(io.BytesIO(b"".join(chunks)))


def test_values_read_back_as_written():
    row = ['a<b>&"c', " 前后空格 ", "x\x01y", 5, 2.5, Decimal("3.80"), datetime(2026, 11, 28, 9, 5),
           date(2026, 1, 2), time(8, 30), None, True, safe_cell("=HYPERLINK(\"http://e.x\")"), safe_cell("+1")]
    sheet = read(xlsx_stream(["编号", "状态"], [row], "使用楼梯_电梯申请")).active
    assert sheet.title == "使用楼梯_电梯申请"
    assert [c.value for c in sheet[1]][:2] == ["编号", "状态"]
    got = [c.value for c in sheet[2]]
    assert got == ['a<b>&"c', " 前后空格 ", "xy", 5, 2.5, 3.8, datetime(2026, 11, 28, 9, 5), datetime(2026, 1, 2),
                   time(8, 30), None, True, "'=HYPERLINK(\"http://e.x\")", "'+1"]
    assert sheet.cell(2, 7).number_format == "yyyy-mm-dd hh:mm"


def test_the_sheet_streams_while_rows_are_read():
    read_so_far = []

    def rows():
        for i in range(5000):
            read_so_far.append(i)
            yield [f"A-BX-{i:05d}", i]

    stream = xlsx_stream(["编号", "序号"], rows(), "报修单")
    first = next(stream)
    assert first and len(read_so_far) < 5000  # bytes leave before the last row is read
    sheet = read([first, *stream]).active
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 5001 and values[-1] == ("A-BX-04999", 4999)
