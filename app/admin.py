"""RegisterView: the one place where every register's endpoints are guarded.

A register is declared as a model plus a short subclass of RegisterView; it inherits
- permissions (app/permissions) checked before *every* exposed view, including ajax edits and actions;
- property scope on list, count, details, edit, delete, actions, lookups and foreign keys in forms;
- locked states, stale-edit refusal, model `clean()` checks, one transaction per request;
- workflow buttons and bulk actions from the model's @transition declarations;
- overdue filter/column from the model's deadlines, capped counts, indexed search, streaming export;
- per-record history from the audit log.
"""
from __future__ import annotations

import csv
import io
import tempfile
from decimal import Decimal

from flask import abort, flash, g, redirect, request, Response, stream_with_context, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView, typefmt
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_login import current_user
from flask_wtf import FlaskForm
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy import and_, func, inspect as sa_inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField

from app import audit, permissions, scoping, workflow
from app.deadlines import overdue_clause, overdue_for
from app.extensions import db
from app.i18n import T
from app.validators import BY_NAME, mask_id

SYSTEM_COLUMNS = ("id", "created_at", "updated_at", "version", "created_by", "created_by_id", "property",
                  "property_id", "number", "state", "state_changed_at")

# Flask-Admin view method -> the operation it performs. An exposed view missing here is refused.
OPERATION_OF_VIEW = {
    "index_view": "list", "details_view": "details", "create_view": "create", "edit_view": "edit",
    "delete_view": "delete", "export": "export", "ajax_update": "edit", "history_view": "details",
    "print_view": "details", "daily_view": "list", "grid_view": "details", "read_view": "mark_read",
}
SELF_CHECKED_VIEWS = {"action_view", "transition_view", "ajax_lookup"}

MSG_LOCKED = T("该记录已签发/已完结，不能再修改或删除", "This record is issued or final and cannot be changed")
MSG_STALE = T("该记录已被他人修改，您的更改未保存。请刷新后重试。",
              "Someone else saved this record in the meantime; your change was not saved. Reload and try again.")
MSG_SCOPE = T("所选记录不属于当前项目", "The chosen record belongs to another property")
MSG_PICK_PROPERTY = T("请先在页头选择一个项目", "Choose a property in the header first")


