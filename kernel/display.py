"""The one way a value becomes text, for every screen and file: lists, details, history, audit, exports, prints.

    show = Display(RepairOrder, roles)
    show.value("state")("registered")      -> "已登记"
    show.value("unit_id")(12)               -> "3-2-1501"   (a linked record by its number or name)
    show.value("urgent")(True)              -> "是"
    show.value("received_at")(datetime)     -> "2026-11-28 09:05"
    show.stored("received_at", "2026-11-28T09:05:00")  -> the same, from an audit row's JSON

Each column's function is chosen once per Display (once per request), never per cell.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from kernel.i18n import T
from kernel.permissions import may_see_pii
from kernel.register import model_for
from kernel.validators import last_four, mask_id

YES, NO = T("是", "Yes"), T("否", "No")
LINKED_KEPT = 50_000  # linked records' texts kept per Display: an export of a million rows keeps memory flat
EMPTY = ""
# kept by the system, not typed: left out of a new record's history (an update still shows what moved)
SYSTEM_FIELDS = frozenset({"id", "version", "property_id", "created_by_id", "created_at", "updated_at",
                           "state_changed_at"})


def text_of(value: Any) -> str:
    """A plain value as a person reads it (no column knowledge): 是/否, local times, money as written."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return str(YES if value else NO)
    if isinstance(value, datetime):
        if value.tzinfo is None and value.year >= 1000:  # the same text, a third of strftime's time
            return value.isoformat(" ", "minutes")
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


