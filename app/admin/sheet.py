"""An .xlsx of one sheet written as its XML, streamed: rows go out as they are read, memory stays flat.

A workbook is a zip of a few fixed parts and one worksheet. The worksheet is written row by row (inline strings,
no shared-string table to hold in memory) into a zip that is itself written to an unseekable pipe, so the first
bytes leave before the last row is read. Text is XML-escaped and stripped of the control characters XML cannot
hold; numbers stay numbers; dates and times are Excel serial numbers with a date format, as a spreadsheet keeps
them. Cells are already safe (app/admin/export.safe_cell) when they reach here.
"""
from __future__ import annotations

import io
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
DATETIME, DATE, TIME = 1, 2, 3  # cell styles (styles.xml cellXfs)

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
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = "</sheetData></worksheet>"


def workbook_xml(title: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name={quoteattr(title)} sheetId="1" r:id="rId1"/></sheets></workbook>')


def _text(value: str) -> str:
    if not value:
        return "<c/>"
    text = xml_escape(ILLEGAL.sub("", value))
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _number(value: Any) -> str:
    return f"<c><v>{value!r}</v></c>" if value == value and abs(value) != float("inf") else "<c/>"


def _datetime(value: datetime) -> str:
    return f'<c s="{DATETIME}"><v>{(value.replace(tzinfo=None) - EPOCH).total_seconds() / 86400!r}</v></c>'


WRITERS = {
    str: _text, int: _number, float: _number, type(None): lambda v: "<c/>",
    bool: lambda v: f'<c t="b"><v>{int(v)}</v></c>',
    Decimal: lambda v: _number(float(v)) if v.is_finite() else "<c/>",
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


def xlsx_stream(header: list[str], rows: Iterable[list], title: str) -> Iterator[bytes]:
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", workbook_xml(title)), ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                           ("xl/styles.xml", STYLES)):
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            out = [SHEET_HEAD, '<row r="1">', *map(cell_xml, header), "</row>"]
            for n, row in enumerate(rows, 2):
                out.append(f'<row r="{n}">')
                out.extend(map(cell_xml, row))
                out.append("</row>")
                if n % FLUSH_ROWS == 0:
                    sheet.write("".join(out).encode())
                    out.clear()
                    yield pipe.take()
            out.append(SHEET_TAIL)
            sheet.write("".join(out).encode())
        yield pipe.take()
    yield pipe.take()
