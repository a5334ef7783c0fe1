"""RegisterView: the guard every register's endpoints go through, with scope and writes.

A register's screen is a short subclass that declares columns, filters and search; it inherits
- permissions (kernel.permissions) checked before *every* exposed view: Flask-Admin's own by their name
  (app/admin/access.STOCK_OPERATIONS), new ones by the operation declared with `@endpoint`;
- property scope on list, count, details, edit, delete, actions, steps, lookups and every dropdown;
- locked states, row versions against lost updates, the model's `clean()`, one transaction per request;
- from its collaborators: the list (listing.py), filters (filters.py), exports (export.py), workflow steps and
  bulk actions (steps.py), the printable daily sheet (daily.py) and prints (printing.py), all showing values
  through one `kernel.display.Display`.
"""
from __future__ import annotations

from typing import Any

from flask import abort, flash, g, get_flashed_messages, redirect, request, url_for
from flask_admin import expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.model.widgets import XEditableWidget
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import MANYTOONE, joinedload
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField
from wtforms.validators import Optional

from app.admin.access import login_redirect, operations_of
from app.admin.attachments import Attachments
from app.admin.daily import DailySheets
from app.admin.entry import Entry, focus_first
from app.admin.export import Exporting
from app.admin.filters import Filtering, build_filters
from app.admin.forms import (
    PersonalField,
    SecureForm,
    field_args,
    refuse_out_of_scope,
    related_out_of_scope,
)
from app.admin.imports import Importing
from app.admin.listing import Listing
from app.admin.personal import Personal
from app.admin.printing import Printing
from app.admin.queue import Queue
from app.admin.saved import SavedViews
from app.admin.statements import Kept
from app.admin.steps import Steps
from kernel import attachments, audit, permissions, scoping
from kernel.attachments import AttachmentError
from kernel.db import db
from kernel.display import Display
from kernel.i18n import T
from kernel.register import blind_indexes, pii_columns
from kernel.workflow import WorkflowError, about_self

SYSTEM_COLUMNS = ("id", "created_at", "updated_at", "version", "created_by", "created_by_id", "property",
                  "property_id", "number", "state", "state_changed_at")

MSG_LOCKED = _l("该记录已签发/已完结，不能再修改或删除")
MSG_STALE = _l("该记录已被他人修改，您的更改未保存。请刷新页面后重新填写。")
MSG_PICK_PROPERTY = _l("请先在页头选择一个项目")
MSG_NOT_SAVED = _l("保存失败：与已有记录重复或缺少必填项，请检查后再保存")
MSG_OUT_OF_RANGE = _l("保存失败：数值、日期或文字超出允许范围，请检查后再保存")
MSG_ABOUT_SELF = _l("这条记录与您本人有关，不能由您修改")
MSG_NOT_INSPECTOR = _l("只有检查人本人可以更正这条记录")
MSG_REFERENCED = _l("该记录已被其他记录引用，不能删除；请改为停用")
MSG_CLOCK = T("留空即为系统当前时间；补录较早收到的事项可填写实际的（较早的）时间，不能晚于现在",
              "Empty: the server's time now; for a late entry give the earlier time it was received, never later")
MSG_NO_DELETE = _l("业务记录不能删除，请作废并填写原因")


PLAIN = (str, int, type(None))
_urls = Kept(8192)


