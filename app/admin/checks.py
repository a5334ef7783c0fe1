"""Start-up checks of every screen's declarations (the kernel checks the models': kernel/checks.py)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jinja2 import TemplateNotFound
from sqlalchemy import inspect as sa_inspect

from app.admin.access import operations_of
from app.admin.guard import RegisterView
from app.admin.printing import declaration_problems as print_problems
from kernel import permissions
from kernel.checks import attributes, check, properties
from kernel.register import pii_columns

COLUMN_OPTIONS = ("column_list", "column_details_list", "column_filters", "column_sortable_list",
                  "column_editable_list", "form_columns", "form_excluded_columns", "search_prefix", "search_contains")
COMPUTED = {"overdue"}  # columns RegisterView adds itself


def screens(app: Any) -> list[tuple[type, type]]:
    """(view class, model) of every register screen the app declares (admin_views.views())."""
    declared = app.extensions.get("frontdesk_screens") if app is not None else None
    return [(cls, model) for cls, model, _ in declared["views"]] if declared else []


def _names(value: Any) -> list[str]:
    out = []
    for item in value or ():
        if isinstance(item, (tuple, list)):
            item = item[0]
        if isinstance(item, str):
            out.append(item)
    return out


def _known(model: type, name: str, extra: set[str]) -> bool:
    if name in extra or name in attributes(model):
        return True
    head, _, rest = name.partition(".")
    rel = sa_inspect(model).relationships.get(head)
    return bool(rest) and rel is not None and _known(rel.mapper.class_, rest, set())


def _declared(cls: type, option: str) -> Any:
    """The value a screen's own class (or a screen base of it) declares for `option`, or None."""
    for k in cls.__mro__:
        if issubclass(k, RegisterView) and k is not RegisterView and option in vars(k):
            return vars(k)[option]
    return None


@check
def views_name_real_columns(app: Any) -> Iterator[str]:
    for cls, model in screens(app):
        name = model.__tablename__
        extra = COMPUTED | set(getattr(cls, "form_extra_fields", None) or {})
        known = extra | properties(model)
        for option in COLUMN_OPTIONS:
            for col in _names(_declared(cls, option)):
                if not _known(model, col, known):
                    yield f"{name}.{option}: '{col}' is not a column or relationship"
        for col in _names(_declared(cls, "search_prefix")) + _names(_declared(cls, "search_contains")):
            if col in pii_columns(model):
                yield f"{name}.search: '{col}' holds personal data (exact full-number search only, for the desk)"
        rels = sa_inspect(model).relationships
        for lookup in cls.lookups:
            if lookup not in rels or rels[lookup].direction.name != "MANYTOONE":
                yield f"{name}.lookups: '{lookup}' is not a relationship"
        if _declared(cls, "search_units") is not None and not hasattr(model, "unit_id"):
            yield f"{name}.search_units: the register has no unit to search by"
        if cls.daily is not None:
            for col in (cls.daily.date_column,) + cls.daily.columns:
                if not _known(model, col, known):
                    yield f"{name}.daily: '{col}' is not a column or relationship"
        for action_name, op in cls.action_operations.items():
            if op not in permissions.OPERATIONS:
                yield f"{name}.action_operations: '{op}' of '{action_name}' is not an operation"
        if cls.print_template:
            try:
                app.jinja_env.get_template(cls.print_template)
            except TemplateNotFound:
                yield f"{name}.print_template: '{cls.print_template}' does not exist"
        yield from print_problems(name, cls, model)


@check
def every_exposed_view_declares_its_operation(app: Any) -> Iterator[str]:
    for cls, model in screens(app):
        for attr in {n for k in cls.__mro__ for n in vars(k)}:
            fn = getattr(cls, attr, None)
            if getattr(fn, "_urls", None) and operations_of(cls, attr) is None:
                yield f"{model.__tablename__}.{attr}: exposed without an operation (use @endpoint)"


@check
def every_grant_has_a_screen(app: Any) -> Iterator[str]:
    declared = app.extensions.get("frontdesk_screens") if app is not None else None
    if not declared:
        return
    served = {model.__tablename__ for _, model, _ in declared["views"]} | {p[0] for p in declared["pages"]}
    for register in permissions.grants():
        if register not in served:
            yield f"{register}.grants: no screen serves this register"


@check
def documents_name_steps(app: Any) -> Iterator[str]:
    """A document is required before a declared step of its register, or a list action of its screen."""
    for cls, model in screens(app):
        actions = {name for k in cls.__mro__ for attr in vars(k).values()
                   if (name := getattr(attr, "_action", (None,))[0])}
        for d in getattr(model, "documents", ()) or ():
            for name in d.steps:
                if name not in model.transitions and name not in actions:
                    yield f"{model.__tablename__}.documents[{d.kind}]: '{name}' is not a step or an action"
