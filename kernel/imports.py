"""Filling a register from a spreadsheet: parse, normalise, diff against the property's records, validate, apply.

A register opts in by declaring `importable = Importable(keys=..., columns=..., sample=...)` on its model
(kernel.register). Nothing here knows a register by name; a model may add `import_rules(session, property_id,
rows)` for checks across rows (a tenant needs an owner of the unit, in the file or on record).

- Reading: .xlsx through openpyxl's read-only mode (rows streamed; sizes inside the zip checked before it is
  opened, so a zip bomb is refused unread: zipfile never inflates an entry past its declared size), .csv in
  UTF-8 with or without BOM or GBK (GB18030, its superset, which Excel on Chinese Windows writes).
- Headers by Chinese label or English name or column name, in any order; extra columns ignored and reported;
  a merged title row above the header is skipped; full-width digits, letters and spaces normalised (NFKC).
- `plan()` says per row: new / changed (old -> new) / unchanged / error (the reason in Chinese); `apply()` writes
  a plan in the caller's transaction under the audit action "import", one audit row per record plus one for the
  file (who, when, name, sha256, counts). Applying the same file again finds every row unchanged.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

import openpyxl
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String, Text, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from wtforms.validators import StopValidation, ValidationError

from kernel import audit, pii
from kernel.i18n import T
from kernel.register import Virtual
from kernel.validators import BY_NAME, bounds_for

MAX_ROWS = 100_000                  # data rows in one file
MAX_BYTES = 20 * 1024 * 1024        # the uploaded file
MAX_UNCOMPRESSED = 200 * 1024 * 1024  # everything inside an .xlsx, by the sizes its zip declares
MAX_RATIO = 200                     # uncompressed / compressed of one entry (ordinary sheets: 5-20)
MAX_CELL = 2000                     # characters in one cell (longer text columns are not imported)
HEADER_SCAN = 10                    # rows searched for the header (a merged title may sit above it)
APPLY_BATCH = 1000

STATUS = {"new": T("新增", "New"), "changed": T("修改", "Changed"), "unchanged": T("不变", "Unchanged"),
          "error": T("错误", "Error")}
TRUE_WORDS = {"是", "有", "y", "yes", "true", "1", "√", "✓", "已备案"}
FALSE_WORDS = {"否", "无", "n", "no", "false", "0", "×", "未备案"}
DATE_PATTERNS = (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"),
                 re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"), re.compile(r"^(\d{4})(\d{2})(\d{2})$"))
COMPACT = ("phone", "id_number", "mobile")  # validators whose values lose every inner space


class ImportRefused(Exception):
    """The whole file is refused (not a spreadsheet, too large, no header): nothing is read further."""

    def __init__(self, message: T):
        super().__init__(str(message))
        self.message = message


# ---------------------------------------------------------------- columns
@dataclass
class Column:
    name: str               # the attribute set on the model (unit_id for the link "unit")
    label: T
    kind: str               # text, int, decimal, date, bool, choice, link, pii
    required: bool
    sql: Any                # the SQLAlchemy column
    link: str | None = None  # the relationship's name, for a link
    target: type | None = None
    choices: dict[str, Any] = field(default_factory=dict)
    length: int | None = None
    virtual: Any = None     # a kernel.register.Virtual

    def headers(self) -> set[str]:
        names = {self.name, str(self.label.zh), str(self.label.en)}
        if self.link:
            names.add(self.link)
        return {header_key(n) for n in names}


def header_key(text: Any) -> str:
    """A header as compared: NFKC, no spaces, no required-marks, no case."""
    s = unicodedata.normalize("NFKC", str(text or "")).lower()
    s = re.sub(r"[\s*＊]|[(（]必填[)）]", "", s)
    return s


def columns_of(model: type) -> list[Column]:
    decl = model.importable
    mapper = sa_inspect(model)
    out = []
    for name in decl.columns:
        if isinstance(name, Virtual):
            out.append(Column(name.name, name.label, "virtual", name.required, None, virtual=name))
            continue
        rel = mapper.relationships.get(name)
        if rel is not None:
            local = next(iter(rel.local_columns))
            out.append(Column(local.key, T.of(rel.info["label"]), "link", not local.nullable, local, link=name,
                              target=rel.mapper.class_))
            continue
        col = model.__table__.c[name]
        info = col.info
        required = not col.nullable and col.default is None and col.server_default is None
        required = required or any(name in k for k in decl.keys[:1]) and len(decl.keys) == 1
        t = col.type
        if info.get("pii"):
            kind = "pii"
        elif "choices" in info:
            kind = "choice"
        elif isinstance(t, Boolean):
            kind = "bool"
        elif isinstance(t, Integer):
            kind = "int"
        elif isinstance(t, Numeric):
            kind = "decimal"
        elif isinstance(t, (Date, DateTime)):
            kind = "date"
        else:
            kind = "text"
        length = getattr(t, "length", None) if isinstance(t, String) and not isinstance(t, Text) else None
        out.append(Column(name, T.of(info["label"]), kind, required, col, choices=dict(info.get("choices", {})),
                          length=length))
    return out


def normalise(value: Any) -> Any:
    """A cell as a person meant it: text NFKC-normalised (full-width digits and spaces), trimmed, runs of space
    collapsed; a whole float becomes an int (Excel stores 13800138000 as 1.38e10)."""
    if isinstance(value, str):
        value = " ".join(unicodedata.normalize("NFKC", value).split())
        return value or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    return str(value)


def convert(col: Column, raw: Any) -> Any:
    """A normalised cell as the column's value; raises ValueError with the reason in Chinese."""
    if col.kind == "date":
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        s = str(raw)
        for p in DATE_PATTERNS:
            m = p.match(s)
            if m:
                try:
                    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                except ValueError:
                    break
        raise ValueError(f"“{_short(s)}”不是日期（应如 2026-01-31）")
    if col.kind == "bool":
        s = str(raw).lower()
        if s in TRUE_WORDS:
            return True
        if s in FALSE_WORDS:
            return False
        raise ValueError(f"“{_short(s)}”应为 是 或 否")
    if col.kind == "int":
        try:
            return int(Decimal(str(raw)))
        except (InvalidOperation, ValueError):
            raise ValueError(f"“{_short(str(raw))}”不是整数") from None
    if col.kind == "decimal":
        try:
            d = Decimal(str(raw).replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"“{_short(str(raw))}”不是数字") from None
        if not d.is_finite():
            raise ValueError("不是有效的数字")
        scale = col.sql.type.scale
        return d.quantize(Decimal(1).scaleb(-scale)) if scale is not None and d == d.quantize(
            Decimal(1).scaleb(-scale)) else d
    s = _text(raw)
    if col.kind == "virtual":
        return col.virtual.parse(s)
    if col.kind == "choice":
        for code, label in col.choices.items():
            if header_key(s) in {header_key(code), header_key(T.of(label).zh), header_key(T.of(label).en)}:
                return code
        allowed = "、".join(str(T.of(v).zh) for v in col.choices.values())
        raise ValueError(f"“{_short(s)}”不是可选值（{allowed}）")
    if col.kind == "pii" or any(v in COMPACT for v in col.sql.info.get("validators", ())):
        s = s.replace(" ", "")
        if col.kind == "pii":
            if isinstance(raw, (int, float)) and len(s) >= 15:
                raise ValueError("身份证号被 Excel 存成了数字（末几位已丢失），请把该列设为文本后重新填写")
            s = s.upper()
    return s


