"""A register added by declaration alone: a model, its grants and steps, and a view, appended to the admin.

Imported by tests/conftest.py when FD_THROWAWAY=1 (a subprocess of tests/test_declarations.py), before the app
is made, so the generated matrix, the property sweep and the hostile-input sweep pick it up by themselves.
"""
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped

import admin_views
from app.admin import RegisterView
from kernel.clock import now
from kernel.db import db
from kernel.i18n import T
from kernel.permissions import DESK, KEEP, READ
from kernel.register import Numbered, PropertyScoped, Register, Tracked, Workflow, field, link
from kernel.workflow import transition


class ParcelLocker(Numbered, PropertyScoped, Tracked, Register, Workflow, db.Model):
    __tablename__ = "parcel_locker"
    __label__ = T("快递柜登记", "Parcel lockers")
    grants = dict(clerk=KEEP, cs_admin=KEEP, supervisor=READ)
    open_states = ("stored",)
    number_prefix = "KD"
    states = {"stored": T("已存放", "Stored"), "collected": T("已取件", "Collected")}
    initial_state = "stored"
    locked_states = ("collected",)
    unit_id: Mapped[int] = field(T("房号", "Unit"), ForeignKey("unit.id"), nullable=False, index=True)
    unit = link("Unit", T("房号", "Unit"))
    addressee: Mapped[str] = field(T("收件人", "Addressee"), String(40), nullable=False)
    stored_at: Mapped[datetime] = field(T("存放时间", "Stored at"), DateTime, default=now, nullable=False)
    collected_at: Mapped[datetime | None] = field(T("取件时间", "Collected at"), DateTime)

    @transition(source="stored", target="collected", roles=DESK, label=T("取件", "Collect"), bulk=True)
    def collect(self, ctx):
        pass


class ParcelLockerView(RegisterView):
    column_list = ("number", "state", "unit", "addressee", "stored_at")
    column_filters = ("state",)
    search_prefix = ("number",)
    lookups = ("unit",)


_views = admin_views.views
admin_views.views = lambda: _views() + [(ParcelLockerView, ParcelLocker, admin_views.DESK)]
