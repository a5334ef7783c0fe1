"""One of each kind of declaration mistake; making the app must refuse with every message (printed as JSON)."""
import json
import sys

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped

import admin_views
from app.admin import DailySheet, RegisterView
from app.config import TestConfig
from app.factory import create_app
from kernel.checks import ConfigurationError
from kernel.db import db
from kernel.deadlines import Deadline
from kernel.i18n import T
from kernel.permissions import KEEP
from kernel.register import (
    Importable,
    Numbered,
    PropertyScoped,
    Register,
    Retention,
    Tracked,
    Verify,
    Virtual,
    Workflow,
    field,
    link,
    own,
)
from kernel.workflow import transition


class Broken(Numbered, PropertyScoped, Tracked, Register, Workflow, db.Model):
    __tablename__ = "broken_register"
    __label__ = T("坏登记簿", "Broken")
    grants = dict(clerk=KEEP, janitor=("list",), cs_admin=("list", "approve"))
    states = {"open": T("开", "Open")}
    initial_state = "draft"
    locked_states = ("gone",)
    open_states = ("pending",)
    verify = Verify(shown=("colour",), guard_step="fly")
    unit_id: Mapped[int] = field(T("房号", "Unit"), ForeignKey("unit.id"), nullable=False)
    unit = link("Unit", T("房号", "Unit"))
    name: Mapped[str] = field(T("名称", "Name"), String(20), validators=["shouting"], info={"colour": "red"})
    deadlines = (Deadline("broken.late", T("迟", "Late"), start="begun_at", done="name", open_states=("limbo",)),)
    not_edited_by = ("subject_id",)
    edited_only_by = "author_id"
    visible_rows = dict(wizard=own("name"), guard=own("name"))
    retention = Retention(start="kept_since", days=30)
    importable = Importable(keys=(("serial",),), columns=("name", "state", "colour",
                                                         Virtual("tags", T("标签", "Tags"), tuple, str)), sample={})
    plain_id: Mapped[str] = field(T("身份证号", "ID number"), String(18), pii=True)

    @transition(source="nowhere", target="elsewhere", roles=("wizard",), label=T("走", "Go"),
                requires=("ghost",), distinct_from=("phantom",), bulk=True)
    def go(self, ctx):
        pass


class BrokenView(RegisterView):
    column_list = ("name", "colour")
    column_filters = ("unit.planet",)
    lookups = ("name",)
    search_prefix = ("serial", "plain_id")
    daily = DailySheet("begun_at", ("name",))
    action_operations = {"shred": "obliterate"}
    print_template = "print/missing.html"
    print_in_force = ("printed",)


class Voided(Numbered, PropertyScoped, Tracked, Register, Workflow, db.Model):
    __tablename__ = "voided_register"
    __label__ = T("作废无理由", "Voided")
    grants = dict(clerk=("list", "delete"), cs_admin=("list", "reveal", "import"))
    states = {"open": T("开", "Open"), "void": T("作废", "Void")}
    initial_state = "open"

    @transition(source="open", target="void", roles=("clerk",), label=T("作废", "Void"))
    def void(self, ctx):
        pass


class VoidedView(RegisterView):
    search_units = False


class Orphan(Register, db.Model):
    __tablename__ = "orphan_register"
    __label__ = T("无界面", "Orphan")
    grants = dict(clerk=("list",))
    id: Mapped[int] = field(T("编号", "Id"), primary_key=True)


class Unitless(Tracked, Register, db.Model):
    __tablename__ = "unitless_register"
    __label__ = T("无房号", "Unitless")
    grants = dict(it=("list",))
    name: Mapped[str] = field(T("名称", "Name"), String(20))


class UnitlessView(RegisterView):
    search_units = False


_views = admin_views.views
admin_views.views = lambda: _views() + [(BrokenView, Broken, admin_views.DESK),
                                        (UnitlessView, Unitless, admin_views.DESK),
                                        (VoidedView, Voided, admin_views.DESK)]
try:
    create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
except ConfigurationError as ex:
    print(json.dumps(ex.messages, ensure_ascii=False))
    sys.exit(0)
print(json.dumps([]))
sys.exit(1)
