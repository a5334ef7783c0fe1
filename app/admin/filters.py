"""List filters a person can use: choice columns and linked records are picked from a dropdown of labels.

A screen declares `column_filters = ("state", "kind", "received_at", "department")` and `build_filters()`
turns each declared name into filters before Flask-Admin sees them:
- a column with declared choices (and `state` of a workflow): 等于 / 属于其中之一, offered as the Chinese (or
  English) labels; the URL carries the stored code, and a code that is not a choice is refused;
- a linked record (`department`, or the old spelling `department.name`): 等于 / 属于其中之一 on the foreign key,
  offered as the current property's records by name (the same scoped query as the form's dropdown);
- anything else is left to Flask-Admin's own converter (dates get a picker, booleans 是/否, text 包含...).

Options and labels are evaluated per request (`filter_groups()`): the language and the property are the
request's, never those of start-up. Filter positions in URLs (`named_filter_urls = False`) do not change.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import has_request_context
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, BooleanEqualFilter, FilterEqual, FilterInList
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect as sa_inspect

from app.admin.forms import choices_query
from app.admin.statements import Kept
from kernel import scoping
from kernel.i18n import T, is_english
from kernel.kept import kept

OP_EQUAL = _l("等于")
OP_IN = _l("属于其中之一")
OP_IS = _l("为")


class _Picked(BaseSQLAFilter):
    """A filter whose value is one of the offered options (a code or an id), never free text."""

    def __init__(self, column: Any, name: Any, options: Callable[[], list], field: str):
        super().__init__(column, name, options=options)
        self.field = field  # the name the screen declared, for `filter_arg()`

    def get_options(self, view: Any) -> list | None:
        if not has_request_context():  # Flask-Admin asks once at start-up; options belong to a request
            return None
        return super().get_options(view)

    def keys(self) -> set[str]:
        return {str(k) for k, _ in (self.get_options(None) or ())}

    def convert(self, value: str) -> Any:
        return value


class ChoiceEqual(_Picked, FilterEqual):
    def validate(self, value: str) -> bool:
        return value in self.keys()

    def clean(self, value: str) -> Any:
        return self.convert(value)

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        return query.filter(self.get_column(alias) == value)

    def operation(self) -> Any:
        return OP_EQUAL


class ChoiceInList(_Picked, FilterInList):
    def validate(self, value: str) -> bool:
        parts = [v.strip() for v in value.split(",") if v.strip()]
        return bool(parts) and set(parts) <= self.keys()

    def clean(self, value: str) -> list:
        return [self.convert(v.strip()) for v in value.split(",") if v.strip()]

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        return query.filter(self.get_column(alias).in_(value))

    def operation(self) -> Any:
        return OP_IN


class LinkEqual(ChoiceEqual):
    def convert(self, value: str) -> int:
        return int(value)


class LinkInList(ChoiceInList):
    def convert(self, value: str) -> int:
        return int(value)


class YesNo(BooleanEqualFilter):
    """是 / 否 in the app's own words (Flask-Admin's Yes/No would need its catalog)."""

    def __init__(self, column: Any, name: Any, **kw: Any):
        super().__init__(column, name)
        self.options = static(lambda: [("1", gettext("是")), ("0", gettext("否"))])
        self.field = column.key

    def operation(self) -> Any:
        return OP_IS


def static(options: Callable[[], list]) -> Callable[[], list]:
    """Marks options that depend on the language alone (declared labels), never on the data or the property."""
    options.fd_static = True  # type: ignore[attr-defined]
    return options


def labelled(choices: dict) -> Callable[[], list]:
    return static(lambda: [(code, str(label)) for code, label in choices.items()])


def linked(target: type, roles: tuple[str, ...] = ()) -> Callable[[], list]:
    rows = choices_query(target, roles)

    def options() -> list:
        return sorted(((obj.id, str(obj)) for obj in rows()), key=lambda o: o[1])
    if not getattr(target, "kept", False) or roles:
        return options
    # reference data (the departments): kept per process while unchanged, per scope and language (kernel/kept.py)
    return lambda: kept(("options", target.__tablename__, scoping.current_property_id(),
                         tuple(scoping.user_property_ids()), scoping.is_company_wide(), is_english()), options)


def build_filters(model: type, declared: Any, labels: dict, extra_choices: dict | None = None) -> list | None:
    """The screen's declared filter names as filter objects (see the module's docstring)."""
    if not declared:
        return declared
    mapper = sa_inspect(model)
    out: list = []
    for name in declared:
        if not isinstance(name, str):
            out.append(name)
            continue
        rel_name = name.split(".", 1)[0]
        rel = mapper.relationships.get(rel_name)
        col = model.__table__.c.get(name)
        choices = (extra_choices or {}).get(name)
        if choices is None and name == "state" and getattr(model, "states", None):
            choices = model.states
        if choices is None and col is not None and "choices" in col.info:
            choices = col.info["choices"]
        if choices is not None and col is not None:
            label = labels.get(name, T.of(col.info.get("label", name)))
            options = choices if callable(choices) else labelled(choices)
            attr = getattr(model, name)
            out += [ChoiceEqual(attr, label, options, name), ChoiceInList(attr, label, options, name)]
        elif rel is not None and rel.direction.name == "MANYTOONE":
            local = next(iter(rel.local_columns))
            label = labels.get(rel_name, T.of(rel.info.get("label", rel_name)))
            options = linked(rel.mapper.class_, tuple(local.info.get("staff_roles", ())))
            attr = getattr(model, local.key)
            out += [LinkEqual(attr, label, options, rel_name), LinkInList(attr, label, options, rel_name)]
        elif col is not None and col.type.python_type is bool:
            out.append(YesNo(getattr(model, name), labels.get(name, T.of(col.info.get("label", name)))))
        else:
            out.append(name)
    return out


_groups = Kept(256)


class Filtering:
    """Per-request filter groups: labels in the request's language, options of the current property.

    What depends on the language alone (names, operations, declared choices) is built once per register and
    language; options read from the data (linked records, a screen's own choices) are asked on every request."""

    def filter_groups(self) -> OrderedDict | None:
        if not self._filters:
            return None
        layout = _groups.get((self.endpoint, str(get_locale())), self._filter_layout)
        asked: dict[int, Any] = {}  # 等于 and 属于其中之一 of one column share their options: one query, not two
        groups: OrderedDict[str, list] = OrderedDict()
        for name, entries in layout:
            out = groups[name] = []
            for entry, flt in entries:
                if flt is not None:
                    source = flt.options
                    if id(source) not in asked:
                        options = flt.get_options(self)
                        asked[id(source)] = [(k, str(v)) for k, v in options] if options else None
                    entry = dict(entry, options=asked[id(source)])
                out.append(entry)
        return groups

    def _filter_layout(self) -> list[tuple[str, list[tuple[dict, Any]]]]:
        """[(group name, [(entry, filter whose options are asked per request, or None)])], in filter order."""
        groups: OrderedDict[str, list] = OrderedDict()
        for i, flt in enumerate(self._filters):
            source = getattr(flt, "options", None)
            entry = dict(index=i, arg=self.get_filter_arg(i, flt), operation=str(flt.operation()), options=None,
                         type=flt.data_type)
            dynamic = callable(source) and not getattr(source, "fd_static", False)
            if not dynamic:
                options = flt.get_options(self)
                entry["options"] = [(k, str(v)) for k, v in options] if options else None
            groups.setdefault(str(flt.name), []).append((entry, flt if dynamic else None))
        return list(groups.items())

    def _get_filter_groups(self) -> OrderedDict | None:
        return self.filter_groups()
