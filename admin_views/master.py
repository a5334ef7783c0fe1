"""Company and property master data: declared registers, no logic of their own beyond forms."""
from wtforms import PasswordField
from wtforms.validators import Length, Optional

from app.admin import RegisterView
from app.i18n import T


class PropertyView(RegisterView):
    column_list = ("code", "name", "address", "service_phone")
    search_contains = ("name",)
    search_units = False


class RoleView(RegisterView):
    column_list = ("code", "name", "company_wide")


class StaffUserView(RegisterView):
    column_list = ("username", "full_name", "phone", "active", "created_at")
    column_details_list = ("username", "full_name", "phone", "active", "memberships", "created_at")
    form_excluded_columns = ("password_hash",)
    form_columns = ("username", "full_name", "phone", "active", "new_password", "memberships")
    search_prefix = ("username",)
    search_contains = ("full_name",)
    form_extra_fields = {"new_password": PasswordField(T("新密码", "New password"),
                                                       validators=[Optional(), Length(min=8, max=128)])}

    def __init__(self, model, **kw):
        from models.core import Membership
        self.inline_models = [(Membership, dict(form_columns=["id", "property", "role"],
                                                column_labels={"property": T("项目", "Property"), "role": T("角色", "Role")}))]
        super().__init__(model, **kw)

    def on_model_change(self, form, model, is_created):
        from app.auth import hash_password
        if form.new_password.data:
            model.password_hash = hash_password(form.new_password.data)
        elif is_created:
            from app.workflow import WorkflowError
            raise WorkflowError(T("新账号必须设置密码（至少8位）", "A new account needs a password (8+ characters)"))


class DeadlineRuleView(RegisterView):
    column_list = ("code", "name", "minutes", "note")
    form_columns = ("name", "minutes", "note")


class ShiftView(RegisterView):
    column_list = ("code", "name", "starts_at", "ends_at")


class FeeItemView(RegisterView):
    column_list = ("code", "name", "unit_of_charge", "amount", "effective_from", "effective_to")
    column_filters = ("code", "effective_from")
    search_prefix = ("code",)
    search_contains = ("name",)
    search_units = False


class UnitView(RegisterView):
    column_list = ("code", "building", "entrance", "room", "floor_area", "status")
    column_editable_list = ("status",)
    column_filters = ("building", "status")
    search_prefix = ("code",)
    search_units = False

    def on_model_change(self, form, model, is_created):
        model.code = f"{model.building}-{model.entrance}-{model.room}".strip()
    form_excluded_columns = ("code",)


class ResidentView(RegisterView):
    column_list = ("name", "kind", "unit", "phone", "id_number", "move_in_date", "owner_authorisation")
    column_filters = ("kind", "owner_authorisation", "move_in_date")
    search_prefix = ("phone", "id_number")
    search_contains = ("name",)
    lookups = ("unit",)
    column_sortable_list = ("name", "kind", "move_in_date")


class DepartmentView(RegisterView):
    column_list = ("name", "kind", "contact", "phone")
    column_filters = ("kind",)
    search_units = False


class PaymentView(RegisterView):
    column_list = ("number", "receipt_no", "kind", "payer", "unit", "fee_item", "quantity", "amount", "paid_at",
                   "created_by")
    column_filters = ("kind", "paid_at", "receipt_no")
    search_prefix = ("receipt_no", "number")
    search_contains = ("payer",)
    lookups = ("unit",)


def _changes(view, model, html):
    """old → new per field, with the register's labels; personal data masked for roles without access to it."""
    from markupsafe import Markup, escape
    from app import permissions
    from app.validators import mask_id
    from models.base import model_for
    target = model_for(model.register)
    columns = target.__table__.c if target is not None else {}
    pii = permissions.may_see_pii(view.roles)
    parts = []
    for key, (old, new) in (model.changes or {}).items():
        col = columns.get(key) if target is not None else None
        label = str(col.info.get("label", key)) if col is not None else key
        if col is not None and col.info.get("pii") and not pii:
            old, new = mask_id(str(old)) if old else old, mask_id(str(new)) if new else new
        parts.append(f"{label}: {'—' if old is None else old} → {'—' if new is None else new}")
    return Markup("<br>").join(escape(p) for p in parts) if html else "; ".join(parts)


class AuditLogView(RegisterView):
    column_list = ("at", "user", "register", "record_id", "action", "changes", "address")
    column_formatters = {"changes": lambda v, c, m, n: _changes(v, m, html=True)}
    column_formatters_export = {"changes": lambda v, c, m, n: _changes(v, m, html=False)}
    column_filters = ("at", "register", "action", "record_id", "user.username")
    column_default_sort = ("id", True)
    search_prefix = ("register", "action")
    search_units = False
    can_view_details = True
