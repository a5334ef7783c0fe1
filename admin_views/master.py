"""Company and property master data: declared registers, no logic of their own beyond forms."""
from flask import abort, flash, g, request
from flask_admin.actions import action
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_
from wtforms import IntegerField, PasswordField, SelectField
from wtforms.validators import Length, NumberRange, Optional

from app.admin import RegisterView, report
from kernel import audit, permissions, scoping
from kernel.deadlines import UNITS, declared, describe_minutes, join_minutes, split_minutes
from kernel.display import ACTIONS, Display, action_label, register_label
from kernel.i18n import T
from kernel.identity import Membership, MembershipGrant, Property, Role, end_sessions, hash_password, pending_clause
from kernel.register import model_for, registers
from kernel.workflow import WorkflowError


class PropertyView(RegisterView):
    column_list = ("code", "name", "address", "service_phone")
    search_contains = ("name",)


class RoleView(RegisterView):
    column_list = ("code", "name", "company_wide")


class StaffUserView(RegisterView):
    """IT's one duty: accounts. Create with an initial password the user must change, edit, deactivate, reset a
    password (ends the user's sessions), change roles; never its own account; a role that needs four eyes waits
    for a manager of that property (membership_grant)."""

    column_list = ("username", "full_name", "phone", "active", "must_change_password", "created_at")
    column_details_list = ("username", "full_name", "phone", "active", "must_change_password", "memberships",
                           "created_at")
    form_excluded_columns = ("password_hash", "session_generation", "must_change_password")
    form_columns = ("username", "full_name", "phone", "active", "new_password", "memberships")
    search_prefix = ("username",)
    search_contains = ("full_name",)
    form_extra_fields = {"new_password": PasswordField(
        T("初始/重置密码(用户首次登录须修改)", "Initial / reset password (the user changes it at login)"),
        validators=[Optional(), Length(min=8, max=128)])}

    def __init__(self, model, **kw):
        labels = {"property": T("项目", "Property"), "role": T("角色", "Role")}
        self.inline_models = [(Membership, dict(form_columns=["id", "property", "role"], column_labels=labels))]
        super().__init__(model, **kw)

    action_operations = {"end_sessions": "edit"}

    def get_query(self):
        """The accounts of the current property, and those waiting for their first role there or anywhere."""
        query = self.session.query(self.model)
        pid = scoping.current_property_id()
        if pid is None:
            return query
        return query.filter(or_(self.model.scope_clause(pid), self.model.unassigned_clause(), pending_clause(pid)))

    def get_one(self, id):
        if not str(id).isdigit() or len(str(id)) > 18:
            return None
        obj = self.session.get(self.model, int(id))
        if obj is not None and self.get_query().filter(self.model.id == obj.id).first() is None:
            audit.record_denied(self.register, obj.id, "other property",
                                obj.memberships[0].property_id if obj.memberships else None)
            abort(404)
        return obj

    def before_save(self, form, model, is_created):
        """Before the first write: the password's hash (NOT NULL), sessions ended, four-eyes grants held."""
        if form.new_password.data:
            model.password_hash = hash_password(form.new_password.data)
            model.must_change_password = True  # IT knows it: the user must choose their own at the next login
            if not is_created:
                end_sessions(model)
        elif is_created:
            raise WorkflowError(T("新账号必须设置初始密码（至少8位）",
                                  "A new account needs an initial password (8+ characters)"))
        active = sa_inspect(model).attrs.active.history
        if not is_created and active.deleted and active.deleted[0] and not model.active:
            end_sessions(model)  # deactivated: every open session ends now
        held = self.hold_for_confirmation(model)
        if held:
            flash(str(T(f"以下角色须经该项目经理确认后生效：{'、'.join(held)}",
                        f"These roles take effect once a manager of the property confirms: {', '.join(held)}")), "info")

    def hold_for_confirmation(self, model) -> list[str]:
        """New or changed memberships of a role that needs four eyes become pending grants instead."""
        held = []
        for m in list(model.memberships):
            state = sa_inspect(m)
            changed = state.transient or state.pending or any(
                state.attrs[k].history.has_changes() for k in ("role", "property", "role_id", "property_id"))
            role = m.role or (self.session.get(Role, m.role_id) if m.role_id else None)
            prop = m.property or (self.session.get(Property, m.property_id) if m.property_id else None)
            if not changed or role is None or prop is None or not permissions.needs_confirmation(role.code):
                continue
            model.memberships.remove(m)
            self.session.add(MembershipGrant(property_id=prop.id, user=model, role_id=role.id,
                                             note=str(T(f"由 {current_user.full_name} 申请",
                                                        f"Asked by {current_user.full_name}"))))
            held.append(f"{prop.name}·{role.name}")
        return held

    @action("end_sessions", T("强制下线（结束全部会话）", "Log out everywhere"),
            T("确定结束所选账号在所有浏览器上的会话？", "End every session of the selected accounts?"))
    def action_end_sessions(self, ids):
        rows = self.rows_for(ids)
        for user in rows:
            end_sessions(user)
        self.session.commit()
        report(len(rows), [])


