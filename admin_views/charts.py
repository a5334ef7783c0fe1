"""图表: the supervisor's, manager's and regional manager's charts (app/admin/charts.py draws them from SQL)."""
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import select

from app.admin import SignedInPage
from app.admin.charts import draw_all
from kernel import permissions, scoping
from kernel.db import db
from kernel.identity import Property
from kernel.permissions import VIEW


class ChartsView(SignedInPage, BaseView):
    """At one property its charts; at "all properties" (the regional manager) the same side by side per property.

    Totals only, never records (like the overview)."""

    register = "charts"
    grants = dict(supervisor=VIEW, manager=VIEW, regional=VIEW)
    permissions.declare(register, grants)

    def properties(self) -> list[int]:
        pid = scoping.current_property_id()
        ids = scoping.user_property_ids() if pid is None else [pid]
        return [p for p in ids if permissions.allowed(scoping.roles_at(p), self.register, "list")]

    def is_accessible(self):
        return current_user.is_authenticated and bool(self.properties())

    @expose("/")
    def index(self):
        props = db.session.execute(select(Property.id, Property.name).where(Property.id.in_(self.properties()))
                                   .order_by(Property.id)).all()
        return self.render("admin/charts.html", props=props, charts=draw_all([tuple(p) for p in props]))