class Display:
    """Value-to-text for one register as seen by one set of roles."""

    def __init__(self, model: type, roles: Any, session: Session | None = None):
        self.model = model
        self.session = session
        self.pii = may_see_pii(roles)
        self.mapper = sa_inspect(model)
        self.table = model.__table__
        self._cache: dict[str, Callable[[Any], str]] = {}
        self._linked: dict[tuple[type, Any], str] = {}
        self._targets: dict[str, type] = {}  # a foreign-key column -> the register its records come from

    def label(self, name: str) -> T:
        col = self.table.c.get(name)
        if col is not None and "label" in col.info:
            return T.of(col.info["label"])
        rel = self.mapper.relationships.get(name)
        if rel is not None and "label" in rel.info:
            return T.of(rel.info["label"])
        if name == "state":
            return T("状态", "State")
        return T(name, name)

    def masks(self, name: str) -> bool:
        col = self.table.c.get(name)
        return col is not None and bool(col.info.get("pii")) and not self.pii

    def value(self, name: str) -> Callable[[Any], str]:
        """The function that turns a stored value of column `name` (or a related object) into text."""
        if name not in self._cache:
            self._cache[name] = self._choose(name)
        return self._cache[name]

    def attr(self, obj: Any, name: str) -> str:
        """`obj.name` as text: the column's own value, or a related record by its number or name."""
        return self.value(name)(getattr(obj, name, None))

    def cell(self, name: str) -> Callable[[Any], Any]:
        """Like `value`, but a plain number, date or time stays typed (a spreadsheet keeps it as such)."""
        key = f"cell:{name}"
        if key not in self._cache:
            text = self.value(name)
            col = self.table.c.get(name)
            plain = text is text_of and col is not None and not col.foreign_keys
            self._cache[key] = (lambda v: v if isinstance(v, (int, float, Decimal, date, time)) and not
                                isinstance(v, bool) else text_of(v)) if plain else text
        return self._cache[key]

    def typed(self, name: str) -> type | None:
        """The Python type a column's cells keep as they are (a number, a date or a time, see `cell`), or None when
        its cells are text. Known once per column, so an export formats a column without asking each cell."""
        col = self.table.c.get(name)
        if col is None or col.foreign_keys or self.value(name) is not text_of:
            return None
        try:
            kind = col.type.python_type
        except NotImplementedError:
            return None
        return kind if kind in (int, float, Decimal, date, time, datetime) else None

    def last_four(self, obj: Any, name: str) -> str:
        """A guard's printed copy: an ID number by its last four characters only."""
        return last_four(getattr(obj, name, None))

    def stored(self, name: str, value: Any) -> str:
        """A value as an audit row keeps it (JSON: ISO text for times, text for money) as text."""
        if value is None:
            return "—"
        col = self.table.c.get(name)
        if col is not None and isinstance(value, str):
            kind = col.type.python_type if hasattr(col.type, "python_type") else None
            try:
                if kind is datetime:
                    value = datetime.fromisoformat(value)
                elif kind is date:
                    value = date.fromisoformat(value)
                elif kind is time:
                    value = time.fromisoformat(value)
            except (ValueError, NotImplementedError):
                pass
        if value == "***":
            return "***"
        return self.value(name)(value) or "—"

    def diff(self, action: str, changes: dict | None) -> list[tuple[str, str, str]]:
        """An audit row's changes as (label, old, new) a person reads; a creation without system columns."""
        rows = []
        for key, pair in (changes or {}).items():
            if action == "create" and key in SYSTEM_FIELDS:
                continue
            old, new = (list(pair) + [None, None])[:2] if isinstance(pair, (list, tuple)) else (None, pair)
            if action in ATTACHMENT_ACTIONS and key in ATTACHMENT_FIELDS:
                rows.append((str(ATTACHMENT_FIELDS[key]), self.document_label(old), self.document_label(new))
                            if key == "kind" else (str(ATTACHMENT_FIELDS[key]), str(old or "—"), str(new or "—")))
                continue
            if action == "import_file" and key in IMPORT_FIELDS:
                rows.append((str(IMPORT_FIELDS[key]), "—", str(new if new is not None else "—")))
                continue
            if action == "print" and key in PRINT_FIELDS:
                rows.append((str(PRINT_FIELDS[key]), "—", str(new if new is not None else "—")))
                continue
            if action == "denied" and key in DENIED_FIELDS:
                rows.append((str(DENIED_FIELDS[key]), "—", denied_reason(new) if key == "reason" else str(new or "—")))
                continue
            rows.append((str(self.label(key)), self.stored(key, old), self.stored(key, new)))
        return rows

    def document_label(self, kind: Any) -> str:
        """A document's code as its label ("身份证复印件"), from the register's declaration."""
        if kind is None:
            return "—"
        doc = next((d for d in getattr(self.model, "documents", ()) or () if d.kind == kind), None)
        return str(doc.label) if doc is not None else str(kind)

    def _choose(self, name: str) -> Callable[[Any], str]:
        col = self.table.c.get(name)
        info = col.info if col is not None else {}
        if name == "state" and getattr(self.model, "states", None):
            states = {k: str(v) for k, v in self.model.states.items()}
            return lambda v: states.get(v, EMPTY if v is None else str(v))
        if info.get("pii") and not self.pii:
            return lambda v: mask_id(v) if v else EMPTY
        if "choices" in info:
            labels = {k: str(t) for k, t in info["choices"].items()}
            return lambda v: labels.get(v, EMPTY if v is None else str(v))
        if col is not None and col.foreign_keys and self.session is not None:
            target = model_for(next(iter(col.foreign_keys)).column.table.name)
            if target is not None:
                self._targets[name] = target
                return lambda v: self._linked_text(target, v)
        if col is not None and isinstance(col.type, Boolean):  # 是/否 in this request's language, looked up once
            yes, no = str(YES), str(NO)
            return lambda v: EMPTY if v is None else (yes if v else no)
        if col is None and name in self.mapper.relationships:
            if self.mapper.relationships[name].uselist:  # a collection reads as its records, one after another
                return lambda v: "、".join(str(x) for x in (v or ()))
            return lambda v: EMPTY if v is None else str(v)
        return text_of

    def linked(self, target: type, key: Any) -> str:
        """Another register's record by its number or name (an audit row names its record by id)."""
        return self._linked_text(target, key)

    def preload(self, name: str, keys: Iterable[Any]) -> None:
        """The records that column `name` links to, by their keys, read in one query ahead of their cells: an
        export of a million rows then asks once per batch of rows, not once per linked record (at 1M repair orders
        the 5,200 units were 5,200 queries, several seconds of the export). The same session reads them, so the
        same scope applies; a key it does not find reads as `#key`, as one at a time would."""
        self.value(name)
        target = self._targets.get(name)
        if target is None:
            return
        missing = {k for k in keys if k is not None and (target, k) not in self._linked and str(k).isdigit()}
        if not missing:
            return
        if len(self._linked) + len(missing) > LINKED_KEPT:
            self._linked.clear()
        pk = sa_inspect(target).primary_key[0]
        found = {getattr(obj, pk.key): str(obj) for obj in self.session.scalars(select(target).where(pk.in_(missing)))}
        for k in missing:
            self._linked[(target, k)] = found.get(k, f"#{k}")

    def _linked_text(self, target: type, key: Any) -> str:
        if key is None:
            return EMPTY
        if isinstance(key, target):
            return str(key)
        k = (target, key)
        if k not in self._linked:
            if len(self._linked) > LINKED_KEPT:
                self._linked.clear()
            obj = self.session.get(target, key) if str(key).isdigit() else None
            self._linked[k] = str(obj) if obj is not None else f"#{key}"
        return self._linked[k]