def _short(s: str) -> str:
    return s if len(s) <= 20 else s[:20] + "…"


def check(col: Column, value: Any) -> str | None:
    """The column's own rules (length, bounds, its named validators): the first failure's text, or None."""
    if col.virtual is not None:
        return None
    if col.length and isinstance(value, str) and len(value) > col.length:
        return f"不能超过 {col.length} 个字"
    holder = SimpleNamespace(data=value)
    rules = [bounds_for(col.sql)] + [BY_NAME[v] for v in col.sql.info.get("validators", ()) if v in BY_NAME]
    for rule in rules:
        if rule is None:
            continue
        try:
            rule(None, holder)
        except (ValidationError, StopValidation) as ex:
            return _zh(ex)
    return None


def _zh(ex: Exception) -> str:
    """Validators speak the request's language; a preview reason is kept in Chinese (the file's language)."""
    return str(ex.args[0]) if ex.args else str(ex)


# ---------------------------------------------------------------- reading
def sniff(data: bytes) -> str:
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportRefused(T("文件已加密或是旧版 .xls：请在 Excel 中取消密码并另存为 .xlsx 后再上传",
                              "The file is encrypted or an old .xls: remove the password and save as .xlsx"))
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if b"\x00" in data[:4096]:
        raise ImportRefused(T("无法识别的文件：请上传 .xlsx 或 .csv 表格", "Not a spreadsheet: upload .xlsx or .csv"))
    return "csv"


