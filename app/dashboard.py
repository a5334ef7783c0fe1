"""Home: what waits for me, what is overdue, computed from the same declarations the registers use.

A screen adds a panel by declaring `dashboard_panels = (function,)`; the function gets the dashboard and
returns a dict(title=..., body=Markup) or None.
"""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask_admin import AdminIndexView, expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import and_, func, or_, select

from app.admin.access import login_redirect
from kernel import scoping
from kernel.db import db
from kernel.deadlines import overdue_clause


def pending_for_me(view: Any) -> int:
    """Records waiting for a sign-off step one of my roles may take (not on what I created myself)."""
    model, roles = view.model, scoping.current_roles()
    clauses = []
    for t in model.transitions.values():
        if not t.sign_off or not set(roles) & set(t.roles):
            continue
        clauses.append(and_(model.state.in_(t.source),
                            or_(model.created_by_id.is_(None), model.created_by_id != current_user.id)))
    if not clauses:
        return 0
    return db.session.scalar(scoping.scope(select(func.count()).select_from(model).where(or_(*clauses)), model))


def overdue_count(view: Any) -> int:
    model = view.model
    if not getattr(model, "deadlines", ()):
        return 0
    return db.session.scalar(scoping.scope(select(func.count()).select_from(model).where(overdue_clause(model)), model))


def verify_panel(dashboard: Any) -> dict:
    """Every role, the guard above all: type or scan a pass number."""
    placeholder, check = gettext("输入或扫描编号"), gettext("核验")
    return dict(title=_l("通行证核验"), body=Markup(
        '<form method="get" action="{}" class="form-inline"><input name="number" class="form-control mr-2" '
        'placeholder="{}"><button class="btn btn-primary">{}</button></form>').format(
            url_for("verify.index"), placeholder, check))


class Dashboard(AdminIndexView):
    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_redirect()
        return None

    def registers(self) -> list:
        return [v for v in self.admin._views if hasattr(v, "model") and hasattr(v, "allowed") and v.allowed("list")]

    @expose("/")
    def index(self) -> str:
        rows = []
        for view in self.registers():
            pending, late = pending_for_me(view), overdue_count(view)
            if pending or late:
                rows.append(dict(view=view, pending=pending, overdue=late,
                                 url=url_for(f"{view.endpoint}.index_view"),
                                 overdue_url=url_for(f"{view.endpoint}.index_view", overdue=1) if late else None))
        panels = [verify_panel(self)]
        for view in self.admin._views:
            panels += [p(self) for p in getattr(view, "dashboard_panels", ())]
        return self.render("admin/dashboard.html", rows=rows, panels=[p for p in panels if p])
