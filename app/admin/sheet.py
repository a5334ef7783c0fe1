"""An .xlsx of one sheet written as its XML, streamed: rows go out as they are read, memory stays flat.

A workbook is a zip of a few fixed parts and one worksheet. The worksheet is written row by row (inline strings,
no shared-string table to hold in memory) into a zip that is itself written to an unseekable pipe, so the first
bytes leave before the last row is read. Text is XML-escaped and stripped of the control characters XML cannot
hold; numbers stay numbers; dates and times are Excel serial numbers with a date format, as a spreadsheet keeps
them. Cells are already safe (app/admin/export.safe_cell) when they reach here.
"""
from __future__ import annotations

import io
import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

EPOCH = datetime(1899, 12, 30)
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
FLUSH_ROWS = 200
DATETIME, DATE, TIME, MONEY, HEADER = 1, 2, 3, 4, 5  # cell styles (styles.xml cellXfs)
SAMPLE_ROWS = 200  # rows read ahead to size the columns (the rest streams)
MIN_WIDTH, MAX_WIDTH = 6, 60
WIDTHS = {datetime: 17, date: 11, time: 6}  # a typed cell's width, as its format shows it

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '</Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>')
STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/><numFmt numFmtId="166" formatCode="hh:mm"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="6"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
SHEET_OPEN = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              # the header row stays in view while scrolling
              '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
              'state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>')


def column_name(n: int) -> str:
    """1 -> A, 27 -> AA."""
    name = ""
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


def text_width(text: str) -> int:
    """Characters as a spreadsheet column measures them: a Chinese character takes two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def cell_width(value: Any) -> int:
    for kind, width in WIDTHS.items():
        if isinstance(value, kind):
            return width
    if isinstance(value, Decimal):
        return len(f"{value:.2f}")
    return text_width(value if isinstance(value, str) else str(value))


def widths_of(header: list[str], sample: list[list]) -> list[int]:
    out = [text_width(h) + 2 for h in header]  # room for the filter's drop-down button
    for row in sample:
        for i, value in enumerate(row[:len(out)]):
            if value is not None:
                out[i] = max(out[i], cell_width(value) + 1)
    return [min(max(w, MIN_WIDTH), MAX_WIDTH) for w in out]


def cols_xml(widths: list[int]) -> str:
    return "<cols>" + "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                              for i, w in enumerate(widths, 1)) + "</cols>"


def workbook_xml(title: str, filter_ref: str | None = None) -> str:
    # the hidden name Excel keeps for an autofilter's range (Excel writes it, and reads the filter with it)
    names = (f'<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
             f"{xml_escape(quote_sheet(title))}!{filter_ref}</definedName></definedNames>") if filter_ref else ""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name={quoteattr(title)} sheetId="1" r:id="rId1"/></sheets>{names}</workbook>')


def quote_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def absolute(ref: str) -> str:
    """A1:C9 -> $A$1:$C$9."""
    return ":".join("$" + re.sub(r"(\d+)", r"$\1", part) for part in ref.split(":"))


def _text(value: str) -> str:
    if type(value) is not str:
        if not isinstance(value, str):  # a column's text function gave something else: its own kind
            return cell_xml(value)
        value = str.__str__(value)  # a str subclass (a str enum): its text
    if not value:
        return "<c/>"
    # the cheap tests first (C string scans): most text has no control character and nothing to escape
    text = value if value.isprintable() else ILLEGAL.sub("", value)
    if "&" in text or "<" in text or ">" in text:
        text = xml_escape(text)
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _header(value: str) -> str:
    return _text(value).replace("<c ", f'<c s="{HEADER}" ', 1) if value else "<c/>"


def _decimal(value: Decimal) -> str:
    """Money (two decimals, as the database keeps it) stays a number shown with its two decimals."""
    if not value.is_finite():
        return "<c/>"
    if value.as_tuple().exponent == -2:
        return f'<c s="{MONEY}"><v>{float(value)!r}</v></c>'
    return _number(float(value))


def _number(value: Any) -> str:
    return f"<c><v>{value!r}</v></c>" if value == value and abs(value) != float("inf") else "<c/>"


def _datetime(value: datetime) -> str:
    if value.tzinfo is not None:  # a spreadsheet has no time zones: the wall-clock time as written
        value = value.replace(tzinfo=None)
    return f'<c s="{DATETIME}"><v>{(value - EPOCH).total_seconds() / 86400!r}</v></c>'


WRITERS = {
    str: _text, int: _number, float: _number, type(None): lambda v: "<c/>",
    bool: lambda v: f'<c t="b"><v>{int(v)}</v></c>',
    Decimal: _decimal,
    datetime: _datetime,
    date: lambda v: f'<c s="{DATE}"><v>{(v - EPOCH.date()).days}</v></c>',
    time: lambda v: f'<c s="{TIME}"><v>{(v.hour * 3600 + v.minute * 60 + v.second) / 86400!r}</v></c>',
}


def cell_xml(value: Any) -> str:
    """One <c> element (its position is the next column: no r attribute needed)."""
    write = WRITERS.get(type(value))
    if write is None:  # a subclass (a str enum, a pendulum datetime): its nearest kind, else its text
        write = next((w for kind, w in WRITERS.items() if isinstance(value, kind) and kind is not int), None) \
            or (lambda v: _text(str(v)))
        if isinstance(value, bool):
            write = WRITERS[bool]
    return write(value)


class _Pipe(io.RawIOBase):
    """An unseekable file the zip writes into; the stream takes out what was written so far."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.chunks.append(bytes(b))
        return len(b)

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def _writer(kind: type | None, cell: Any) -> Any:
    """A column's cell writer, picked once: text (kind None) or a declared type, after the column's own `cell`
    function when it has one; an empty cell is <c/>."""
    if cell is not None:
        return (lambda v: _text(cell(v))) if kind is None else (lambda v: cell_xml(cell(v)))
    if kind is None:
        return cell_xml
    write = WRITERS.get(kind, cell_xml)
    return lambda v: "<c/>" if v is None else (write(v) if type(v) is kind else cell_xml(v))


