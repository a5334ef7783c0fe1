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

from flask import current_app, url_for
from flask_admin import AdminIndexView, expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import DateTime, bindparam, func, literal, select, union_all

from app.admin import statements
from app.admin.access import login_redirect
from kernel import scoping
from kernel.clock import now
from kernel.db import db
from kernel.deadlines import late_params, overdue_clause
from kernel.i18n import T

NEW = T("新建", "New ")


QUEUE_ROWS = 30       # the home page's queue: the oldest and overdue first
QUICK_CREATE = 5      # 新建 buttons: the registers I entered most in the last 30 days, then in menu order
QUICK_DAYS = 30
QUICK_CAP = 1000      # each register's 30-day count stops past this (an index range of at most 1001 entries)


def queue_counts(views: list) -> dict[str, tuple[int, int | None]]:
    """Per register, (待我办理, 超时): the rows of the list's `?mine=1` (records waiting for a step of mine now,
    app/admin/queue.py) and of its `?overdue=1` (late on a deadline), each counted like the list counts (stops
    past the cap). One statement for all registers, kept per property and roles (app/admin/statements.py) and
    run with the user and this moment's deadlines as parameters. 超时 is None where every overdue record waits
    for me (`late_in_queue`): the queue's own statement counts those (none waiting: none overdue)."""
    cap = current_app.config["LIST_COUNT_CAP"]

    def build() -> Any:
        cols = []
        for view in counted:
            if view.has_queue():  # nothing of this register ever waits for my roles: no count
                cols.append(view.capped_select(view.mine_clause(bound=True), cap, kept=True)
                            .label(f"p_{view.register}"))
            if getattr(view.model, "deadlines", ()) and not view.late_in_queue():  # else counted with the queue
                cols.append(view.capped_select(overdue_clause(view.model, bound=True), cap, kept=True)
                            .label(f"o_{view.register}"))
        return select(*cols) if cols else None

    who = statements.who()
    counted = statements.kept(("home_counted", who, tuple(v.register for v in views)), lambda: tuple(
        v for v in views if v.has_queue() or getattr(v.model, "deadlines", ())))
    key = tuple((v.register, v.kept_where()) for v in counted)
    statement = statements.kept(("home_counts", who, cap, key), build)
    if statement is None:
        return {}
    at, params = now(), statements.params()
    for view in counted:
        params.update(late_params(view.model, at))
    row = db.session.execute(statement, params).one()._mapping
    return {v.register: (min(row.get(f"p_{v.register}", 0), cap + 1),
                         None if v.late_in_queue() else min(row.get(f"o_{v.register}", 0), cap + 1)) for v in views}


def entered_statement(tracked: list, cap: int | None) -> Any:
    """How many records of each register the user entered since `fd_since` (one UNION ALL), each count
    stopping past `cap`: kept per property and roles, who and the 30 days' start are parameters."""
    def build() -> Any:
        since = bindparam("fd_since", type_=DateTime())
        parts = []
        for v in tracked:
            rows = scoping.scope(select(v.model.id).where(v.model.created_by_id == statements.USER,
                                                          v.model.created_at >= since), v.model, statements.PROPERTY)
            if cap is not None:
                rows = rows.limit(cap + 1)
            parts.append(select(literal(v.register).label("register"), func.count().label("n"))
                         .select_from(rows.subquery()))
        return union_all(*parts)
    return statements.kept(("entered", statements.who(), cap, tuple(v.register for v in tracked)), build)


def creatable(views: list) -> tuple[list, list]:
    """The registers the roles may create in, and those of them that know who entered a record and when."""
    views = [v for v in views if v.allowed("create")]
    return views, [v for v in views if hasattr(v.model, "created_by_id") and hasattr(v.model, "created_at")]


def quick_create(views: list) -> list:
    """The registers I may create in, those I entered most in the last 30 days first (one SQL query; a second
    only when two registers pass QUICK_CAP)."""
    views, tracked = statements.kept(("home_create", statements.who(), tuple(v.register for v in views)),
                                     lambda: creatable(views))
    counts: dict[str, int] = {}
    if tracked:
        params = statements.params(fd_since=now() - timedelta(days=QUICK_DAYS))
        counts = dict(db.session.execute(entered_statement(tracked, QUICK_CAP), params).all())
        past = [v for v in tracked if counts.get(v.register, 0) > QUICK_CAP]
        if len(past) > 1:  # only their exact counts can order them (one alone is above all the others anyway)
            counts.update(db.session.execute(entered_statement(past, None), params).all())
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
        """The registers whose list the roles may open: decided by the roles and whether one property is worked in
        (statements.who(), as `allowed` is), so kept per those and this dashboard."""
        return list(statements.kept(("home_registers", self, statements.who()), lambda: tuple(
            v for v in self.admin._views if hasattr(v, "model") and hasattr(v, "allowed") and v.allowed("list"))))

    @expose("/")
    def index(self) -> str:
        rows, queue = [], []
        registers = self.registers()
        counts, cap = queue_counts(registers), current_app.config["LIST_COUNT_CAP"]
        for view in registers:
            pending, late = counts.get(view.register, (0, 0))
            if pending:
                waiting, counted = view.queue_and_late(QUEUE_ROWS)
                queue += waiting
                late = min(counted, cap + 1) if late is None else late
            late = late or 0
            if pending or late:
                url = url_for(f"{view.endpoint}.index_view")
                rows.append(dict(view=view, pending=pending, overdue=late, url=url,
                                 pending_url=url_for(f"{view.endpoint}.index_view", mine=1) if pending else None,
                                 overdue_url=url_for(f"{view.endpoint}.index_view", overdue=1) if late else None))
        queue.sort(key=lambda r: (not r["overdue"], r["since"] is None, r["since"] or 0, r["number"]))
        guard_first = "guard" in scoping.current_roles()
        panels = [] if guard_first else [verify_panel(self)]
        for view in self.admin._views:
            panels += [p(self) for p in getattr(view, "dashboard_panels", ())]
        return self.render("admin/dashboard.html", rows=rows, queue=queue[:QUEUE_ROWS],
                           quick=quick_create(registers), verify_first=verify_panel(self) if guard_first else None,
                           panels=[p for p in panels if p])
