"""Home: my work queue: what waits for me, what is overdue, computed from the same declarations the registers use.

Per register, two counts (待我办理 = the list's `?mine=1`, 超时 = its `?overdue=1`, each a link to exactly the rows
it counts), then the records themselves, overdue and oldest first, each one click from its step; above them the
新建 buttons of the registers I enter most; on the guard's phone the pass check comes first.

A screen adds a panel by declaring `dashboard_panels = (function,)`; the function gets the dashboard and
returns a dict(title=..., body=Markup) or None.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import url_for
from flask_admin import AdminIndexView, expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import func, literal, select, union_all

from app.admin.access import login_redirect
from kernel import scoping
from kernel.clock import now
from kernel.db import db
from kernel.deadlines import overdue_clause
from kernel.i18n import T

NEW = T("新建", "New ")


QUEUE_ROWS = 30       # the home page's queue: the oldest and overdue first
QUICK_CREATE = 5      # 新建 buttons: the registers I entered most in the last 30 days, then in menu order
QUICK_DAYS = 30


def pending_for_me(view: Any) -> tuple[int, Any]:
    """Records waiting for a step of mine now (app/admin/queue.py): the rows of the list's `?mine=1`, and the
    clause that finds them (built once: the queue below lists the same rows)."""
    if not view.has_queue():  # nothing of this register ever waits for my roles: no query
        return 0, None
    clause = view.mine_clause()
    return view.capped_count(clause), clause


def overdue_count(view: Any) -> int:
    """Records late on a deadline: the rows of the list's `?overdue=1`."""
    if not getattr(view.model, "deadlines", ()):
        return 0
    return view.capped_count(overdue_clause(view.model))


def quick_create(views: list) -> list:
    """The registers I may create in, those I entered most in the last 30 days first (one SQL query)."""
    views = [v for v in views if v.allowed("create")]
    tracked = [v for v in views if hasattr(v.model, "created_by_id") and hasattr(v.model, "created_at")]
    counts: dict[str, int] = {}
    if tracked:
        since = now() - timedelta(days=QUICK_DAYS)
        parts = [scoping.scope(select(literal(v.register).label("register"), func.count().label("n"))
                               .select_from(v.model).where(v.model.created_by_id == current_user.id,
                                                           v.model.created_at >= since), v.model)
                 for v in tracked]
        counts = dict(db.session.execute(union_all(*parts)).all())
    order = {v.register: i for i, v in enumerate(views)}
    ranked = sorted(views, key=lambda v: (-counts.get(v.register, 0), order[v.register]))[:QUICK_CREATE]
    return [dict(view=v, url=url_for(f"{v.endpoint}.create_view"), label=T(f"新建{v.name.zh}", f"New {v.name.en}")
                 if isinstance(v.name, T) else f"{NEW}{v.name}") for v in ranked]


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
        rows, queue = [], []
        registers = self.registers()
        for view in registers:
            (pending, mine), late = pending_for_me(view), overdue_count(view)
            if pending or late:
                url = url_for(f"{view.endpoint}.index_view")
                rows.append(dict(view=view, pending=pending, overdue=late, url=url,
                                 pending_url=url_for(f"{view.endpoint}.index_view", mine=1) if pending else None,
                                 overdue_url=url_for(f"{view.endpoint}.index_view", overdue=1) if late else None))
            if pending:
                queue += view.queue_rows(QUEUE_ROWS, mine=mine)
        queue.sort(key=lambda r: (not r["overdue"], r["since"] is None, r["since"] or 0, r["number"]))
        guard_first = "guard" in scoping.current_roles()
        panels = [] if guard_first else [verify_panel(self)]
        for view in self.admin._views:
            panels += [p(self) for p in getattr(view, "dashboard_panels", ())]
        return self.render("admin/dashboard.html", rows=rows, queue=queue[:QUEUE_ROWS],
                           quick=quick_create(registers), verify_first=verify_panel(self) if guard_first else None,
                           panels=[p for p in panels if p])