def xlsx_stream(header: list[str], rows: Iterable[Any], title: str, kinds: list[type | None] | None = None,
                cells: list[Any] | None = None) -> Iterator[bytes]:
    """The workbook: the first rows are read ahead to size the columns, the rest stream; the header row is bold,
    frozen and carries an autofilter over every row written. `kinds` (a column's type, None for text) and `cells`
    (a column's value to its cell, None for the value as it is) pick each column's writer once; without them each
    cell's own type decides."""
    pipe = _Pipe()
    rows = iter(rows)
    sample = list(itertools.islice(rows, SAMPLE_ROWS))
    shown = [[v if c is None else c(v) for c, v in zip(cells, row, strict=True)] for row in sample] if cells \
        else sample
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS), ("xl/styles.xml", STYLES)):
            z.writestr(name, text)
        last = 1
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            out = [SHEET_OPEN, cols_xml(widths_of(header, shown)), "<sheetData>",
                   '<row r="1">', *map(_header, header), "</row>"]
            writers = None
            if kinds or cells:
                n = len(header)
                writers = [_writer(k, c) for k, c in zip(kinds or [None] * n, cells or [None] * n, strict=True)]
            for n, row in enumerate(itertools.chain(sample, rows), 2):
                out.append(f'<row r="{n}">')
                if writers is not None:
                    out.extend([w(v) for w, v in zip(writers, row, strict=True)])
                else:
                    out.extend(map(cell_xml, row))
                out.append("</row>")
                last = n
                if n % FLUSH_ROWS == 0:
                    sheet.write("".join(out).encode())
                    out.clear()
                    yield pipe.take()
            ref = f"A1:{column_name(max(len(header), 1))}{last}"
            out.append(f'</sheetData><autoFilter ref="{ref}"/></worksheet>')
            sheet.write("".join(out).encode())
        z.writestr("xl/workbook.xml", workbook_xml(title, absolute(ref)))  # the filter's range is known only now
        yield pipe.take()
    yield pipe.take()