ACTIONS = {"create": T("新建", "Created"), "update": T("修改", "Changed"), "delete": T("删除", "Deleted"),
           "export": T("导出", "Exported"), "denied": T("拒绝访问", "Refused"), "print": T("打印", "Printed"),
           "reveal": T("查看完整身份证号", "Revealed an ID number"),
           "search_pii": T("按身份证号查询", "Searched by ID number"),
           "erase": T("到期清除个人信息", "Personal data erased (retention)"),
           "attach": T("上传附件", "Attached a file"), "view_attachment": T("查看附件", "Viewed a file"),
           "detach": T("删除附件", "Removed a file"),
           "purge_attachment": T("到期清除附件", "File removed (retention)"),
           "import": T("导入", "Imported"), "import_file": T("导入文件", "Imported a file"),
           "open_day": T("查阅当日值班记录", "Opened a day's duty log")}
IMPORT_FIELDS = {"file": T("文件", "File"), "sha256": T("校验值", "SHA-256"), "new": T("新增", "New"),
                 "changed": T("修改", "Changed"), "unchanged": T("不变", "Unchanged")}
ATTACHMENT_ACTIONS = ("attach", "view_attachment", "detach", "purge_attachment")
ATTACHMENT_FIELDS = {"file": T("文件", "File"), "kind": T("资料", "Document"), "sha256": T("校验值", "SHA-256"),
                     "attachment": T("附件编号", "File no."), "reason": T("原因", "Reason"),
                     "size": T("尺寸", "Size")}


PRINT_FIELDS = {"copy": T("第几次打印", "Copy"), "size": T("纸张", "Paper")}  # kernel.audit.record_print
DENIED_FIELDS = {"reason": T("原因", "Reason"), "path": T("地址", "Path")}
DENIED_REASONS = (  # what kernel.audit.record_denied keeps (English, for IT) -> what a supervisor reads
    ("other property", T("记录属于其他项目", "The record belongs to another property")),
    ("action on a record outside scope", T("批量操作包含其他项目或不存在的记录",
                                           "A bulk action named another property's record")),
    ("foreign key outside scope", T("表单选择了其他项目的关联记录", "The form named another property's linked record")),
    ("foreign key", T("关联记录属于其他项目", "A linked record belongs to another property")),
)


def denied_reason(reason: Any) -> str:
    text = str(reason or "")
    for prefix, label in DENIED_REASONS:
        if text.startswith(prefix):
            return str(label)
    return text or "—"


def action_label(model: type | None, action: str) -> str:
    """An audit row's action as a person reads it: the step's own label, or what was done."""
    if action.startswith("transition:") and model is not None:
        t = model.transitions.get(action.split(":", 1)[1])
        if t is not None:
            return str(t.label)
    return str(ACTIONS.get(action, action))


def register_label(name: str) -> str:
    base, _, part = name.partition(":")
    if part == "documents":  # a retention rule of a register's personal documents (kernel.attachments.rule_key)
        return f"{register_label(base)}（附件）"
    model = model_for(name)
    return str(model.__label__) if model is not None and hasattr(model, "__label__") else name
