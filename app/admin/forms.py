"""The one field factory: create, edit and step forms are built here, scoped to the current property.

Every relationship chosen in a form offers only records of the current property (staff by membership, and
by role when the column names the roles that fit the job); a hand-made POST naming another id is refused
and audited by `refuse_out_of_scope()`, the same for CRUD and step forms.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from flask_admin.babel import Translations
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from wtforms import Form, StringField
from wtforms.utils import unset_value

from kernel import audit, scoping
from kernel.db import db
from kernel.i18n import T
from kernel.identity import Membership, Role, StaffUser
from kernel.validators import BY_NAME, bounds_for, mask_id

MSG_SCOPE = _l("所选记录不属于当前项目，请从下拉列表中选择")
LOOKUP_PAGE = 20
DROPDOWN_LIMIT = 500


class SecureForm(FlaskForm):
    """Flask-WTF CSRF token on every Flask-Admin form (create, edit, delete, actions, ajax edits, steps)."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: Any) -> Any:
            return Translations()

    def __init__(self, formdata: Any = _Auto, obj: Any = None, **kwargs: Any):
        # Flask-Admin's Unique validator compares against the edited record: without it, saving any record with a
        # unique column (an account's username) failed with "已经存在" even unchanged.
        self._obj = obj
        super().__init__(formdata=formdata, obj=obj, **kwargs)


class PersonalField(StringField):
    """An ID number on a form: typed at capture, never sent back to the browser afterwards.

    An edit form shows the masked number as a hint and an empty box; left empty, the stored number stays.
    """

    stored: str | None = None

    def process(self, formdata: Any, data: Any = unset_value, extra_filters: Any = None) -> None:
        super().process(formdata, data, extra_filters)
        self.stored = data if isinstance(data, str) and data else None
        if self.stored:
            self.description = str(T(f"已登记：{mask_id(self.stored)}（留空则不变）",
                                     f"On file: {mask_id(self.stored)} (leave empty to keep)"))

    def _value(self) -> str:
        return self.raw_data[0] if self.raw_data and self.raw_data[0] != self.stored else ""

    def pre_validate(self, form: Any) -> None:
        if not (self.data or "").strip() and self.stored:
            self.data = self.stored

    def populate_obj(self, obj: Any, name: str) -> None:
        value = (self.data or "").strip().upper() or None
        if value is None and self.stored:
            return
        setattr(obj, name, value)


class ScopedLoader(QueryAjaxModelLoader):
    """Search-as-you-type for foreign keys, limited to the current property."""

    def get_query(self) -> Any:
        query = scoping.scope(super().get_query(), self.model)
        if hasattr(self.model, "active") and self.model is not StaffUser:
            query = query.filter(self.model.active.is_(True))  # 停用 master data is no longer offered
        if hasattr(self.model, "offered"):
            query = query.filter(self.model.offered())
        unit = request.args.get("unit", "")
        if self.name != "unit" and hasattr(self.model, "unit_id") and unit.isdigit() and len(unit) <= 18 \
                and (request.endpoint or "").endswith("ajax_lookup"):
            query = query.filter(self.model.unit_id == int(unit))  # the residents of the unit chosen on the form
        return query

    def get_one(self, pk: Any) -> Any:
        if not str(pk).isdigit() or len(str(pk)) > 18:
            return None
        obj = super().get_one(pk)
        return obj if obj is not None and scoping.in_scope(obj) else None


def choices_query(target: type, staff_roles: tuple[str, ...] = (), for_form: bool = False) -> Callable[[], list]:
    """The records a dropdown offers: the current property's, staff by membership (and role, if named).

    On a form, a register may narrow what is offered (`offered()`: a receipt not used yet); a list filter
    still offers them all.
    """
    def query() -> list:
        q = scoping.scope(select(target), target)
        if hasattr(target, "active") and target is not StaffUser:
            q = q.where(target.active.is_(True))  # 停用 master data is no longer offered
        if for_form and hasattr(target, "offered"):
            q = q.where(target.offered())
        if target is StaffUser:
            q = q.where(StaffUser.active.is_(True))
            if staff_roles:
                pid = scoping.current_property_id()
                holders = select(Membership.user_id).join(Role).where(Role.code.in_(staff_roles))
                if pid is not None:
                    holders = holders.where(Membership.property_id == pid)
                q = q.where(StaffUser.id.in_(holders))
        return db.session.scalars(q.limit(DROPDOWN_LIMIT)).all()
    return query


def default_lookup_fields(target: type) -> tuple[str, ...]:
    cols = sa_inspect(target).columns
    return tuple(n for n in ("code", "number", "name", "phone") if n in cols) or ("id",)