def check_zip(data: bytes) -> None:
    """Sizes inside the .xlsx, from its directory, before anything is inflated (zip bombs)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise ImportRefused(T("文件已损坏或不是 .xlsx 表格", "The file is damaged or not an .xlsx")) from None
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise ImportRefused(
            T("压缩包不是 Excel 表格：请上传 .xlsx 或 .csv", "A zip, not a workbook: upload .xlsx or .csv")
        )
    total = sum(i.file_size for i in infos)
    ratio = max((i.file_size / max(i.compress_size, 1) for i in infos), default=0)
    if total > MAX_UNCOMPRESSED or ratio > MAX_RATIO or len(infos) > 10_000:
        raise ImportRefused(
            T(
                f"表格解压后过大（{total // (1024 * 1024)} MB，上限 {MAX_UNCOMPRESSED // (1024 * 1024)} MB）"
                "或压缩比异常，已拒绝",
                f"The workbook inflates too far ({total // (1024 * 1024)} MB) and is refused",
            )
        )


def decode_csv(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportRefused(T("无法识别文件编码：请另存为 UTF-8 或 GBK 编码的 CSV，或 .xlsx",
                              "Unknown text encoding: save as UTF-8 or GBK CSV, or .xlsx")) from None


FORMULA = object()  # a cell holding a formula (refused: the value shown may not be the value meant)


def raw_rows(data: bytes) -> Iterator[list[Any]]:
    """Every row of the first sheet as a list of cell values, streamed."""
    kind = sniff(data)
    if kind == "csv":
        text = decode_csv(data)
        csv.field_size_limit(max(MAX_CELL * 100, 1_000_000))
        try:
            yield from csv.reader(io.StringIO(text, newline=""))
        except csv.Error as ex:
            raise ImportRefused(T(f"CSV 格式错误：{ex}", f"Malformed CSV: {ex}")) from None
        return
    check_zip(data)
    yield from _openpyxl_rows(data)


def _openpyxl_rows(data: bytes) -> Iterator[list[Any]]:
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds on a damaged file; every one means the same to the user
        raise ImportRefused(T("文件已损坏或不是 .xlsx 表格", "The file is damaged or not an .xlsx")) from None
    try:
        ws = wb.worksheets[0]
        dims = ws.max_row if ws.max_row else None
        if dims and dims > MAX_ROWS + HEADER_SCAN:
            raise ImportRefused(_too_many(dims))
        for row in ws.iter_rows():
            yield [FORMULA if getattr(c, "data_type", None) == "f" else c.value for c in row]
    finally:
        wb.close()


def _too_many(n: int) -> T:
    return T(f"行数过多（约 {n} 行，上限 {MAX_ROWS} 行）：请拆分为多个文件", f"Too many rows ({n}; at most {MAX_ROWS})")


# ---------------------------------------------------------------- the plan
@dataclass(slots=True)
class Row:
    line: int                   # the row's number in the file (as Excel shows it)
    status: str = "new"
    values: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    record_id: int | None = None
    key: str = ""


@dataclass
class Plan:
    register: str
    columns: list[Column]
    rows: list[Row]
    ignored: list[str]
    counts: dict[str, int]

    @property
    def digest(self) -> str:
        """What confirming would do, as a hash: a confirm whose fresh plan differs is refused."""
        h = hashlib.sha256()
        for r in self.rows:
            h.update(repr((r.line, r.status, r.record_id, sorted((k, repr(v)) for k, v in r.changes.items()),
                           r.errors if r.status == "error" else ())).encode())
        return h.hexdigest()


def _header(rows: Iterator[list[Any]], cols: list[Column]) -> tuple[int, dict[int, Column], list[str]]:
    by_key = {}
    for c in cols:
        for k in c.headers():
            by_key.setdefault(k, c)
    for line in range(1, HEADER_SCAN + 1):
        try:
            cells = next(rows)
        except StopIteration:
            break
        found, ignored = {}, []
        for i, cell in enumerate(cells):
            if cell is None or cell is FORMULA or not str(cell).strip():
                continue
            c = by_key.get(header_key(cell))
            if c is not None and c not in found.values():
                found[i] = c
            else:
                ignored.append(" ".join(str(cell).split())[:40])
        if found:
            return line, found, ignored
    raise ImportRefused(T("找不到表头：第一行应为列名（可下载模板查看）", "No header row found (see the template)"))


def read_grid(data: bytes, is_header: Any) -> tuple[int, list[Any], Iterator[tuple[int, list[Any], list[str]]]]:
    """A sheet that is a grid (a month's roster: a person per row, a day per column), with the same file checks as
    `read`: (header line, header cells normalised, rows as (line, cells normalised, errors)). `is_header(cells)`
    says which of the first rows is the header."""
    if len(data) > MAX_BYTES:
        raise ImportRefused(T(f"文件过大（上限 {MAX_BYTES // (1024 * 1024)} MB）",
                              f"The file is too large (at most {MAX_BYTES // (1024 * 1024)} MB)"))
    if not data.strip():
        raise ImportRefused(T("文件是空的", "The file is empty"))
    rows = raw_rows(data)
    line, head = 0, None
    while line < HEADER_SCAN and head is None:
        line += 1
        try:
            cells = [None if c is FORMULA else normalise(c) for c in next(rows)]
        except StopIteration:
            break
        head = cells if is_header(cells) else None
    if head is None:
        raise ImportRefused(T("找不到表头：第一行应为列名（可下载模板查看）", "No header row found (see the template)"))

    def body() -> Iterator[tuple[int, list[Any], list[str]]]:
        count = 0
        for n, cells in enumerate(rows, start=line + 1):
            errors, out = [], []
            for i, raw in enumerate(cells):
                if raw is FORMULA:
                    errors.append(f"第 {i + 1} 列是公式，请“粘贴为数值”后再导入")
                    raw = None
                elif isinstance(raw, str) and len(raw) > MAX_CELL:
                    errors.append(f"第 {i + 1} 列内容过长（{len(raw)} 个字）")
                    raw = None
                out.append(normalise(raw))
            if not errors and all(v is None for v in out):
                continue
            count += 1
            if count > MAX_ROWS:
                raise ImportRefused(_too_many(count))
            yield n, out, errors
    return line, head, body()


def read(model: type, data: bytes) -> tuple[list[Column], list[str], Iterator[tuple[int, dict[str, Any], list[str]]]]:
    """The file's columns, the ignored headers, and its rows as (line, {column: value}, errors)."""
    if len(data) > MAX_BYTES:
        raise ImportRefused(T(f"文件过大（上限 {MAX_BYTES // (1024 * 1024)} MB）",
                              f"The file is too large (at most {MAX_BYTES // (1024 * 1024)} MB)"))
    if not data.strip():
        raise ImportRefused(T("文件是空的", "The file is empty"))
    cols = columns_of(model)
    rows = raw_rows(data)
    header_line, found, ignored = _header(rows, cols)
    missing = [str(c.label.zh) for c in cols if c.required and c not in found.values()]
    if missing:
        raise ImportRefused(T(f"缺少必需的列：{'、'.join(missing)}", f"Required columns missing: {', '.join(missing)}"))

    def body() -> Iterator[tuple[int, dict[str, Any], list[str]]]:
        count = 0
        for line, cells in enumerate(rows, start=header_line + 1):
            values, errors = {}, []
            blank = True
            for i, col in found.items():
                raw = cells[i] if i < len(cells) else None
                if raw is FORMULA:
                    errors.append(f"{col.label.zh}：是公式，请复制后“粘贴为数值”再导入")
                    blank = False
                    continue
                if isinstance(raw, str) and len(raw) > MAX_CELL:
                    errors.append(f"{col.label.zh}：内容过长（{len(raw)} 个字，上限 {MAX_CELL}）")
                    blank = False
                    continue
                raw = normalise(raw)
                if raw is None:
                    continue
                blank = False
                try:
                    values[col.name] = raw if col.kind == "link" else convert(col, raw)
                except ValueError as ex:
                    errors.append(f"{col.label.zh}：{ex}")
            if blank:
                continue
            count += 1
            if count > MAX_ROWS:
                raise ImportRefused(_too_many(count))
            yield line, values, errors
    return list(found.values()), ignored, body()


def _key_text(model: type, cols: dict[str, Column], alt: tuple[str, ...], values: dict[str, Any]) -> str:
    parts = []
    for name in alt:
        c = cols[name]
        v = values.get(c.name)
        parts.append(pii.normalise(v) if c.kind == "pii" and v else str(v))
    return "|".join(parts)


def _existing(session: Any, model: type, property_id: int, cols: list[Column]) -> dict[int, dict[str, Any]]:
    """The property's records as {column: value} over every importable column (a link by its id), by id: the
    model's checks see the whole record even when the file carries only some of its columns."""
    names = [c.name for c in cols if c.virtual is None]
    query = select(model.id, *[model.__table__.c[n] for n in names])
    if hasattr(model, "property_id"):
        query = query.where(model.property_id == property_id)
    if hasattr(model, "state") and getattr(model, "locked_states", ()):
        query = query.where(model.state.notin_(model.locked_states))
    rows = {}
    for rec in session.execute(query):
        rows[rec[0]] = dict(zip(names, rec[1:], strict=True))
    if any(c.virtual is not None for c in cols):
        for rid, extra in model.import_current(session, property_id).items():
            if rid in rows:
                rows[rid].update(extra)
    return rows


def _targets(session: Any, cols: list[Column], property_id: int) -> dict[str, dict[str, int]]:
    """For each link column: {the linked record's key text: its id} within the property."""
    out = {}
    for c in cols:
        if c.kind != "link":
            continue
        target = c.target
        key = target.importable.keys[0][0] if target.importable else "code"
        query = select(getattr(target, key), target.id).where(target.property_id == property_id)
        if hasattr(target, "active"):
            query = query.where(target.active.is_(True))
        out[c.name] = {header_key(k): i for k, i in session.execute(query)}
    return out


def plan(session: Any, model: type, property_id: int, data: bytes) -> Plan:
    """What importing `data` into `model` at `property_id` would do, row by row. Nothing is written."""
    decl = model.importable
    cols, ignored, body = read(model, data)
    by_attr = {c.link or c.name: c for c in columns_of(model)}
    targets = _targets(session, cols, property_id)
    existing = _existing(session, model, property_id, columns_of(model))
    index: list[dict[str, int]] = []
    for alt in decl.keys:
        idx = {}
        for rid, vals in existing.items():
            if all(vals.get(by_attr[n].name) not in (None, "") for n in alt):
                idx.setdefault(_key_text(model, by_attr, alt, vals), rid)
        index.append(idx)
    seen: list[dict[str, int]] = [{} for _ in decl.keys]
    out: list[Row] = []
    for line, values, errors in body:
        row = Row(line, values=values, errors=list(errors))
        for c in cols:
            if c.kind == "link" and c.name in values:
                text = values[c.name]
                rid = targets[c.name].get(header_key(text))
                if rid is None:
                    row.errors.append(f"{c.label.zh}：“{_short(str(text))}”不存在（请先导入{c.target.__label__.zh}）")
                    values.pop(c.name)
                else:
                    values[c.name] = rid
            elif c.name in values and not row.errors:
                why = check(c, values[c.name])
                if why:
                    row.errors.append(f"{c.label.zh}：{why}")
        for c in cols:
            if c.required and c.name not in values and not any(e.startswith(str(c.label.zh)) for e in row.errors):
                row.errors.append(f"{c.label.zh}：必填")
        usable = [alt for alt in decl.keys if all(by_attr[n].name in values for n in alt)]
        if not usable:
            names = " 或 ".join("+".join(str(by_attr[n].label.zh) for n in alt) for alt in decl.keys)
            row.errors.append(f"缺少用于识别记录的 {names}")
        for i, alt in enumerate(decl.keys):
            if alt not in usable:
                continue
            k = _key_text(model, by_attr, alt, values)
            row.key = row.key or k
            first = seen[i].get(k)
            if first is not None:
                row.errors.append(f"与第 {first} 行重复（{'+'.join(str(by_attr[n].label.zh) for n in alt)}相同）")
            else:
                seen[i][k] = line
            if row.record_id is None and k in index[i]:
                row.record_id = index[i][k]
        if row.record_id is not None and not row.errors:
            old = existing[row.record_id]
            for c in cols:  # a virtual value only adds to what is there
                if c.virtual is not None and c.name in values:
                    values[c.name] = tuple(sorted(set(old.get(c.name) or ()) | set(values[c.name])))
            row.changes = {n: (old.get(n), v) for n, v in values.items() if _differs(old.get(n), v)}
            row.status = "changed" if row.changes else "unchanged"
        elif not row.errors:
            row.status = "new"
        if not row.errors and row.status != "unchanged":
            why = _model_refusal(session, model, existing.get(row.record_id), row)
            if why:
                row.errors.append(why)
        if row.errors:
            row.status = "error"
            row.changes = {}
        out.append(row)
    rules = getattr(model, "import_rules", None)
    if rules is not None:
        for row, why in rules(session, property_id, out):
            row.errors.append(why)
            row.status, row.changes = "error", {}
    counts = {s: 0 for s in STATUS}
    for r in out:
        counts[r.status] += 1
    return Plan(model.__tablename__, cols, out, ignored, counts)


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, str) and isinstance(new, str):
        return old.strip() != new.strip()
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        try:
            return Decimal(str(old)) != Decimal(str(new))
        except InvalidOperation:
            return True
    if isinstance(old, datetime) and isinstance(new, date):
        return old.date() != new
    return old != new