class MembershipGrantView(RegisterView):
    column_list = ("user", "property", "role", "state", "created_by", "created_at", "note")
    column_filters = ("state",)
    column_default_sort = ("id", True)


def _same_day(rule):
    d = declared(rule.code)
    return bool(d and d.same_day)


class DeadlineRuleView(RegisterView):
    """IT types a deadline as an amount and a unit (minutes, hours, days, same day); minutes are stored."""

    column_list = ("name", "minutes", "note", "code")
    column_labels = {"minutes": T("时限", "Deadline"), "code": T("代码", "Code")}
    form_columns = ("name", "amount", "unit", "note")
    form_extra_fields = {
        "amount": IntegerField(T("时限", "Deadline"), validators=[Optional(), NumberRange(min=0, max=366 * 24 * 60)],
                               description=T("选“当天内”时不用填写", "Leave empty for “same day”")),
        "unit": SelectField(T("单位", "Unit"), choices=[(k, v[0]) for k, v in UNITS.items()], default="hours"),
    }
    column_formatters = {"minutes": lambda v, c, m, n: describe_minutes(m.minutes, _same_day(m))}
    column_formatters_detail = column_formatters

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if request.method == "GET" and obj is not None:
            form.amount.data, form.unit.data = split_minutes(obj.minutes, _same_day(obj))
        return form

    def on_model_change(self, form, model, is_created):
        unit, amount = form.unit.data, form.amount.data
        if unit == "same_day" and not _same_day(model):
            raise WorkflowError(_l("该时限按时长计算（如 3 分钟、2 天），不能设为“当天内”"))
        if unit != "same_day" and amount is None:
            raise WorkflowError(_l("请填写时限"))
        minutes = join_minutes(amount or 0, unit)
        if minutes > 366 * 24 * 60:
            raise WorkflowError(_l("时限不能超过366天"))
        model.minutes = minutes


class RetentionRuleView(RegisterView):
    column_list = ("register", "name", "days", "note")
    column_formatters = {"register": lambda v, c, m, n: register_label(m.register)}
    form_columns = ("name", "days", "note")


class ShiftView(RegisterView):
    column_list = ("code", "name", "starts_at", "ends_at", "active")


class FeeItemView(RegisterView):
    column_list = ("name", "unit_of_charge", "amount", "effective_from", "effective_to", "code")
    column_filters = ("name", "effective_from")
    search_prefix = ("code",)
    search_contains = ("name",)


class UnitView(RegisterView):
    column_list = ("code", "building", "entrance", "room", "floor_area", "status", "active")
    column_editable_list = ("status",)
    column_filters = ("building", "status")
    search_prefix = ("code",)

    def on_model_change(self, form, model, is_created):
        model.code = f"{model.building}-{model.entrance}-{model.room}".strip()
    form_excluded_columns = ("code",)


class ResidentView(RegisterView):
    column_list = ("name", "state", "kind", "unit", "phone", "id_number", "move_in_date", "owner_authorisation")
    column_filters = ("state", "kind", "owner_authorisation", "move_in_date")
    search_prefix = ("phone",)  # an ID number: exact full number only, the desk only (app/admin/personal.py)
    search_contains = ("name",)
    lookups = ("unit",)
    column_sortable_list = ("name", "kind", "move_in_date")


class DepartmentView(RegisterView):
    column_list = ("name", "kind", "contact", "phone", "active")
    column_filters = ("kind",)


class PaymentView(RegisterView):
    column_list = ("number", "state", "receipt_no", "kind", "payer", "unit", "fee_item", "quantity", "amount",
                   "paid_at", "created_by")
    column_filters = ("state", "kind", "paid_at", "receipt_no")
    form_excluded_columns = ("linked_register", "linked_id")
    search_prefix = ("receipt_no", "number")
    search_contains = ("payer",)
    lookups = ("unit",)