def field_args(model: type, lookups: tuple[str, ...], lookup_fields: dict[str, tuple[str, ...]]) -> tuple[dict, dict]:
    """(form_args, form_ajax_refs) for every column and every many-to-one relationship of `model`.

    Computed for all relationships, including those not on the create form, because step forms use them.
    """
    mapper = sa_inspect(model)
    args: dict[str, dict] = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        info = column.info
        extra: dict[str, Any] = {}
        checks = [bounds_for(column)] + [BY_NAME[v] for v in info.get("validators", ()) if v in BY_NAME]
        if any(checks):
            extra["validators"] = [c for c in checks if c is not None]
        if info.get("description"):
            extra["description"] = info["description"]
        if extra:
            args[attr.key] = extra
    refs = {}
    for rel in mapper.relationships:
        if rel.direction.name != "MANYTOONE" or rel.key in ("property", "created_by"):
            continue
        target = rel.mapper.class_
        if rel.key in lookups:
            fields = lookup_fields.get(rel.key) or default_lookup_fields(target)
            refs[rel.key] = ScopedLoader(rel.key, db.session, target, fields=list(fields), page_size=LOOKUP_PAGE,
                                         placeholder=str(T("输入以搜索…", "Type to search…")))
        else:
            local = next(iter(rel.local_columns))
            roles = tuple(local.info.get("staff_roles", ()))
            args.setdefault(rel.key, {})["query_factory"] = choices_query(target, roles, for_form=True)
            args[rel.key]["blank_text"] = "—"  # WTForms shows an empty label as its value, "__None"
    return args, refs


def unresolved_choices(form: Form) -> list[str]:
    """Fields naming a record id that the scoped choices do not contain (only a hand-made POST does that)."""
    out = []
    for f in form:
        if not (hasattr(f, "query_factory") or hasattr(f, "loader")) or f.data is not None:
            continue
        if any(v not in ("", "__None", None) for v in (getattr(f, "raw_data", None) or [])):
            out.append(f.name)
    return out


def property_of(obj: Any) -> int | None:
    """The property a record belongs to (staff: the first property they work at)."""
    if obj is None:
        return None
    if hasattr(obj, "property_id"):
        return obj.property_id
    memberships = getattr(obj, "memberships", None) or []
    return memberships[0].property_id if memberships else None


def targeted_property(record: Any, name: str, raw: Any) -> int | None:
    """The property of the record an out-of-scope id in field `name` names (what the attempt targeted)."""
    rel = sa_inspect(type(record)).relationships.get(name) if record is not None else None
    raw = str(raw or "")
    if rel is None or not raw.isdigit() or len(raw) > 18:
        return None
    return property_of(db.session.get(rel.mapper.class_, int(raw)))


def withdrawn_choice(record: Any, name: str, raw: Any) -> T | None:
    """Why a record of the current property is no longer offered in field `name` (a receipt used meanwhile)."""
    rel = sa_inspect(type(record)).relationships.get(name) if record is not None else None
    raw = str(raw or "")
    if rel is None or not raw.isdigit() or len(raw) > 18 or not hasattr(rel.mapper.class_, "not_offered"):
        return None
    target = db.session.get(rel.mapper.class_, int(raw))
    if target is None or not scoping.in_scope(target):
        return None
    return target.not_offered()


def refuse_out_of_scope(register: str, record: Any, form: Form) -> T | str | None:
    """The message to show (and a message on each field) when the form names an id it does not offer; None if not.

    An id of another property is refused and audited (a `denied` row carrying the property the id belongs to,
    so that property's supervisor sees the attempt); a record of this property that is no longer offered (a
    receipt used since the page was opened) is refused with the reason, as any other check.
    """
    names = unresolved_choices(form)
    if not names:
        return None
    message: T | str | None = None
    for name in names:
        field = getattr(form, name)
        raw = (getattr(field, "raw_data", None) or [None])[0]
        why = withdrawn_choice(record, name, raw)
        if why is None:
            audit.record_denied(register, getattr(record, "id", None), f"foreign key outside scope: {names}",
                                targeted_property(record, name, raw) or getattr(record, "property_id", None)
                                or scoping.current_property_id())
        field.errors = list(field.errors) + [str(why or MSG_SCOPE)]
        message = message or why
    return message or MSG_SCOPE


def related_out_of_scope(register: str, record: Any) -> dict[str, T] | None:
    """After a flush: a linked record of another property than the record's own (refused and audited)."""
    for rel in sa_inspect(type(record)).relationships:
        if rel.direction.name != "MANYTOONE" or rel.key in ("property", "created_by"):
            continue
        target = getattr(record, rel.key, None)
        if target is not None and hasattr(record, "property_id") and not scoping.in_scope(target, record.property_id):
            audit.record_denied(register, getattr(record, "id", None), f"foreign key {rel.key} of other property",
                                property_of(target) or record.property_id)
            return {rel.key: MSG_SCOPE}
    return None