def _model_refusal(session: Any, model: type, old: dict | None, row: Row) -> str | None:
    """The model's own checks on the record as it would be: clean() and, for a change, refuse_change()."""
    virtual = {v.name for v in model.importable.columns if isinstance(v, Virtual)}
    old = {k: v for k, v in (old or {}).items() if k not in virtual} if old is not None else None
    obj = model(**{k: v for k, v in {**(old or {}), **row.values}.items() if k not in virtual})  # transient
    if old is not None and hasattr(obj, "refuse_change"):
        errors = model(**old).refuse_change({k: v for k, v in row.changes.items() if k not in virtual})
        if errors:
            return "；".join(str(T.of(v).zh) for v in errors.values())
    errors = obj.clean() if hasattr(obj, "clean") else None
    if errors:
        return "；".join(str(T.of(v).zh) for v in errors.values())
    return None


# ---------------------------------------------------------------- writing
def apply(session: Any, model: type, property_id: int, p: Plan, filename: str, sha256: str) -> dict[str, int]:
    """Write a plan without errors in the caller's transaction (the caller commits, or rolls back on any error).

    Each record's insert or update is audited by the session hooks under the action "import"; one more row
    records the file itself. A batch the database refuses is retried row by row in savepoints, so RowFailed
    names the file's line. Raises ValueError if the plan has errors.
    """
    if p.counts["error"]:
        raise ValueError("a plan with errors is never applied")
    with audit.acting("import"):
        for status in ("new", "changed"):
            rows = [r for r in p.rows if r.status == status]
            for start in range(0, len(rows), APPLY_BATCH):
                _batch(session, model, property_id, rows[start:start + APPLY_BATCH])
    counts = {k: v for k, v in p.counts.items() if k != "error"}
    audit.record_bulk(session, model.__tablename__, "import_file", [(None, property_id, {
        "file": (None, filename[:200]), "sha256": (None, sha256), **{k: (None, v) for k, v in counts.items()}})])
    return counts