def changed_columns(model: Any) -> dict[str, tuple[Any, Any]]:
    """{column: (old, new)} of what a form just changed on a persistent record (read before the flush)."""
    state = sa_inspect(model)
    out = {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new:
                out[attr.key] = (old, new)
    return out


class VersionedXEditable(XEditableWidget):
    """An inline edit posts "id.version" as its pk, so a stale list cannot overwrite newer data."""

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        version = getattr(getattr(field, "_form", None), "row_version_of_list", "")
        kwargs["pk"] = f"{kwargs.get('pk')}.{version}"
        return super().__call__(field, **kwargs)


class RegisterView(Entry, Filtering, Listing, Queue, SavedViews, Exporting, Importing, Attachments, Steps, DailySheets,
                   Printing, Personal, ModelView):
    form_base_class = SecureForm
    list_template = "admin/register_list.html"
    details_template = "admin/register_details.html"
    edit_template = "admin/register_edit.html"
    create_template = "admin/register_create.html"
    can_view_details = True
    column_display_pk = False
    lookups: tuple[str, ...] = ()        # relationships chosen by search-as-you-type (large tables)
    lookup_fields: dict[str, tuple[str, ...]] = {}
    filter_choices: dict[str, Any] = {}  # column -> {code: label} or a callable, for columns without `choices`
    _linked_with_one: list | None = None  # see linked_with_one()

    def __init__(self, model: type, category: Any = None, **kw: Any):
        self.register = model.__tablename__
        self._declare_form(model)
        self._declare_listing(model)
        super().__init__(model, db.session, name=model.__label__, endpoint=self.register, category=category, **kw)
        self._declare_steps(model)

    def _declare_form(self, model: type) -> None:
        mapper = sa_inspect(model)
        labels, choices = {}, {}
        for attr in mapper.column_attrs:
            info = attr.columns[0].info
            if "label" in info:
                labels[attr.key] = info["label"]
            if "choices" in info:
                choices[attr.key] = list(info["choices"].items())
        for rel in mapper.relationships:
            if "label" in rel.info:
                labels[rel.key] = rel.info["label"]
        if getattr(model, "states", None):
            choices["state"] = list(model.states.items())
        labels.update({"state": T("状态", "State"), "overdue": T("超时", "Overdue")})
        self.column_labels = {**labels, **(self.column_labels or {})}
        self.column_choices = {**choices, **(self.column_choices or {})}
        self.column_filters = build_filters(model, self.column_filters, self.column_labels, self.filter_choices)
        self.form_choices = {k: [(a, b) for a, b in v] for k, v in choices.items() if k != "state"}
        args, refs = field_args(model, self.lookups, self.lookup_fields)
        self.form_args = {**args, **(self.form_args or {})}
        clock = getattr(model, "clock_field", None)
        if clock:  # left empty: the server's time; a late entry gives an earlier one (kernel.workflow.ServerClock)
            spec = dict(self.form_args.get(clock, {}))
            spec["validators"] = [Optional()] + list(spec.get("validators", []))
            spec["description"] = MSG_CLOCK
            self.form_args[clock] = spec
        self.form_overrides = {**{c: PersonalField for c in pii_columns(model)}, **(self.form_overrides or {})}
        self.form_ajax_refs = {**refs, **(self.form_ajax_refs or {})}
        # Relationships are edited through their relationship, never raw ids; system columns never.
        excluded = set(SYSTEM_COLUMNS) | set(self.form_excluded_columns or ())
        excluded |= {a.key for a in mapper.column_attrs if a.columns[0].foreign_keys}
        excluded |= {r.key for r in mapper.relationships if r.direction.name != "MANYTOONE"}
        excluded |= set(blind_indexes(model).values())
        excluded |= {d.flag for d in attachments.documents_of(model) if d.flag}  # the server sets them from the files
        self.form_excluded_columns = sorted(excluded)

    def scaffold_form(self) -> Any:
        form_class = super().scaffold_form()
        form_class.row_version = HiddenField()
        return form_class

    # ---------------------------------------------------------------- who may do what
    @property
    def roles(self) -> frozenset[str]:
        return scoping.current_roles()

    def allowed(self, operation: str) -> bool:
        if not current_user.is_authenticated:
            return False
        if operation == "create" and self.needs_property and scoping.current_property_id() is None:
            return False  # "all properties" is read-only: a new record belongs to one property
        return permissions.allowed(self.roles, self.register, operation)

    @property
    def needs_property(self) -> bool:
        return hasattr(self.model, "property_id")

    can_create = property(lambda self: self.allowed("create"))
    can_edit = property(lambda self: self.allowed("edit"))
    can_delete = property(lambda self: self.allowed("delete"))
    can_export = property(lambda self: self.allowed("export"))

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and self.allowed("list")

    def is_visible(self) -> bool:
        return self.is_accessible()

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_redirect()
        ops = operations_of(self, name)
        if ops == ("self",):
            return None
        if not ops or not any(self.allowed(op) for op in ops):
            abort(403)
        if name in ("edit_view", "ajax_update", "delete_view"):
            return self._refuse_locked(name)
        return None

    def _run_view(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Flask-Admin retries a view that raised TypeError with other arguments, hiding the real error."""
        return fn(self, *args, **kwargs)

    # ---------------------------------------------------------------- scope
    def rows_clause(self, user: Any = None) -> Any:
        """The rows the current roles may see when the register limits some role to some rows (visible_rows):
        None when one of the roles that may list it sees every row. `user`: who they are, if not the current
        user's id itself (a kept statement's parameter, app/admin/statements.py)."""
        rules = getattr(self.model, "visible_rows", None) or {}
        if not rules or not current_user.is_authenticated:
            return None
        listing = [r for r in self.roles if permissions.allowed({r}, self.register, "list")]
        if not listing or any(r not in rules for r in listing):
            return None
        return or_(*[rules[r](self.model, current_user.id if user is None else user) for r in sorted(listing)])

    def get_query(self) -> Any:
        return self.scoped_query()

    def scoped_query(self, user: Any = None, property_param: Any = None) -> Any:
        """The list's rows: the current property's, and those the roles see (`user` as in rows_clause,
        `property_param` as in scoping.scope)."""
        query = scoping.scope(super().get_query(), self.model, property_param)
        rows = self.rows_clause(user)
        return query if rows is None else query.filter(rows)

    def get_one(self, id: Any) -> Any:
        """One record of the current property and of the rows the roles see, or 404 (and a `denied` row)."""
        if not str(id).isdigit() or len(str(id)) > 18:
            return None
        obj = self.session.get(self.model, int(id), options=self.linked_with_one())
        if obj is not None and not scoping.in_scope(obj):
            audit.record_denied(self.register, obj.id, "other property", getattr(obj, "property_id", None))
            abort(404)
        rows = self.rows_clause() if obj is not None else None
        if rows is not None and self.session.scalar(
                select(self.model.id).where(self.model.id == obj.id, rows)) is None:
            audit.record_denied(self.register, obj.id, "row not shown to the role", getattr(obj, "property_id", None))
            abort(404)
        return obj

    def linked_with_one(self) -> list:
        """The records a record's page shows by name (its unit, department, property: many-to-one columns of the
        details) joined to it: one statement instead of one more per linked record."""
        if self._linked_with_one is None:
            shown = {name for name, _ in self.get_details_columns()}
            self._linked_with_one = [joinedload(rel.class_attribute) for rel in sa_inspect(self.model).relationships
                                     if rel.direction is MANYTOONE and rel.key in shown]
        return self._linked_with_one

    def display(self) -> Display:
        """Value-to-text for this register and the current roles, made once per request."""
        cache = g.setdefault("displays", {})
        if self.register not in cache:
            cache[self.register] = Display(self.model, self.roles, self.session)
        return cache[self.register]

    # ---------------------------------------------------------------- locks
    @staticmethod
    def locked(record: Any) -> bool:
        return bool(getattr(record, "is_locked", False))

    def personal_refusal(self, record: Any) -> T | None:
        """Records about oneself: nobody edits one naming them; a check is corrected by its inspector only."""
        if about_self(record, current_user):
            return MSG_ABOUT_SELF
        owner = getattr(record, "edited_only_by", None)
        if owner and getattr(record, owner, None) not in (None, current_user.id):
            return MSG_NOT_INSPECTOR
        return None

    def _refuse_locked(self, name: str) -> Any:
        rid = request.args.get("id") if name == "edit_view" else request.form.get(
            "list_form_pk" if name == "ajax_update" else "id")
        rid = str(rid or "").partition(".")[0]
        obj = self.get_one(rid) if rid else None
        if obj is None:
            return None
        why = MSG_LOCKED if self.locked(obj) else self.personal_refusal(obj)
        if why is None:
            return None
        if name == "edit_view":
            flash(str(why), "error")
            return redirect(url_for(".details_view", id=obj.id))
        abort(403)

    # ---------------------------------------------------------------- writes
    def edit_form(self, obj: Any = None) -> Any:
        form = super().edit_form(obj)
        clock = getattr(self.model, "clock_field", None)
        if clock and clock in form:  # set at creation; only the supervisor's correction step changes it
            del form[clock]
        if request.method == "GET" and obj is not None:
            form.row_version.data = getattr(obj, "version", "")
        return focus_first(form)

    def stale(self, record: Any, sent: Any) -> bool:
        """A missing or malformed row version is refused like an old one."""
        return hasattr(record, "version") and str(sent or "").strip() != str(record.version)

    def before_save(self, form: Any, model: Any, is_created: bool) -> None:
        """A screen's values the server sets before the record is first written (a password's hash)."""

    def _refused(self, form: Any, errors: dict) -> bool:
        for key, message in errors.items():
            target = getattr(form, key, None)
            if target is not None:
                target.errors = list(target.errors) + [str(message)]
            flash(str(message), "error")
        self.session.rollback()
        return False

    def _apply(self, form: Any, model: Any, is_created: bool, version: Any = None) -> bool:
        """populate -> property -> scope of linked records -> clean -> commit, or nothing at all."""
        try:
            if not is_created:
                if self.locked(model):
                    flash(str(MSG_LOCKED), "error")
                    return False
                if (why := self.personal_refusal(model)) is not None:
                    flash(str(why), "error")
                    return False
                if self.stale(model, version):
                    flash(str(MSG_STALE), "error")
                    return False
            if (why := refuse_out_of_scope(self.register, model, form)) is not None:
                flash(str(why), "error")
                return False
            uploads = self.read_form_uploads()  # every file checked before anything is written
            form.populate_obj(model)
            if not is_created and hasattr(model, "refuse_change"):
                errors = model.refuse_change(changed_columns(model))
                if errors:
                    return self._refused(form, errors)
            if hasattr(model, "clock_refusal"):  # the time of receipt is the server's (kernel.workflow.ServerClock)
                errors = model.clock_refusal(is_created, {} if is_created else changed_columns(model))
                if errors:
                    return self._refused(form, errors)
            if is_created:
                if self.needs_property:
                    pid = scoping.current_property_id()
                    if pid is None:
                        flash(str(MSG_PICK_PROPERTY), "error")
                        return False
                    model.property_id = pid
                if getattr(model, "initial_state", None) and not getattr(model, "state", None):
                    model.state = model.initial_state
                self.session.add(model)
                if hasattr(model, "on_create"):
                    model.on_create(self.session)
            self.before_save(form, model, is_created)
            self.session.flush()  # foreign keys of relationships set by the form are filled only now
            self.store_uploads(model, uploads)
            errors = related_out_of_scope(self.register, model) or (model.clean() if hasattr(model, "clean") else None)
            if errors:
                return self._refused(form, errors)
            if is_created and hasattr(model, "after_create"):
                model.after_create(self.session)
            if not is_created and hasattr(model, "on_edit"):
                model.on_edit(self.session, current_user)
            self._on_model_change(form, model, is_created)
            self.session.commit()
            attachments.keep_pending()
        except AttachmentError as ex:
            self.session.rollback()
            flash(str(ex.message), "error")
            return False
        except StaleDataError:
            self.session.rollback()
            flash(str(MSG_STALE), "error")
            return False
        except WorkflowError as ex:
            self.session.rollback()
            flash(str(ex.message), "error")
            return False
        except IntegrityError:
            self.session.rollback()
            flash(str(MSG_NOT_SAVED), "error")
            return False
        except (DataError, OverflowError):  # a bound the form did not know: the database says, nothing is kept
            self.session.rollback()
            flash(str(MSG_OUT_OF_RANGE), "error")
            return False
        self.after_model_change(form, model, is_created)
        return True

    def create_model(self, form: Any) -> Any:
        model = self.build_new_instance()
        return model if self._apply(form, model, True) else False

    def update_model(self, form: Any, model: Any) -> bool:
        return self._apply(form, model, False, form.row_version.data)

    def delete_refusal(self, model: Any) -> T | None:
        """Why `model` may not be deleted: a business record is voided instead; master data others point at is
        switched off; a price that has been in force is ended, not deleted."""
        if self.locked(model):
            return MSG_LOCKED
        if "void" in (getattr(model, "states", None) or {}):
            return MSG_NO_DELETE
        if (why := self.personal_refusal(model)) is not None:
            return why
        return model.delete_refusal() if hasattr(model, "delete_refusal") else None

    def delete_model(self, model: Any) -> bool:
        why = self.delete_refusal(model)
        if why is not None:
            flash(str(why), "error")
            return False
        try:
            self.session.delete(model)
            self.session.commit()
        except IntegrityError:  # a foreign key: SQLite (PRAGMA foreign_keys=ON) and PostgreSQL alike
            self.session.rollback()
            flash(str(MSG_REFERENCED), "error")
            return False
        return True

    def get_list_form(self) -> Any:
        return self.scaffold_list_form(widget=VersionedXEditable(), validators={
            k: {"validators": v["validators"]} for k, v in (self.form_args or {}).items() if v.get("validators")})

    def list_form(self, obj: Any = None) -> Any:
        form = super().list_form(obj)
        form.row_version_of_list = getattr(obj, "version", "")
        return form

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self) -> Any:
        """An inline edit from the list: its pk carries the row version ("12.3"), checked like a form's."""
        if not self.column_editable_list:
            abort(404)
        rid, _, version = (request.form.get("list_form_pk") or "").partition(".")
        record = self.get_one(rid)
        if record is None:
            abort(404)
        form = self.list_form()
        for field in list(form):
            if field.name not in request.form and field.name != "csrf_token":
                del form[field.name]
        if not self.validate_form(form):
            return "; ".join(str(e) for errs in form.errors.values() for e in errs), 400
        if not self._apply(form, record, False, version):
            return "; ".join(str(m) for m in get_flashed_messages()), 400
        return str(_l("已保存"))

    # ---------------------------------------------------------------- pages
    def get_url(self, endpoint: str, **kwargs: Any) -> str:
        """url_for, remembered: a list page builds ~60 URLs (sort, pager, tabs, static files) that are the same on
        every request, and the URL map never changes once started. Only plain values are remembered (a label's
        text depends on the language); the key holds everything else url_for reads from the request."""
        for k, v in kwargs.items():
            if k[:1] == "_" or type(v) not in PLAIN:
                return super().get_url(endpoint, **kwargs)
        env = request.environ
        where = env.get("frontdesk.url_where")
        if where is None:  # a relative endpoint's blueprint, the prefix and host the app is served at
            where = env["frontdesk.url_where"] = (request.blueprint, request.script_root, request.host)
        return _urls.get((endpoint, where, tuple(kwargs.items())),
                         lambda: super(RegisterView, self).get_url(endpoint, **kwargs))

    def render(self, template: str, **kwargs: Any) -> Any:
        kwargs.setdefault("count_capped", g.get("count_capped", False))
        kwargs.setdefault("show", self.display())
        if template == self.details_template and "model" in kwargs:
            kwargs.update(self.details_extras(kwargs["model"]))
        return super().render(template, **kwargs)
