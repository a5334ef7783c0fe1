"""Home: what waits for me, what is overdue, computed from the same declarations the registers use."""
from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from sqlalchemy import and_, func, or_, select

from app import scoping
from app.deadlines import overdue_clause
from app.extensions import db


def pending_for_me(view):
    """Records waiting for a sign-off step one of my roles may take (not on what I created myself)."""
    model, roles = view.model, scoping.current_roles()
    clauses = []
    for t in getattr(model, "transitions", {}).values():
        if not t.sign_off or not set(roles) & set(t.roles):
            continue
        clauses.append(and_(model.state.in_(t.source),
                            or_(model.created_by_id.is_(None), model.created_by_id != current_user.id)))
    if not clauses:
        return 0
    return db.session.scalar(scoping.scope(select(func.count()).select_from(model).where(or_(*clauses)), model))


def overdue_count(view):
    model = view.model
    if not getattr(model, "deadlines", ()):
        return 0
    return db.session.scalar(scoping.scope(select(func.count()).select_from(model).where(overdue_clause(model)), model))


class Dashboard(AdminIndexView):
    def _handle_view(self, name, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        return None

    @expose("/")
    def index(self):
        rows = []
        for view in self.admin._views:
            if not hasattr(view, "allowed") or not hasattr(view, "model") or not view.allowed("list"):
                continue
            pending, late = pending_for_me(view), overdue_count(view)
            if pending or late:
                rows.append(dict(view=view, pending=pending, overdue=late,
                                 url=url_for(f"{view.endpoint}.index_view"),
                                 overdue_url=url_for(f"{view.endpoint}.index_view", overdue=1)
                                 if late else None))
        panels = [p(self) for p in PANELS]
        return self.render("admin/dashboard.html", rows=rows, panels=[p for p in panels if p])


def verify_panel(dashboard):
    """Every role, the guard above all: type or scan a pass number."""
    from markupsafe import Markup, escape
    from app.i18n import T
    return dict(title=T("通行证核验", "Verify a pass"), body=Markup(
        f'<form method="get" action="{url_for("verify.index")}" class="form-inline">'
        f'<input name="number" class="form-control mr-2" placeholder="{escape(str(T("输入或扫描编号", "Type or scan the number")))}">'
        f'<button class="btn btn-primary">{escape(str(T("核验", "Check")))}</button></form>'))


# Registers of the duty and desk modules add small panels (handover state, roster deadline, spot checks).
PANELS: list = [verify_panel]