class SecureForm(FlaskForm):
    """Flask-WTF CSRF token on every Flask-Admin form (create, edit, delete, actions, ajax edits)."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            from flask_admin.babel import Translations
            return Translations()


class ScopedLoader(QueryAjaxModelLoader):
    """Search-as-you-type for foreign keys, limited to the current property."""

    def get_query(self):
        return scoping.scope(super().get_query(), self.model)

    def get_one(self, pk):
        obj = super().get_one(pk)
        return obj if obj is not None and scoping.in_scope(obj) else None


def _yes_no(view, value, name=None):
    return str(T("是", "Yes")) if value else str(T("否", "No"))


class RegisterView(ModelView):
    form_base_class = SecureForm
    column_type_formatters_detail = {**typefmt.DEFAULT_FORMATTERS, bool: _yes_no}
    column_type_formatters_export = {**typefmt.EXPORT_FORMATTERS, bool: _yes_no}
    list_template = "admin/register_list.html"
    details_template = "admin/register_details.html"
    edit_template = "admin/register_edit.html"
    can_view_details = True
    can_set_page_size = True
    page_size = 25
    page_size_options = (25, 50, 100)
    export_types = ("csv", "xlsx")
    column_display_pk = False
    named_filter_urls = False  # Chinese labels slug to '' and would collide; positions are stable
    lookups: tuple[str, ...] = ()        # relationships chosen by search-as-you-type (large tables)
    lookup_fields: dict[str, tuple[str, ...]] = {}
    search_prefix: tuple[str, ...] = ()  # indexed columns matched exactly or by prefix
    search_contains: tuple[str, ...] = ()  # short text columns matched anywhere
    search_units = True                  # a term like 3-2-1501 finds records of that unit
    create_state_field: str | None = None

    def __init__(self, model, category=None, **kw):
        self.register = model.__tablename__
        self._prepare_labels(model)
        self._prepare_form(model)
        if getattr(model, "deadlines", ()) and self.column_list and "overdue" not in self.column_list:
            self.column_list = list(self.column_list) + ["overdue"]
        searchable = list(self.search_prefix) + list(self.search_contains)
        if self.search_units and hasattr(model, "unit_id"):
            searchable.append("unit_id")
        self.column_searchable_list = searchable or None
        super().__init__(model, db.session, name=model.__label__, endpoint=self.register, category=category, **kw)
        self._add_transition_actions()

    # ---------------------------------------------------------------- declaration helpers
    def _prepare_labels(self, model):
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
        labels.update({"state": T("状态", "State"), "overdue": T("超时", "Overdue")})
        self.column_labels = {**labels, **(self.column_labels or {})}
        self.column_choices = {**choices, **(self.column_choices or {})}
        self.form_choices = {k: [(a, b) for a, b in v] for k, v in choices.items()}

    def _prepare_form(self, model):
        mapper = sa_inspect(model)
        excluded = set(SYSTEM_COLUMNS) | set(self.form_excluded_columns or ())
        args = {}
        for attr in mapper.column_attrs:
            info = attr.columns[0].info
            extra = {}
            if info.get("validators"):
                extra["validators"] = [BY_NAME[v] for v in info["validators"]]
            if info.get("description"):
                extra["description"] = info["description"]
            if extra:
                args[attr.key] = extra
        refs = {}
        for rel in mapper.relationships:
            if rel.key in excluded or rel.direction.name != "MANYTOONE":
                continue
            target = rel.mapper.class_
            if rel.key in self.lookups:
                fields = self.lookup_fields.get(rel.key) or _default_lookup_fields(target)
                refs[rel.key] = ScopedLoader(rel.key, db.session, target, fields=list(fields),
                                             page_size=20, placeholder=str(T("输入以搜索…", "Type to search…")))
            else:
                args.setdefault(rel.key, {})["query_factory"] = _scoped_factory(target)
        self.form_args = {**args, **(self.form_args or {})}
        self.form_ajax_refs = {**refs, **(self.form_ajax_refs or {})}
        # Relationships are edited through their foreign key's relationship, never raw ids.
        excluded |= {a.key for a in mapper.column_attrs if a.columns[0].foreign_keys}
        excluded |= {r.key for r in mapper.relationships if r.direction.name != "MANYTOONE"}
        self.form_excluded_columns = sorted(excluded)

    def scaffold_form(self):
        form_class = super().scaffold_form()
        form_class.row_version = HiddenField()
        return form_class

    # ---------------------------------------------------------------- permissions
    @property
    def roles(self):
        return scoping.current_roles()

    def allowed(self, operation: str) -> bool:
        if not current_user.is_authenticated:
            return False
        if operation == "create" and self._needs_property() and scoping.current_property_id() is None:
            return False
        return permissions.allowed(self.roles, self.register, operation, self.model)

    def _needs_property(self):
        return hasattr(self.model, "property_id") and self.register != "membership"

    can_create = property(lambda self: self.allowed("create"))
    can_edit = property(lambda self: self.allowed("edit"))
    can_delete = property(lambda self: self.allowed("delete"))
    can_export = property(lambda self: self.allowed("export"))

    def is_accessible(self):
        return current_user.is_authenticated and self.allowed("list")

    def is_visible(self):
        return self.is_accessible()

    def _handle_view(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        if name in SELF_CHECKED_VIEWS:
            return None
        operation = OPERATION_OF_VIEW.get(name)
        if operation is None or not self.allowed(operation):
            abort(403)
        if name in ("edit_view", "ajax_update", "delete_view"):
            return self._refuse_locked(name)
        return None

    def _refuse_locked(self, name):
        rid = request.args.get("id") if name == "edit_view" else request.form.get(
            "list_form_pk" if name == "ajax_update" else "id")
        obj = self.get_one(rid) if rid else None
        if obj is None or not self._locked(obj):
            return None
        if name == "edit_view":
            flash(str(MSG_LOCKED), "error")
            return redirect(url_for(".details_view", id=obj.id))
        abort(403)

    # ---------------------------------------------------------------- scope
    def get_query(self):
        return scoping.scope(super().get_query(), self.model)

    def get_count_query(self):
        return scoping.scope(self.session.query(func.count()).select_from(self.model), self.model)

    def get_one(self, id):
        try:
            pk = int(id)
        except (TypeError, ValueError):
            return None
        obj = self.session.get(self.model, pk)
        if obj is not None and not scoping.in_scope(obj):
            audit.record_denied(self.register, pk, "other property")
            abort(404)
        return obj

    def _filtered(self, search, filters):
        """The list's rows before sorting and paging: scope, search, filters, the overdue switch."""
        query, joins, count_joins = self.get_query(), {}, {}
        if self._search_supported and search:
            query, _, joins, _ = self._apply_search(query, None, joins, count_joins, search)
        if filters and self._filters:
            query, _, joins, _ = self._apply_filters(query, None, joins, count_joins, filters)
        if request.args.get("overdue") == "1":
            query = query.filter(overdue_clause(self.model))
        return query, joins

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True, page_size=None):
        """Stock get_list, but the count stops at LIST_COUNT_CAP (shown as 'more than N')."""
        from flask import current_app
        page = max(page or 0, 0)  # ?page=-1 is a negative OFFSET, which PostgreSQL rejects
        query, joins = self._filtered(search, filters)
        cap = current_app.config["LIST_COUNT_CAP"]
        capped = query.with_entities(self.model.id).order_by(None).limit(cap + 1).subquery()
        count = self.session.execute(select(func.count()).select_from(capped)).scalar_one()
        self._count_capped = count > cap
        from sqlalchemy.orm import joinedload
        query, joins = self._apply_sorting(query, joins, sort_column, sort_desc)
        size = page_size if page_size is not None else self.page_size
        if execute and page and size and page * size >= 500:
            # deep page: find the page's ids from the index alone, then load just those rows
            ids = self._apply_pagination(query.with_entities(self.model.id), page, page_size).subquery()
            query = query.filter(self.model.id.in_(select(ids.c.id)))
        else:
            query = self._apply_pagination(query, page, page_size)
        for j in self._auto_joins:
            query = query.options(joinedload(j))
        return min(count, cap), (query.all() if execute else query)

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Exact or prefix match on indexed columns (an index range, never LIKE), contains only on short text."""
        for term in search.split()[:5]:
            clauses = []
            for name in self.search_prefix:
                clauses.append(_prefix(getattr(self.model, name), term))
            for name in self.search_contains:
                like = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append(getattr(self.model, name).ilike(f"%{like}%", escape="\\"))
            if self.search_units and hasattr(self.model, "unit_id"):
                from models.master import Unit
                # resolved first: an IN (subquery) inside OR makes PostgreSQL scan the whole table
                units = self.session.scalars(scoping.scope(select(Unit.id).where(_prefix(Unit.code, term)), Unit)
                                             .limit(500)).all()
                if units:
                    clauses.append(self.model.unit_id.in_(units))
            if clauses:
                query = query.filter(or_(*clauses))
        return query, count_query, joins, count_joins

    def filter_arg(self, column: str, operation: type) -> str:
        """The list URL argument of a filter, e.g. flt0_12 (tests, benchmarks, links from the dashboard)."""
        for i, f in enumerate(self._filters or ()):
            if getattr(f.column, "key", None) == column and type(f) is operation:
                return f"flt0_{self.get_filter_arg(i, f)}"
        raise KeyError((column, operation))

    @staticmethod
    def _unresolved_choices(form):
        """A record id sent for a relationship that the scoped choices do not contain (a hand-made POST)."""
        out = []
        for f in form:
            if not (hasattr(f, "query_factory") or hasattr(f, "loader")) or f.data is not None:
                continue
            if any(v not in ("", "__None", None) for v in (getattr(f, "raw_data", None) or [])):
                out.append(f.name)
        return out

    def _check_foreign_keys(self, model):
        for rel in sa_inspect(type(model)).relationships:
            if rel.direction.name != "MANYTOONE" or rel.key in ("property", "created_by"):
                continue
            target = getattr(model, rel.key, None)
            if target is not None and hasattr(model, "property_id") and not scoping.in_scope(target, model.property_id):
                audit.record_denied(self.register, getattr(model, "id", None), f"foreign key {rel.key} of other property")
                return {rel.key: MSG_SCOPE}
        return None

    # ---------------------------------------------------------------- writes
    def _locked(self, model) -> bool:
        return bool(getattr(model, "is_locked", False))

    def on_form_prefill(self, form, id):
        model = self.get_one(id)
        if model is not None and hasattr(form, "row_version"):
            form.row_version.data = model.version

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if request.method == "GET" and obj is not None and hasattr(form, "row_version"):
            form.row_version.data = getattr(obj, "version", "")
        return form

    def _apply(self, form, model, is_created) -> bool:
        """populate -> property -> scope of foreign keys -> clean -> commit, or nothing at all."""
        try:
            if not is_created:
                if self._locked(model):
                    flash(str(MSG_LOCKED), "error")
                    return False
                sent = getattr(form, "row_version", None)
                if sent is not None and sent.data and str(sent.data) != str(model.version):
                    flash(str(MSG_STALE), "error")
                    return False
            unresolved = self._unresolved_choices(form)
            if unresolved:
                audit.record_denied(self.register, getattr(model, "id", None), f"foreign key outside scope: {unresolved}")
                for f in unresolved:
                    getattr(form, f).errors = list(getattr(form, f).errors) + [str(MSG_SCOPE)]
                flash(str(MSG_SCOPE), "error")
                return False
            form.populate_obj(model)
            if is_created:
                if self._needs_property():
                    pid = scoping.current_property_id()
                    if pid is None:
                        flash(str(MSG_PICK_PROPERTY), "error")
                        return False
                    model.property_id = pid
                if hasattr(model, "initial_state") and getattr(model, "state", None) in (None, ""):
                    model.state = model.initial_state
                self.session.add(model)
                if hasattr(model, "on_create"):
                    model.on_create(self.session)
            self.session.flush()  # foreign keys of relationships set by the form are filled only now
            errors = self._check_foreign_keys(model) or (model.clean() if hasattr(model, "clean") else None)
            if errors:
                for key, message in errors.items():
                    target = getattr(form, key, None)
                    if target is not None:
                        target.errors = list(target.errors) + [str(message)]
                    flash(str(message), "error")
                self.session.rollback()
                return False
            self._on_model_change(form, model, is_created)
            self.session.commit()
        except StaleDataError:
            self.session.rollback()
            flash(str(MSG_STALE), "error")
            return False
        except workflow.WorkflowError as ex:
            self.session.rollback()
            flash(str(ex.message), "error")
            return False
        except IntegrityError:
            self.session.rollback()
            flash(str(T("保存失败：与已有记录重复或缺少必填项", "Not saved: duplicates an existing record or misses a required value")), "error")
            return False
        self.after_model_change(form, model, is_created)
        return True

    def create_model(self, form):
        model = self.build_new_instance()
        return model if self._apply(form, model, True) else False

    def update_model(self, form, model):
        return self._apply(form, model, False)

    def delete_model(self, model):
        if self._locked(model):
            flash(str(MSG_LOCKED), "error")
            return False
        return super().delete_model(model)

    @expose("/ajax/update/", methods=("POST",))
    def ajax_update(self):
        """Stock inline edit answers 500 for a missing record or a refused value; here 404 and 400."""
        if not self.column_editable_list or self.get_one(request.form.get("list_form_pk")) is None:
            abort(404)
        result = super().ajax_update()
        if isinstance(result, tuple) and len(result) == 2 and result[1] == 500:
            return result[0], 400
        return result

    # ---------------------------------------------------------------- actions and transitions
    def _add_transition_actions(self):
        for name, t in getattr(self.model, "transitions", {}).items():
            if t.bulk:
                handler = _bulk_handler(self, name)
                self._actions.append((name, T(f"批量{t.label.zh}", f"{t.label.en} selected")))
                self._actions_data[name] = (handler, t.label, T(f"确定对所选记录执行“{t.label.zh}”？",
                                                                  f"{t.label.en} the selected records?"))

    action_operations: dict[str, str] = {}  # a custom list action -> the operation it needs

    def is_action_allowed(self, name):
        if name == "delete":
            return self.allowed("delete")
        if name in self.action_operations:
            return self.allowed(self.action_operations[name])
        return self.allowed(f"transition:{name}")

    @expose("/action/", methods=("POST",))
    def action_view(self):
        name = request.form.get("action", "")
        if name not in self._actions_data or not self.is_action_allowed(name):
            abort(403)
        return self.handle_action()

    @action("delete", T("删除", "Delete"), T("确定删除所选记录？", "Delete the selected records?"))
    def action_delete(self, ids):
        done, skipped = 0, []
        for obj in self._rows_for(ids):
            if self._locked(obj):
                skipped.append((obj, MSG_LOCKED))
                continue
            self.session.delete(obj)
            done += 1
        self.session.commit()
        _report(done, skipped)

    def _rows_for(self, ids):
        wanted = {int(i) for i in ids if str(i).isdigit()}
        rows = self.get_query().filter(self.model.id.in_(wanted)).all() if wanted else []
        missing = wanted - {r.id for r in rows}
        for rid in missing:
            audit.record_denied(self.register, rid, "action on a record outside scope")
        if missing:
            flash(str(T(f"{len(missing)} 条记录不存在或不属于当前项目，已忽略",
                        f"{len(missing)} records do not exist or belong to another property; ignored")), "error")
        return rows

    def fire_many(self, name, ids, comment=""):
        t = self.model.transitions[name]
        if t.state_only and not t.together_with:
            return workflow.fire_set(self.session, self.model, name, self._rows_for(ids), current_user,
                                     scoping.roles_at, comment)
        done, skipped = 0, []
        for obj in self._rows_for(ids):
            nested = self.session.begin_nested()
            try:
                workflow.fire(obj, name, current_user, scoping.roles_at(obj.property_id), self.session, comment)
                nested.commit()
                done += 1
            except workflow.WorkflowError as ex:
                nested.rollback()
                skipped.append((obj, ex.message))
        self.session.commit()
        return done, skipped

    @expose("/transition/<step>/", methods=("POST",))
    def transition_view(self, step):
        name = step
        t = self.model.transitions.get(name) if hasattr(self.model, "transitions") else None
        if t is None or not self.allowed(f"transition:{name}"):
            abort(403)
        obj = self.get_one(request.form.get("id"))
        if obj is None:
            abort(404)
        data = {}
        if t.fields:
            form_class = self.get_transition_form(t)
            form = form_class(request.form)
            if not form.validate():
                for fname, errs in form.errors.items():
                    flash(f"{self.column_labels.get(fname, fname)}: {'; '.join(map(str, errs))}", "error")
                return redirect(url_for(".details_view", id=obj.id))
            data = {f: getattr(form, f).data for f in t.fields}
        try:
            workflow.fire(obj, name, current_user, self.roles, self.session,
                          request.form.get("comment", ""), data)
            self.session.commit()
            flash(str(T(f"已{t.label.zh}", f"{t.label.en}: done")), "success")
        except workflow.WorkflowError as ex:
            self.session.rollback()
            flash(str(ex.message), "error")
        except StaleDataError:
            self.session.rollback()
            flash(str(MSG_STALE), "error")
        return redirect(_local(request.form.get("next")) or url_for(".details_view", id=obj.id))

    def get_transition_form(self, t):
        from flask_admin.contrib.sqla.form import get_form
        key = f"_tform_{t.name}"
        if not hasattr(self, key):
            form_class = get_form(self.model, self.model_form_converter(self.session, self), base_class=SecureForm,
                                  only=list(t.fields), field_args=self.form_args)
            setattr(self, key, form_class)
        return getattr(self, key)

    # ---------------------------------------------------------------- display
    def get_details_columns(self):
        """Number and state first, the record's own fields, then who/when/where."""
        cols = super().get_details_columns()
        first = [c for c in cols if c[0] in ("number", "state")]
        tail_names = ("property", "created_by", "created_at", "updated_at", "state_changed_at")
        last = sorted((c for c in cols if c[0] in tail_names), key=lambda c: tail_names.index(c[0]))
        return first + [c for c in cols if c not in first and c not in last] + last

    @pass_context
    def get_list_value(self, context, model, name):
        if name == "overdue":
            late = overdue_for(model)
            return Markup(" ".join(f'<span class="badge badge-danger">{escape(str(d.label))}</span>' for d in late))
        if name == "state" and hasattr(model, "state_label"):
            return model.state_label
        return self._masked(model, name, super().get_list_value(context, model, name))

    @pass_context
    def get_detail_value(self, context, model, name):
        if name == "state" and hasattr(model, "state_label"):
            return model.state_label
        return self._masked(model, name, super().get_detail_value(context, model, name))

    def _masked(self, model, name, value):
        col = getattr(type(model), name, None)
        info = getattr(getattr(col, "property", None), "columns", [None])[0]
        if info is not None and getattr(info, "info", {}).get("pii") and not permissions.may_see_pii(self.roles):
            return mask_id(value)
        return value

    def render(self, template, **kwargs):
        kwargs.setdefault("count_capped", getattr(self, "_count_capped", False))
        if template == self.details_template and "model" in kwargs:
            kwargs.update(self._details_extras(kwargs["model"]))
        return super().render(template, **kwargs)

    def _details_extras(self, model):
        from models.core import AuditLog, SignOff
        history = self.session.scalars(
            select(AuditLog).where(AuditLog.register == self.register, AuditLog.record_id == model.id)
            .order_by(AuditLog.id.desc()).limit(200)).all()
        signoffs, steps, forms = [], [], {}
        if hasattr(model, "transitions"):
            signoffs = self.session.scalars(select(SignOff).where(
                SignOff.register == self.register, SignOff.record_id == model.id).order_by(SignOff.id)).all()
            for t in model.transitions.values():
                if model.state in t.source and self.allowed(f"transition:{t.name}"):
                    why = workflow.refusal(model, t, current_user, self.roles, self.session)
                    steps.append((t, why))
                    if t.fields:
                        forms[t.name] = self.get_transition_form(t)(obj=model)
        late = overdue_for(model)
        return dict(history=history, signoffs=signoffs, steps=steps, step_forms=forms, late=late,
                    pii=permissions.may_see_pii(self.roles), secure_form=SecureForm())

    # ---------------------------------------------------------------- daily sheet (printable)
    daily_date_column: str | None = None
    daily_columns: tuple[str, ...] = ()

    @expose("/daily/")
    def daily_view(self):
        from datetime import date as _date, timedelta
        from app.timeutil import start_of, today
        if not self.daily_date_column:
            abort(404)
        try:
            day = _date.fromisoformat(request.args.get("date", ""))
        except ValueError:
            day = today()
        col = getattr(self.model, self.daily_date_column)
        start = start_of(day)
        rows = self.get_query().filter(col >= start, col < start + timedelta(days=1)).order_by(col).all()
        columns = [(c, self.column_labels.get(c, c)) for c in (self.daily_columns or self.column_list)]
        return self.render("admin/daily_sheet.html", rows=rows, day=day, columns=columns,
                           value=lambda obj, c: self._export_row(obj, [(c, None)])[0])

    # ---------------------------------------------------------------- export (streamed)
    @expose("/export/<export_type>/")
    def export(self, export_type):
        if export_type not in self.export_types:
            abort(404)
        view_args = self._get_list_extra_args()
        sort = self._get_column_by_idx(view_args.sort)
        query, joins = self._filtered(view_args.search, view_args.filters)
        query, _ = self._apply_sorting(query, joins, sort[0] if sort else None, view_args.sort_desc)
        columns = self._export_columns
        header = [str(c[1]) for c in columns]
        audit.record_bulk(self.session, self.register, "export", [(None, scoping.current_property_id(),
                                                                    {"filters": [None, request.query_string.decode()[:500]]})])
        self.session.commit()
        session = query.session  # the stream runs under a new scoped session: keep this request's own
        plan = self._tuple_plan([c for c, _ in columns], session)
        if plan is not None:  # plain column values: no ORM object per row
            expressions, cells = plan
            query = query.with_entities(*expressions)

        def rows():
            try:
                if plan is None:
                    for obj in query.yield_per(1000):
                        yield self._export_row(obj, columns)
                else:
                    for values in query.yield_per(2000):
                        yield [cell(values) for cell in cells]
            finally:
                # A finished or abandoned download must not leave its transaction open. The stream runs
                # under a re-pushed context whose scoped session is a new one, so end the query's own.
                session.close()

        rows = rows()
        name = f"{self.register}.{export_type}"
        if export_type == "csv":
            return Response(stream_with_context(_csv_stream(header, rows)), mimetype="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f"attachment; filename={name}"})
        return Response(stream_with_context(_xlsx_stream(header, rows, str(self.name))),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename={name}"})

    def _tuple_plan(self, names, session):
        """SQL expressions and one formatter per export column, or None when a column needs the ORM object."""
        from sqlalchemy import case, literal
        from app.deadlines import _clause
        from app.timeutil import now as _now
        mapper = sa_inspect(self.model)
        table = self.model.__table__
        expressions, cells = [], []
        for name in names:
            i = len(expressions)
            rel = mapper.relationships.get(name)
            if name in (self.column_formatters_export or {}) or name in (self.column_formatters or {}):
                return None
            if name == "overdue":
                at = _now()
                expr = literal("")
                for d in getattr(self.model, "deadlines", ()):
                    expr = expr + case((_clause(self.model, d, at), literal(str(d.label) + " ")), else_=literal(""))
                expressions.append(expr)
                cells.append(lambda v, i=i: (v[i] or "").strip())
            elif rel is not None and rel.direction.name == "MANYTOONE" and len(rel.local_columns) == 1:
                expressions.append(next(iter(rel.local_columns)))
                cells.append(_related_text(session, rel.mapper.class_, i))
            elif name in table.c:
                expressions.append(table.c[name])
                text = self._value_text(name)
                cells.append(lambda v, i=i, text=text: text(v[i]))
            else:
                return None
        return expressions, cells

    def _value_text(self, name):
        """value -> text for one column, shared by the tuple and the ORM export paths."""
        col = self.model.__table__.c.get(name)
        info = col.info if col is not None else {}
        if name == "state" and hasattr(self.model, "states"):
            states = {k: str(v) for k, v in self.model.states.items()}
            return lambda value: states.get(value, value)
        if info.get("pii") and not permissions.may_see_pii(self.roles):
            return mask_id
        if "choices" in info:
            labels = {k: str(t) for k, t in info["choices"].items()}
            return lambda value: labels.get(value, value or "")
        yes, no = str(T("是", "Yes")), str(T("否", "No"))

        def text(value):
            if isinstance(value, bool):
                return yes if value else no
            return _text(value)
        return text

    def _export_row(self, obj, columns):
        return [cell(obj) for cell in self._export_plan(tuple(c for c, _ in columns))]

    def _export_plan(self, names):
        """One small function per column, decided once per request: exports call it a million times."""
        cache = g.setdefault("export_plans", {})
        key = (self.register, names)
        if key not in cache:
            cache[key] = [self._cell(name) for name in names]
        return cache[key]

    def _cell(self, name):
        if name == "overdue":
            return lambda obj: " ".join(str(d.label) for d in overdue_for(obj))
        if name in (self.column_formatters_export or {}) or name in (self.column_formatters or {}):
            return lambda obj: _text(self.get_export_value(obj, name))
        if name in self.model.__table__.c:
            text = self._value_text(name)
            return lambda obj: text(getattr(obj, name))
        return lambda obj: _text(getattr(obj, name, None))


def _related_text(session, target, i):
    """str() of a related record, looked up once per id for the whole export (units, staff, departments)."""
    seen = {}

    def cell(v):
        key = v[i]
        if key is None:
            return ""
        if key not in seen:
            if len(seen) > 50_000:
                seen.clear()
            seen[key] = str(session.get(target, key))
        return seen[key]
    return cell


def _text(value):
    if value is None:
        return ""
    return value if isinstance(value, (int, float, Decimal)) else str(value)


def _prefix(column, term):
    """`column` starts with `term`, as a range both SQLite and PostgreSQL answer from a plain b-tree index."""
    return and_(column >= term, column < term + "\U0010ffff")


def _local(target):
    return target if target and target.startswith("/") and not target.startswith("//") else None


def _default_lookup_fields(target):
    cols = sa_inspect(target).columns
    return tuple(n for n in ("code", "number", "name", "phone") if n in cols) or ("id",)


def _scoped_factory(target):
    return lambda: db.session.scalars(scoping.scope(select(target), target).limit(500)).all()


def _bulk_handler(view, name):
    def handler(ids):
        done, skipped = view.fire_many(name, ids, request.form.get("comment", ""))
        _report(done, skipped)
    return handler


def _report(done, skipped):
    flash(str(T(f"完成 {done} 条，跳过 {len(skipped)} 条", f"Done {done}, skipped {len(skipped)}")),
          "success" if done else "warning")
    for obj, why in skipped[:50]:
        flash(f"{getattr(obj, 'number', None) or obj.id}: {why}", "warning")


def _csv_stream(header, rows):
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")  # Excel opens UTF-8 Chinese correctly only with a BOM
    writer.writerow(header)
    for i, row in enumerate(rows):
        writer.writerow(row)
        if i % 500 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _xlsx_stream(header, rows, title):
    from openpyxl import Workbook
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:30] or "sheet")
    ws.append(header)
    for row in rows:
        ws.append(row)
    with tempfile.TemporaryFile() as f:
        wb.save(f)
        f.seek(0)
        while chunk := f.read(1 << 16):
            yield chunk