class RowFailed(Exception):
    """The database refused a row (a constraint no check foresaw): which line of the file, and why."""

    def __init__(self, line: int, reason: str):
        super().__init__(f"row {line}: {reason}")
        self.line, self.reason = line, reason


def _write(session: Any, model: type, property_id: int, rows: list[Row]) -> None:
    virtual = {v.name for v in model.importable.columns if isinstance(v, Virtual)}
    changed = [r.record_id for r in rows if r.status == "changed"]
    objs = {o.id: o for o in session.scalars(select(model).where(model.id.in_(changed)))} if changed else {}
    for r in rows:
        if r.status == "new":
            obj = model(**{k: v for k, v in r.values.items() if k not in virtual})
            if hasattr(model, "property_id"):
                obj.property_id = property_id
            if getattr(model, "initial_state", None):
                obj.state = model.initial_state
            session.add(obj)
            extra = {k: v for k, v in r.values.items() if k in virtual}
        else:
            obj = objs[r.record_id]
            for name, (_, value) in r.changes.items():
                if name not in virtual:
                    setattr(obj, name, value)
            extra = {k: new for k, (_, new) in r.changes.items() if k in virtual}
        if hasattr(model, "import_write"):
            obj.import_write(session, property_id, extra, r.status == "new")


def _batch(session: Any, model: type, property_id: int, rows: list[Row]) -> None:
    try:
        with session.begin_nested():
            _write(session, model, property_id, rows)
    except DBAPIError as ex:
        for r in rows:  # which row: each alone in a savepoint (the whole transaction is rolled back anyway)
            try:
                with session.begin_nested():
                    _write(session, model, property_id, [r])
            except DBAPIError as one:
                raise RowFailed(r.line, _reason(one)) from one
        raise RowFailed(rows[0].line, _reason(ex)) from ex
    for obj in [o for o in session if isinstance(o, model) and not session.is_modified(o)]:
        session.expunge(obj)  # memory stays flat at 50,000 rows