class ReceiptView(RegisterView):
    """Finance enters the receipts it wrote; a pass or an extension picks an unused one and marks it used."""

    column_list = ("receipt_no", "state", "amount", "payer", "unit", "purpose", "issued_on", "consumed_number",
                   "consumed_at", "created_by")
    column_labels = {"created_by": T("开据财务", "Issued by (finance)")}
    column_details_list = (
        "receipt_no",
        "state",
        "amount",
        "payer",
        "unit",
        "purpose",
        "issued_on",
        "consumed_register",
        "consumed_number",
        "consumed_at",
        "created_by",
        "created_at",
    )
    column_filters = ("state", "purpose", "issued_on")
    form_excluded_columns = ("consumed_register", "consumed_id", "consumed_number", "consumed_at")
    search_prefix = ("receipt_no",)
    search_contains = ("payer",)
    lookups = ("unit",)


class FeePaymentView(RegisterView):
    """物业管理费收缴: the desk enters unit, months, method and its receipt; the server prices it."""

    column_list = ("number", "state", "unit", "payer", "period_from", "period_to", "months", "amount", "method",
                   "receipt_no", "created_by", "created_at")
    column_filters = ("state", "method", "period_from", "created_at")
    form_columns = ("unit", "payer", "period_from", "months", "method", "receipt_no")
    search_prefix = ("number", "receipt_no")
    search_contains = ("payer",)
    lookups = ("unit",)


def _changes(view, row, html):
    """old → new per field, through the register's own Display (labels, state names, linked records, masking)."""
    target = model_for(row.register)
    parts = []
    if target is not None and hasattr(target, "__table__"):
        show = view.displays.setdefault(row.register, Display(target, view.roles, view.session))
        parts = [f"{label}: {old} → {new}" for label, old, new in show.diff(row.action, row.changes)]
    else:
        parts = [f"{k}: {a} → {b}" for k, (a, b) in (row.changes or {}).items()]
    return Markup("<br>").join(escape(p) for p in parts) if html else "; ".join(parts)


def _record(view, row):
    """The record an audit row is about, by its number or name (a deleted record keeps its id)."""
    target = model_for(row.register)
    if row.record_id is None:
        return ""
    if target is None or not hasattr(target, "__table__"):
        return f"#{row.record_id}"
    show = view.displays.setdefault(row.register, Display(target, view.roles, view.session))
    return show.linked(target, row.record_id)


def _readable_registers():
    roles = scoping.current_roles()
    return sorted(name for name in set(registers()) | set(permissions.grants())
                  if permissions.allowed(roles, name, "details") or permissions.allowed(roles, name, "list"))


def _register_options():
    return sorted(((name, register_label(name)) for name in _readable_registers()), key=lambda o: o[1])


def _action_options():
    """What was done, by its label: create/update/... and every declared step (one entry per step name)."""
    steps: dict[str, list[str]] = {}
    for name in _readable_registers():
        model = model_for(name)
        for t in getattr(model, "transitions", {}).values():
            label = str(t.label)
            if label not in steps.setdefault(f"transition:{t.name}", []):
                steps[f"transition:{t.name}"].append(label)
    return [(code, str(label)) for code, label in ACTIONS.items()] + sorted(
        ((code, " / ".join(labels)) for code, labels in steps.items()), key=lambda o: o[1])


class AuditLogView(RegisterView):
    """Each row only for a role that may read that register at that property (issue: no side doors)."""

    column_list = ("at", "user", "register", "record_id", "action", "changes", "address")
    column_formatters = {"changes": lambda v, c, m, n: _changes(v, m, html=True),
                         "record_id": lambda v, c, m, n: _record(v, m),
                         "register": lambda v, c, m, n: register_label(m.register),
                         "action": lambda v, c, m, n: action_label(model_for(m.register), m.action)}
    column_formatters_export = {"changes": lambda v, c, m, n: _changes(v, m, html=False),
                                "record_id": lambda v, c, m, n: _record(v, m),
                                "register": lambda v, c, m, n: register_label(m.register),
                                "action": lambda v, c, m, n: action_label(model_for(m.register), m.action)}
    column_filters = ("at", "register", "action", "record_id", "user")
    column_default_sort = ("id", True)
    search_prefix = ("register", "action")
    filter_choices = {"register": _register_options, "action": _action_options}

    @property
    def displays(self):
        return g.setdefault("audit_displays", {})

    def readable_registers(self):
        return _readable_registers()

    def get_query(self):
        model = self.model
        return super().get_query().filter(model.register.in_(self.readable_registers()))