def _reason(ex: DBAPIError) -> str:
    if isinstance(ex, IntegrityError):
        return "与已有记录冲突（重复或关联记录不存在）"
    if isinstance(ex, DataError):
        return "数值或文字超出数据库允许的范围"
    return "数据库拒绝写入"


# ---------------------------------------------------------------- the template
def template(model: type) -> bytes:
    """An .xlsx to fill in: Chinese headers, a sample row, drop-downs for choice columns, a sheet of notes."""
    cols = columns_of(model)
    decl = model.importable
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = re.sub(r"[\[\]:*?/\\]", "_", str(model.__label__.zh))[:31]
    bold = Font(bold=True)
    for i, c in enumerate(cols, start=1):
        cell = ws.cell(row=1, column=i, value=str(c.label.zh))
        cell.font = bold
        if c.required:
            cell.fill = PatternFill("solid", fgColor="FFF2CC")
        sample = decl.sample.get(c.link or c.name)
        if sample is not None:
            ws.cell(row=2, column=i, value=sample).number_format = "@"
        ws.column_dimensions[get_column_letter(i)].width = max(12, 2 * len(str(c.label.zh)) + 4)
        letter = get_column_letter(i)
        if c.kind in ("choice", "bool"):
            options = [str(T.of(v).zh) for v in c.choices.values()] if c.kind == "choice" else ["是", "否"]
            dv = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=not c.required,
                                showErrorMessage=True, error=f"请选择：{'、'.join(options)}")
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
        if c.kind in ("pii", "text") or c.kind == "link":
            for row in (2,):
                ws.cell(row=row, column=i).number_format = "@"
            ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("填写说明")
    notes.append(["列名", "English", "必填", "格式 / 可选值", "说明"])
    for cell in notes[1]:
        cell.font = bold
    keys = " 或 ".join("+".join(str(next(c for c in cols if (c.link or c.name) == n).label.zh) for n in alt)
                      for alt in decl.keys)
    for c in cols:
        notes.append([str(c.label.zh), str(c.label.en), "是" if c.required else "", _format_note(c),
                      _description(c)])
    notes.append([])
    notes.append([f"按 {keys} 识别记录：已有则更新，没有则新增；同一文件导入两次不会重复。"])
    notes.append(["表头可用中文或英文列名，顺序不限；多余的列会被忽略并提示。第一行为示例，请删除或改写。"])
    notes.append([f"支持 .xlsx 与 .csv（UTF-8 或 GBK）；最多 {MAX_ROWS} 行；不能含公式。"])
    for letter, width in zip("ABCDE", (16, 20, 6, 40, 40), strict=True):
        notes.column_dimensions[letter].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _description(c: Column) -> str:
    if c.virtual is not None:
        return c.virtual.note
    return str(T.of(c.sql.info["description"]).zh) if c.sql.info.get("description") else ""


def _format_note(c: Column) -> str:
    if c.virtual is not None:
        return "文字"
    if c.kind == "choice":
        return "、".join(str(T.of(v).zh) for v in c.choices.values())
    if c.kind == "bool":
        return "是 / 否"
    if c.kind == "date":
        return "日期，如 2026-01-31"
    if c.kind in ("int", "decimal"):
        return "数字"
    if c.kind == "pii":
        return "18 位身份证号（设为文本格式，校验位须正确）"
    if c.kind == "link":
        return f"已有的{c.target.__label__.zh}"
    validators = c.sql.info.get("validators", ())
    if "phone" in validators:
        return "手机号（11 位）或固定电话（如 0755-88886666）"
    return f"文字，最多 {c.length} 字" if c.length else "文字"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
