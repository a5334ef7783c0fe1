"""Direct tests of the kernel's mechanisms, written so that a one-line change in them fails a test (`make mutate`)."""
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import Date, DateTime, Integer, Numeric, String, select
from sqlalchemy.schema import Column
from wtforms.validators import StopValidation, ValidationError

from kernel import audit, deadlines, display, permissions, register, validators, workflow
from kernel.clock import now
from kernel.db import db
from kernel.deadlines import Deadline, DeadlineRule
from kernel.i18n import T

# the small world (tests/conftest.py) only for a test that names it: these stay fast under `make mutate`
WORLD_WHEN_NAMED = True


def field_of(value):
    return SimpleNamespace(data=value)


# ---------------------------------------------------------------- validators
@pytest.mark.parametrize("body, check", [
    # computed apart from the code: weight 2^(17-i) mod 11, check (12 - sum mod 11) mod 11, 10 -> X
    ("11010519491231002", "X"), ("44030419900101001", "1"), ("00000000000000000", "1"),
    ("12345678901234567", "7"), ("11010119900307803", "X"),
])
def test_check_character_pinned(body, check):
    assert validators.check_character(body) == check
    assert validators.id_number_ok(body + check)
    assert validators.id_number_ok(body + check.lower())


@pytest.mark.parametrize("value", ["", None, "1101051949123100", "11010519491231002XX", "1101051949123100Y",
                                   "11010519491231002Y", "A1010519491231002X", "110105194912310021"])
def test_id_number_refused(value):
    assert not validators.id_number_ok(value)


def test_masks_pinned():
    assert validators.mask_id("110105194912310029") == "110***********0029"
    assert validators.mask_id("12345678") == "123*5678"
    assert validators.mask_id("1234567") == "1234567"
    assert validators.mask_id("12") == "1212"
    assert validators.mask_id("") == "" and validators.mask_id(None) == ""
    assert validators.last_four("110105194912310029") == "**************0029"
    assert validators.last_four("1234") == "1234"
    assert validators.last_four("12") == "12"
    assert validators.last_four("") == "" and validators.last_four(None) == ""


def test_form_validators_raise_chinese_messages():
    with pytest.raises(ValidationError, match="身份证号码无效"):
        validators.id_number(None, field_of("110105194912310021"))
    validators.id_number(None, field_of(" 11010519491231002x "))
    validators.id_number(None, field_of(""))
    with pytest.raises(ValidationError, match="手机号码应为11位"):
        validators.mobile(None, field_of("12800138000"))
    validators.mobile(None, field_of(" 13800138000 "))
    validators.mobile(None, field_of(None))
    with pytest.raises(ValidationError, match="电话应为手机号或固定电话"):
        validators.phone(None, field_of("12345"))
    for ok in ("0755-88886666", "075588886666", "88886666", "010-62345678-123", " 19912345678 ", "", None):
        validators.phone(None, field_of(ok))
    for bad in ("0755-08886666", "138001380001", "1380013800", "0755-88886666-12345"):
        with pytest.raises(ValidationError):
            validators.phone(None, field_of(bad))
    for empty in (None, "", "   "):
        with pytest.raises(ValidationError, match="必填"):
            validators.required(None, field_of(empty))
    validators.required(None, field_of("x"))
    validators.required(None, field_of(0))
    with pytest.raises(ValidationError, match="不能为负数"):
        validators.non_negative(None, field_of(Decimal("-0.01")))
    validators.non_negative(None, field_of(0))
    validators.non_negative(None, field_of(None))
    with pytest.raises(ValidationError, match="必须大于零"):
        validators.positive(None, field_of(0))
    with pytest.raises(ValidationError):
        validators.positive(None, field_of(-1))
    validators.positive(None, field_of(Decimal("0.01")))
    validators.positive(None, field_of(None))
    assert set(validators.BY_NAME) == {"id_number", "mobile", "phone", "required", "email", "non_negative", "positive"}
    assert validators.BY_NAME["phone"] is validators.phone and validators.BY_NAME["mobile"] is validators.mobile


def test_business_day_bounds():
    assert validators.business_day("2026-11-28") == date(2026, 11, 28)
    assert validators.business_day(" 2000-01-01 ") == date(2000, 1, 1)
    assert validators.business_day("2100-12-31") == date(2100, 12, 31)
    assert validators.business_day("1999-12-31") is None
    assert validators.business_day("2101-01-01") is None
    assert validators.business_day("0026-01-01") is None
    assert validators.business_day("2026-13-01") is None
    assert validators.business_day(None) is None and validators.business_day("") is None


def test_bounds_for_columns():
    w = validators.bounds_for(Column("n", Integer))
    assert (w.low, w.high) == (-(2**31), 2**31 - 1)
    w = validators.bounds_for(Column("n", Integer, info={"bounds": (0, 10)}))
    assert (w.low, w.high) == (0, 10)
    w = validators.bounds_for(Column("n", Integer, info={"bounds": (-(2**40), 2**40)}))
    assert (w.low, w.high) == (-(2**31), 2**31 - 1)
    w = validators.bounds_for(Column("m", Numeric(10, 2)))
    assert (w.low, w.high) == (Decimal("-99999999.99"), Decimal("99999999.99"))
    w = validators.bounds_for(Column("m", Numeric(5)))
    assert (w.low, w.high) == (Decimal("-99999"), Decimal("99999"))
    w = validators.bounds_for(Column("m", Numeric(10, 2), info={"bounds": (0, 100)}))
    assert (w.low, w.high) == (0, 100)
    assert validators.bounds_for(Column("m", Numeric())) is None
    w = validators.bounds_for(Column("d", Date))
    assert (w.low, w.high) == (date(2000, 1, 1), date(2100, 12, 31))
    w = validators.bounds_for(Column("d", DateTime))
    assert (w.low, w.high) == (date(2000, 1, 1), date(2100, 12, 31))
    assert validators.bounds_for(Column("s", String(5))) is None
    assert validators.bounds_for(Column("n", Integer, info={"bounds": (0, 10)})).message == T(
        "应在 0 至 10 之间", "Must be between 0 and 10")


def test_within_checks_both_ends_and_stops_nan():
    w = validators.Within(0, 10, T("范围", "range"))
    for ok in (None, "", 0, 10, 5):
        w(None, field_of(ok))
    for bad in (-1, 11):
        with pytest.raises(StopValidation, match="范围"):
            w(None, field_of(bad))
    with pytest.raises(StopValidation, match="有效的数字"):
        w(None, field_of(Decimal("NaN")))
    with pytest.raises(StopValidation, match="有效的数字"):
        w(None, field_of(Decimal("Infinity")))
    d = validators.Within(date(2000, 1, 1), date(2100, 12, 31), T("日期", "date"))
    d(None, field_of(datetime(2100, 12, 31, 23, 59)))
    d(None, field_of(date(2000, 1, 1)))
    with pytest.raises(StopValidation):
        d(None, field_of(datetime(2101, 1, 1, 0, 0)))
    with pytest.raises(StopValidation):
        d(None, field_of(date(1999, 12, 31)))
    validators.Within(None, 5, T("x", "x"))(None, field_of(-100))
    validators.Within(5, None, T("x", "x"))(None, field_of(100))


# ---------------------------------------------------------------- deadlines (pure parts)
@pytest.mark.parametrize("minutes, same_day, expected", [
    (2880, False, (2, "days")), (1440, False, (1, "days")), (120, False, (2, "hours")), (60, False, (1, "hours")),
    (90, False, (90, "minutes")), (15, False, (15, "minutes")), (0, False, (0, "minutes")),
    (0, True, (0, "same_day")), (120, True, (2, "hours")), (1500, False, (25, "hours")),
])
def test_split_and_join_minutes(minutes, same_day, expected):
    assert deadlines.split_minutes(minutes, same_day) == expected
    assert deadlines.join_minutes(*expected) == minutes


def test_split_minutes_is_not_same_day_by_default():
    assert deadlines.split_minutes(0) == (0, "minutes")


def test_describe_minutes():
    assert deadlines.describe_minutes(None) == ""
    assert deadlines.describe_minutes(2880) == "2 天"
    assert deadlines.describe_minutes(15) == "15 分钟"
    assert deadlines.describe_minutes(180) == "3 小时"
    assert deadlines.describe_minutes(0, True) == "当天内"
    assert deadlines.describe_minutes(120, True) == "当天内 + 2 小时"
    assert deadlines.join_minutes(3, "same_day") == 0


def test_shift_never_raises():
    assert deadlines._shift(datetime(9999, 12, 31), timedelta(days=2)) == datetime.max
    assert deadlines._shift(datetime(1, 1, 1), timedelta(days=-2)) == datetime.min
    assert deadlines._shift(datetime(2026, 1, 1), timedelta(minutes=5)) == datetime(2026, 1, 1, 0, 5)


def test_open_states_of():
    class M:
        states = {"a": 1, "b": 2, "void": 3}

    class N:
        states = {"a": 1}

    d = Deadline("x", T("x", "x"), "s", "d")
    assert deadlines.open_states_of(M, d) == ("a", "b")
    assert deadlines.open_states_of(N, d) is None
    assert deadlines.open_states_of(object, d) is None
    own = Deadline("x", T("x", "x"), "s", "d", open_states=("a", "void"))
    assert deadlines.open_states_of(N, own) == ("a",)


def test_declared_finds_the_declaration():
    d = deadlines.declared("repair.dispatch")
    assert d is not None and d.code == "repair.dispatch" and d.minutes == 3
    assert deadlines.declared("no.such") is None


def test_due_at_and_minutes_from_the_rule(app, world):
    with app.app_context():
        d = deadlines.declared("repair.dispatch")
        assert deadlines.minutes_for(d) == 3
        rule = db.session.scalar(select(DeadlineRule).where(DeadlineRule.code == "repair.dispatch"))
        rule.minutes = 7
        db.session.commit()
        assert deadlines.minutes_for(d) == 7
        assert deadlines.due_at(d, None) is None
        assert deadlines.due_at(d, datetime(2026, 11, 28, 9, 0)) == datetime(2026, 11, 28, 9, 7)
        same = deadlines.declared("repair.callback")
        assert deadlines.due_at(same, datetime(2026, 11, 28, 23, 59, 59)) == datetime(2026, 11, 29, 0, 0)
        unknown = Deadline("not.in.table", T("x", "x"), "s", "d", minutes=11)
        assert deadlines.minutes_for(unknown) == 11
        assert str(db.session.get(DeadlineRule, rule.id)) == rule.name


def test_minutes_are_cached_per_request(app, world):
    with app.test_request_context("/"):
        d = deadlines.declared("repair.dispatch")
        assert deadlines.minutes_for(d) == 3
        db.session.execute(DeadlineRule.__table__.update().values(minutes=9))
        db.session.commit()
        assert deadlines.minutes_for(d) == 3  # one read per request
    with app.test_request_context("/"):
        assert deadlines.minutes_for(d) == 9


# ---------------------------------------------------------------- permissions
def test_allowed_grants_and_steps():
    assert permissions.allowed(["clerk"], "repair_order", "create")
    assert permissions.allowed(("guard", "clerk"), "repair_order", "edit")
    assert not permissions.allowed(["guard"], "repair_order", "create")
    assert not permissions.allowed([], "repair_order", "list")
    assert not permissions.allowed(["clerk"], "no_such_register", "list")
    assert permissions.allowed(["clerk"], "repair_order", "transition:dispatch")
    assert not permissions.allowed(["engineering"], "repair_order", "transition:dispatch")
    assert not permissions.allowed(["clerk"], "repair_order", "transition:close")
    assert permissions.allowed(["supervisor"], "repair_order", "transition:close")
    assert not permissions.allowed(["clerk"], "repair_order", "transition:no_such_step")
    assert not permissions.allowed(["clerk"], "no_such_register", "transition:dispatch")
    assert permissions.grants()["repair_order"]["clerk"] == frozenset(permissions.KEEP)
    assert permissions.ALL == ("list", "details", "create", "edit", "export", "delete")


def test_pii_rules():
    assert permissions.may_see_pii(["it", "regional", "manager"]) is False
    assert permissions.may_search_pii(["clerk"]) and permissions.may_search_pii(["guard", "cs_admin"])
    assert not permissions.may_search_pii(["supervisor", "manager", "guard"])
    assert permissions.needs_confirmation("manager") and permissions.needs_confirmation("it")
    assert permissions.needs_confirmation("clerk")  # reads residents' personal data
    assert "resident" in permissions._PERSONAL
    assert permissions.reads_personal_data("clerk")
    assert not permissions.reads_personal_data("nobody")


# ---------------------------------------------------------------- audit helpers
def test_plain_and_kept():
    assert audit.plain(datetime(2026, 1, 2, 3, 4)) == "2026-01-02T03:04:00"
    assert audit.plain(date(2026, 1, 2)) == "2026-01-02"
    assert audit.plain(time(3, 4)) == "03:04:00"
    assert audit.plain(Decimal("1.50")) == "1.50"
    assert audit.plain(3) == 3 and audit.plain(True) is True and audit.plain(None) is None and audit.plain("x") == "x"
    assert audit.plain(1.5) == 1.5
    assert audit.plain(T("中", "en")) == "中"
    secret = Column("p", String, info={"secret": True})
    pii = Column("i", String, info={"pii": True})
    plain_col = Column("c", String)
    assert audit.kept(secret, "pbkdf2:sha256$abc") == "***"
    assert audit.kept(pii, "110105194912310029") == "110***********0029"
    assert audit.kept(pii, None) is None and audit.kept(pii, "") == ""
    assert audit.kept(plain_col, Decimal("2.0")) == "2.0"


def test_record_bulk_and_acting(app, world):
    with app.app_context():
        with audit.acting("transition:x"):
            assert audit._action.get() == "transition:x"
        assert audit._action.get() is None
        audit.record_bulk(db.session, "repair_order", "transition:close", [(5, world.a, {"state": ("a", "b")}),
                                                                             (6, world.b, {})])
        audit.record_bulk(db.session, "repair_order", "nothing", [])
        rows = db.session.scalars(select(audit.AuditLog).where(audit.AuditLog.register == "repair_order")
                                  .order_by(audit.AuditLog.record_id)).all()
        assert [(r.record_id, r.property_id, r.action, r.changes) for r in rows] == [
            (5, world.a, "transition:close", {"state": ["a", "b"]}), (6, world.b, "transition:close", None)]
        assert all(r.user_id is None and r.address is None and r.at is not None for r in rows)
        db.session.rollback()


def test_record_denied_keeps_reason_path_and_id(app, world):
    with app.test_request_context("/admin/x/", environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        audit.record_denied("resident", "12", "other property", property_id=world.b)
        audit.record_denied("resident", "abc", "tampered")
        audit.record_denied("resident", "12345678901", "too long")
        audit.write_denied()
        rows = db.session.scalars(select(audit.AuditLog).where(audit.AuditLog.action == "denied")
                                  .order_by(audit.AuditLog.id)).all()
        assert [r.record_id for r in rows] == [12, None, None]
        assert rows[0].property_id == world.b and rows[1].property_id is None
        assert rows[0].changes == {"reason": [None, "other property"], "path": [None, "/admin/x/"]}
        assert rows[0].address == "10.1.2.3" and rows[0].register == "resident"
        assert audit.write_denied("resp") == "resp"


# ---------------------------------------------------------------- display
def test_text_of():
    assert display.text_of(None) == ""
    assert display.text_of(True) == "是" and display.text_of(False) == "否"
    assert display.text_of(datetime(2026, 11, 28, 9, 5, 7)) == "2026-11-28 09:05"
    assert display.text_of(date(2026, 11, 28)) == "2026-11-28"
    assert display.text_of(time(9, 5, 7)) == "09:05"
    assert display.text_of(Decimal("1E+2")) == "100"
    assert display.text_of(0) == "0" and display.text_of("x") == "x"
    # local times by isoformat where that writes the same text as strftime; other times by strftime
    for moment in (datetime(2000, 1, 1), datetime(2026, 12, 31, 23, 59, 59, 999999), datetime(9999, 12, 31, 23, 59),
                   datetime(999, 1, 2, 3, 4), datetime(2026, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))):
        assert display.text_of(moment) == moment.strftime("%Y-%m-%d %H:%M"), moment


def test_display_of_a_register(app, world):
    from models.desk import RepairOrder
    from models.master import Resident
    with app.app_context():
        show = display.Display(RepairOrder, {"clerk"}, db.session)
        assert show.value("state")("registered") == "已登记"
        assert show.value("state")(None) == "" and show.value("state")("odd") == "odd"
        assert show.value("urgent")(True) == "是"
        assert show.value("source")("phone") != "phone" and show.value("source")(None) == ""
        assert show.value("source")("zz") == "zz"
        assert show.value("unit_id")(world.units[("A", "3-2-1501")]) == "3-2-1501"
        assert show.value("unit_id")(None) == "" and show.value("unit_id")(999999) == "#999999"
        assert show.linked(type(db.session.get(Resident, world.residents[("A", "owner")]).unit),
                           world.units[("A", "1-1-101")]) == "1-1-101"
        assert show.value("state") is show.value("state")  # chosen once
        assert str(show.label("contact")) == "联系人" and str(show.label("state")) == "状态"
        assert str(show.label("unit")) == "房号" and str(show.label("nope")) == "nope"
        assert show.cell("id")(5) == 5 and show.cell("urgent")(True) == "是"
        assert show.cell("received_at")(datetime(2026, 1, 1)) == datetime(2026, 1, 1)
        assert show.cell("unit_id")(world.units[("A", "3-2-1501")]) == "3-2-1501"
        assert show.stored("received_at", "2026-11-28T09:05:00") == "2026-11-28 09:05"
        assert show.stored("received_at", "garbage") == "garbage"
        assert show.stored("contact", None) == "—" and show.stored("contact", "") == "—"
        assert show.stored("contact", "***") == "***"
        assert show.diff("create", {"id": [None, 1], "contact": [None, "王"]}) == [("联系人", "—", "王")]
        assert show.diff("update", {"id": [1, 2]}) == [("id", "1", "2")]
        assert show.diff("update", {"contact": "王"}) == [("联系人", "—", "王")]
        assert show.diff("denied", {"reason": [None, "other property: x"], "path": [None, "/a"]}) == [
            ("原因", "—", "记录属于其他项目"), ("地址", "—", "/a")]
        assert show.diff("update", None) == []
        res = display.Display(Resident, {"clerk"}, db.session)
        assert res.masks("id_number") and not res.masks("name") and not res.masks("nope")
        assert res.value("id_number")("110105194912310029") == "110***********0029"
        assert res.value("id_number")(None) == ""
        r = db.session.get(Resident, world.residents[("A", "owner")])
        assert res.last_four(r, "id_number").endswith(r.id_number[-4:]) and res.last_four(r, "id_number")[0] == "*"
        assert res.attr(r, "name") == "业主A"
        assert display.denied_reason(None) == "—" and display.denied_reason("odd") == "odd"
        assert display.denied_reason("foreign key outside scope x") == "表单选择了其他项目的关联记录"
        assert display.action_label(RepairOrder, "transition:dispatch") == "派工"
        assert display.action_label(RepairOrder, "transition:gone") == "transition:gone"
        assert display.action_label(None, "delete") == "删除" and display.action_label(None, "zz") == "zz"
        assert display.register_label("repair_order") == "报修单" and display.register_label("zz") == "zz"


# ---------------------------------------------------------------- workflow (pure)
def test_transition_labels_and_state_only():
    def empty(self, ctx):
        pass

    def busy(self, ctx):
        self.x = 1

    t = workflow.Transition("t", ("a",), "b", ("clerk",), T("派工", "Dispatch"), empty)
    assert t.done_label == T("已派工", "Dispatch: done") and not t.system and t.state_only
    assert workflow.Transition("t", ("a",), "b", (), T("已通知", "N"), empty).done_label.zh == "已通知"
    assert workflow.Transition("t", ("a",), "b", (), T("x", "x"), empty).system
    done = workflow.Transition("t", ("a",), "b", ("c",), T("x", "x"), empty, done=T("好", "ok"))
    assert done.done_label == T("好", "ok")
    assert not workflow.Transition("t", ("a",), "b", ("c",), T("x", "x"), busy).state_only
    assert not workflow.Transition("t", ("a",), "b", ("c",), T("x", "x"), empty, fields=("f",)).state_only
    assert not workflow.Transition("t", ("a",), "b", ("c",), T("x", "x"), empty, comment_required=True).state_only

    @workflow.transition(source="a", target="b", roles=["clerk"], label=T("x", "x"), bulk=True)
    def step(self, ctx):
        pass
    assert step._transition.source == ("a",) and step._transition.roles == ("clerk",) and step._transition.bulk
    assert step._transition.name == "step"

    @workflow.transition(source=["a", "b"], target=None, roles=(), label=T("x", "x"))
    def other(self, ctx):
        pass
    assert other._transition.source == ("a", "b") and other._transition.target is None
    err = workflow.WorkflowError(T("没有", "none"))
    assert str(err) == "没有" and err.message == T("没有", "none")


# ---------------------------------------------------------------- register declarations, called directly
def test_field_link_and_row_rules():
    from kernel import register
    col = register.field(T("名", "Name"), String(5), nullable=False, pii=True, choices={"a": T("甲", "A")},
                         validators=["mobile"], secret=True, bounds=(0, 1), info={"extra": 1})
    info = col.column.info
    assert info["label"] == T("名", "Name") and info["pii"] is True and info["extra"] == 1
    assert info["validators"] == ["mobile"] and info["secret"] and info["bounds"] == (0, 1) and "a" in info["choices"]
    assert col.column.nullable is False and isinstance(col.column.type, String)
    assert set(register.FIELD_HINTS) >= {"pii", "choices", "validators", "secret", "bounds", "blind_index_of"}
    rel = register.link("Unit", T("房号", "Unit"), lazy="joined")
    assert rel.argument == "Unit" and rel.info == {"label": T("房号", "Unit")} and rel.lazy == "joined"
    from models.desk import RepairOrder
    assert str(register.own("created_by_id")(RepairOrder, 7).compile(compile_kwargs={"literal_binds": True})) \
        == "repair_order.created_by_id = 7"
    clause = register.in_states("a", "b")(RepairOrder, 7).compile(compile_kwargs={"literal_binds": True})
    assert str(clause) == "repair_order.state IN ('a', 'b')"
    assert register.where(lambda m: m.urgent)(RepairOrder, 7) is RepairOrder.urgent


def test_collect_transitions_and_registry():
    from kernel import register

    class Base:
        @workflow.transition(source="a", target="b", roles=("clerk",), label=T("一", "one"))
        def one(self, ctx):
            pass

    class Child(Base):
        @workflow.transition(source="b", target="c", roles=("clerk",), label=T("二", "two"))
        def one(self, ctx):  # overrides the base's step of the same name
            pass

        @workflow.transition(source="c", target="d", roles=("clerk",), label=T("三", "three"))
        def three(self, ctx):
            pass

        def plain(self):
            pass

    found = register.collect_transitions(Child)
    assert set(found) == {"one", "three"} and found["one"].source == ("b",)
    assert register.model_for("repair_order").__tablename__ == "repair_order"
    assert register.model_for("zz") is None
    regs = register.registers()
    regs.pop("repair_order")
    assert "repair_order" in register.registers()  # a copy
    from models.master import Resident
    assert register.pii_columns(Resident) == ["id_number"]
    assert register.blind_indexes(Resident) == {"id_number": next(
        c.key for c in Resident.__table__.columns if c.info.get("blind_index_of"))}
    from models.desk import RepairOrder
    r = RepairOrder(number="A-BX-1")
    assert str(r) == "A-BX-1"
    assert str(RepairOrder(id=4)) == "报修单 #4"
    assert r.is_locked is False and RepairOrder(state="closed").is_locked
    assert RepairOrder(state="closed").is_final and not RepairOrder(state="visited").is_final
    assert RepairOrder(state="registered").state_label == "已登记" and RepairOrder(state="zz").state_label == "zz"


def test_declare_records_rows_steps_and_personal():
    try:
        permissions.declare("zz_test", {"clerk": ["list", "details"]})
        assert permissions.grants()["zz_test"] == {"clerk": frozenset({"list", "details"})}
        assert permissions.allowed(["clerk"], "zz_test", "details")
        step = workflow.Transition("go", ("a",), "b", ("guard",), T("x", "x"), lambda s, c: None)
        permissions.declare_steps("zz_test", {"go": step})
        assert permissions.allowed(["guard"], "zz_test", "transition:go")
        assert not permissions.allowed(["clerk"], "zz_test", "transition:go")
        permissions.declare_personal("zz_test")
        assert "zz_test" in permissions._PERSONAL
        assert permissions.reads_personal_data("clerk")
        permissions.declare("zz_test", {"guard": ["list"]})
        assert permissions.reads_personal_data("guard") and permissions.needs_confirmation("guard")
        permissions.declare("zz_test", {"guard": ["export"]})
        assert not permissions.reads_personal_data("guard")
    finally:
        permissions._GRANTS.pop("zz_test", None)
        permissions._TRANSITIONS.pop("zz_test", None)
        permissions._PERSONAL.discard("zz_test")
    assert not permissions.needs_confirmation("guard")


# ---------------------------------------------------------------- both languages of every message, exactly
MESSAGES = [  # (validator, bad value, Chinese, English)
    (validators.email, "isp@@example.com", "电子邮箱格式不正确（例如 isp@example.com），只填一个地址",
     "Invalid e-mail address (e.g. isp@example.com); one address only"),
    (validators.id_number, "110105194912310021", "身份证号码无效（18位，校验位不符）",
     "Invalid ID number (18 characters, check digit)"),
    (validators.mobile, "1380013800", "手机号码应为11位，以13-19开头", "A mobile number has 11 digits starting 13-19"),
    (validators.phone, "12345", "电话应为手机号或固定电话（如 0755-88886666）",
     "Enter a mobile or landline number (e.g. 0755-88886666)"),
    (validators.required, " ", "必填", "Required"),
    (validators.non_negative, -1, "不能为负数", "Must not be negative"),
    (validators.positive, 0, "必须大于零", "Must be greater than zero"),
    (validators.Within(0, 1, T("超出范围", "Out of range")), 2, "超出范围", "Out of range"),
    (validators.Within(0, 1, T("x", "x")), Decimal("NaN"), "请输入有效的数字", "Enter a valid number"),
]


@pytest.mark.parametrize("check, bad, zh, en", MESSAGES, ids=[f"{i}-{m[3][:12]}" for i, m in enumerate(MESSAGES)])
def test_messages_in_both_languages(app, check, bad, zh, en):
    from flask import session
    for lang, text in (("zh_Hans_CN", zh), ("en", en)):
        with app.test_request_context("/"):
            session["lang"] = lang
            with pytest.raises((ValidationError, StopValidation)) as caught:
                check(None, field_of(bad))
            assert str(caught.value) == text


def test_register_reads_as_number_name_or_code():
    from models.desk import RepairOrder
    from models.master import Department, Unit
    assert str(Department(name="工程部", id=3)) == "工程部"
    assert str(Unit(code="1-1-101", id=3)) == "1-1-101"
    assert str(RepairOrder(number="", id=9)) == "报修单 #9"
    assert str(RepairOrder()) == "报修单 #None"  # not yet saved


def test_does_nothing_reads_the_bytecode():
    def empty(self, ctx):
        pass

    def doc_only(self, ctx):
        """Only a docstring."""

    def returns(self, ctx):
        return 1

    def calls(self, ctx):
        print()

    assert workflow._does_nothing(empty) and workflow._does_nothing(doc_only)
    assert not workflow._does_nothing(returns) and not workflow._does_nothing(calls)
    assert workflow._does_nothing(workflow._void) and workflow._does_nothing(workflow._void_own)


def test_same_day_before_any_step(app, world):
    from models.desk import RepairOrder
    from tests.factories import make
    with app.app_context():
        o = make(RepairOrder, world.a)
        assert workflow.same_day_before_any_step(o) is None
        o.created_at = o.created_at - timedelta(days=1)
        assert "只能作废当天录入的记录" in workflow.same_day_before_any_step(o).zh
        o.created_at = None
        assert "只能作废当天录入的记录" in workflow.same_day_before_any_step(o).zh
        o.created_at = now()
        db.session.add(workflow.SignOff(register="repair_order", record_id=o.id, transition="x", from_state="a",
                                        to_state="b", user_id=world.users["clerk"], role="clerk"))
        db.session.flush()
        assert "已办理过步骤" in workflow.same_day_before_any_step(o).zh
        db.session.add(workflow.SignOff(register="complaint", record_id=o.id + 1, transition="x", from_state="a",
                                        to_state="b", user_id=world.users["clerk"], role="clerk"))
        other = make(RepairOrder, world.a)
        assert workflow.same_day_before_any_step(other) is None
        assert workflow.same_day_before_any_step(RepairOrder(created_at=now())) is None  # not in a session
        db.session.rollback()


def test_about_self_and_column_label():
    from models import StaffUser
    from models.desk import RepairOrder
    u = SimpleNamespace(id=5)
    assert workflow.about_self(StaffUser(id=5), u) and not workflow.about_self(StaffUser(id=6), u)
    assert not workflow.about_self(RepairOrder(created_by_id=5), u)
    assert workflow.column_label(RepairOrder, "contact") == T("联系人", "Contact")
    assert workflow.column_label(RepairOrder, "nope") == T("nope", "nope")


@pytest.mark.parametrize("ops, reads", [(["details"], True), (["reveal"], True), (["list"], True),
                                        (["export", "create"], False)])
def test_each_reading_operation_counts_as_reading_personal_data(ops, reads):
    try:
        permissions.declare_personal("zz_only_personal")  # a personal register with no row at all: no error
        assert not permissions.reads_personal_data("guard")
        permissions.declare("zz_personal", {"guard": ops})
        permissions.declare_personal("zz_personal")
        assert permissions.reads_personal_data("guard") is reads
    finally:
        permissions._GRANTS.pop("zz_personal", None)
        permissions._PERSONAL.discard("zz_personal")
        permissions._PERSONAL.discard("zz_only_personal")


def test_display_edges(app, world):
    from flask import session

    from models.desk import SOURCE, RepairOrder
    from models.duty import Roster
    from models.master import Resident, Shift, Unit
    with app.app_context():
        show = display.Display(RepairOrder, {"clerk"})  # no session: a linked id stays a number, as text
        assert show.cell("unit_id")(5) == "5"
        unit = db.session.get(Unit, world.units[("A", "1-1-101")])
        assert show.cell("unit")(unit) == "1-1-101" and show.cell("unit")(None) == ""
        assert show.value("source")("phone") == str(SOURCE["phone"])
        assert show.attr(RepairOrder(state="registered"), "state") == "已登记"
        assert show.stored("nope", "x") == "x"
        assert show.diff("update", {"state": ["registered", "dispatched"]}) == [("状态", "已登记", "已派工")]
        assert show.diff("update", {"path": ["a", "b"]}) == [("path", "a", "b")]
        assert show.diff("denied", {"path": [None, None]}) == [("地址", "—", "—")]
        assert show.diff("update", {"source": ["phone", None]}) == [("来源", str(SOURCE["phone"]), "—")]
        assert str(display.Display(Unit, set()).label("state")) == "状态"
        assert display.Display(Roster, set()).stored("month", "2027-01-01") == "2027-01-01"
        assert display.Display(Roster, set()).stored("due_at", "2027-01-01T08:30:00") == "2027-01-01 08:30"
        assert display.Display(Shift, set()).stored("starts_at", "09:05:00") == "09:05"
        res = display.Display(Resident, set())
        assert res.stored("id_number", "***") == "***"
        assert res.last_four(SimpleNamespace(), "id_number") == ""
        assert res.pii is False
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert str(display.Display(Unit, set()).label("state")) == "State"
        assert display.Display(Unit, set()).label("odd").en == "odd"


def test_transition_decorator_keeps_what_it_is_given():
    @workflow.transition(source="a", target="b", roles=("clerk",), label=T("派", "D"), fields=("f",))
    def go(self, ctx):
        pass
    t = go._transition
    assert (t.source, t.target, t.label, t.method, t.fields) == (("a",), "b", T("派", "D"), go, ("f",))


def test_field_without_info_gets_its_own():
    from kernel import register
    one, two = register.field(T("甲", "A"), String(3)), register.field(T("乙", "B"), String(3))
    assert one.column.info == {"label": T("甲", "A")} and two.column.info == {"label": T("乙", "B")}


def test_late_params_are_each_deadlines_latest_start_now_or_at_a_given_time(app, world, monkeypatch):
    from models.desk import RepairOrder
    from models.master import Unit
    at = datetime(2026, 11, 28, 10, 0, 0)
    with app.app_context():
        params = deadlines.late_params(RepairOrder, at)
        assert list(params) == [deadlines.late_param(RepairOrder, i) for i in range(len(RepairOrder.deadlines))]
        assert params == {deadlines.late_param(RepairOrder, i): deadlines.late_before(d, at)
                          for i, d in enumerate(RepairOrder.deadlines)}
        assert all(v < at for v in params.values())  # each a start time before now
        assert deadlines.late_params(Unit, at) == {}
        monkeypatch.setattr(deadlines, "now", lambda: at)  # without a time: the server clock
        assert deadlines.late_params(RepairOrder) == params


def test_a_document_reads_as_its_declared_label(app):
    from models.desk import RepairOrder
    from models.master import Unit
    with app.app_context():
        show = display.Display(RepairOrder, set())
        assert show.document_label("repair_sheet") == "维修单"
        assert show.document_label(None) == "—" and show.document_label("odd") == "odd"
        assert display.Display(Unit, set()).document_label("repair_sheet") == "repair_sheet"


def test_typed_columns_keep_numbers_dates_and_times_and_text_columns_do_not(app):
    from models.desk import RepairOrder
    from models.duty import Roster
    from models.master import Payment, Shift
    with app.app_context():
        show = display.Display(RepairOrder, set())
        assert show.typed("received_at") is datetime and show.typed("id") is int
        for name in ("unit_id", "state", "urgent", "source", "contact", "nope"):
            assert show.typed(name) is None, name
        assert display.Display(Payment, set()).typed("amount") is Decimal
        assert display.Display(Roster, set()).typed("month") is date
        assert display.Display(Shift, set()).typed("starts_at") is time


def test_preload_reads_linked_records_once_per_batch_and_unknown_keys_read_as_numbers(app, world, monkeypatch):
    from sqlalchemy import event

    from models.desk import RepairOrder
    a, b = world.units[("A", "1-1-101")], world.units[("A", "3-2-1501")]
    with app.app_context():
        statements = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            show = display.Display(RepairOrder, {"clerk"}, db.session)
            show.preload("unit_id", [a, b, None, 999999, "x"])
            assert len(statements) == 1
            assert show.value("unit_id")(a) == "1-1-101" and show.value("unit_id")(b) == "3-2-1501"
            assert show.value("unit_id")(999999) == "#999999"
            assert len(statements) == 1  # the cells read what the batch read
            show.preload("unit_id", [a, b])  # nothing new: no query
            show.preload("contact", ["王"])  # not a link: no query
            show.preload("unit_id", [None, "x"])  # nothing to look up
            assert len(statements) == 1
            monkeypatch.setattr(display, "LINKED_KEPT", 1)  # past the bound: forget, then read the batch
            fresh = display.Display(RepairOrder, {"clerk"}, db.session)
            fresh.preload("unit_id", [a])
            fresh.preload("unit_id", [b])
            assert fresh.value("unit_id")(b) == "3-2-1501" and len(statements) == 3
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)


def test_the_daily_summary_dates_a_register_by_its_own_day(app):
    from models.desk import RepairOrder
    from models.duty import DutyLog
    from models.master import Unit
    from models.permits import GoodsPass
    with app.app_context():
        assert register.summary_date_of(DutyLog) == "logged_at"  # declared
        assert register.summary_date_of(RepairOrder) == "received_at"  # the server clock's field
        assert register.summary_date_of(GoodsPass) == "created_at"  # voided, never deleted: made at the desk
        assert register.summary_date_of(Unit) is None  # master data is not the day's work


def test_email_addresses_one_plain_address_only():
    for ok in ("isp@example.com", " isp@example.com ", "a.b-c+d@mail.example.cn",
               "a" * 188 + "@example.com"):
        assert validators.email_ok(ok), ok
    for bad in ("", None, "isp", "isp@", "@example.com", "a b@example.com", "Name <isp@example.com>",
                "a@example.com,b@example.com", "a@example", "a@example.com\nBcc: x@y.z", "a" * 189 + "@example.com"):
        assert not validators.email_ok(bad), bad
    validators.email(None, field_of(None))
    validators.email(None, field_of(""))
    validators.email(None, field_of("isp@example.com"))
    with pytest.raises(ValidationError, match="电子邮箱格式不正确"):
        validators.email(None, field_of("isp@@example.com"))


def test_a_phone_in_a_log_line_shows_its_last_four_digits_only():
    assert validators.mask_phone("13812345678") == "*******5678"
    assert validators.mask_phone("12345") == "*2345" and validators.mask_phone("1234") == "1234"
    assert validators.mask_phone("123") == "123"
    assert validators.mask_phone("") == "" and validators.mask_phone(None) == ""


def test_history_of_files_imports_and_prints_reads_as_labels(app):
    from models.desk import RepairOrder
    with app.app_context():
        show = display.Display(RepairOrder, {"clerk"}, db.session)
        assert show.diff("attach", {"kind": [None, "repair_sheet"], "file": [None, "a.jpg"], "sha256": "ab",
                                    "attachment": [None, 7], "size": [None, None], "contact": [None, "王"]}) == [
            ("资料", "—", "维修单"), ("文件", "—", "a.jpg"), ("校验值", "—", "ab"), ("附件编号", "—", "7"),
            ("尺寸", "—", "—"), ("联系人", "—", "王")]
        assert show.diff("detach", {"file": ["a.jpg", None], "reason": [None, "拍错了"], "kind": ["odd", None]}) == [
            ("文件", "a.jpg", "—"), ("原因", "—", "拍错了"), ("资料", "odd", "—")]
        assert show.diff("update", {"file": ["a", "b"]}) == [("file", "a", "b")]  # only a file's own acts
        assert show.diff("detach", {"reason": ["", None]}) == [("原因", "—", "—")]  # only `kind` is a document
        assert show.diff("import_file", {"file": "x.xlsx", "new": 0, "changed": [None, 3], "unchanged": None,
                                         "contact": "王"}) == [
            ("文件", "—", "x.xlsx"), ("新增", "—", "0"), ("修改", "—", "3"), ("不变", "—", "—"), ("联系人", "—", "王")]
        assert show.diff("import", {"new": 1}) == [("new", "—", "1")]
        assert show.diff("print", {"copy": 0, "size": [None, "A5"], "contact": "王"}) == [
            ("第几次打印", "—", "0"), ("纸张", "—", "A5"), ("联系人", "—", "王")]
        assert show.diff("print", {"copy": None}) == [("第几次打印", "—", "—")]
        assert show.diff("update", {"copy": [1, 2]}) == [("copy", "1", "2")]
        assert show.diff("denied", {"path": [None, "/a"], "contact": "王"}) == [("地址", "—", "/a"),
                                                                                  ("联系人", "—", "王")]


def test_cells_and_linked_records_at_their_edges(app, world, monkeypatch):
    from sqlalchemy import event

    from models.desk import RepairOrder
    from models.master import Unit
    a, b, c = (world.units[("A", code)] for code in ("1-1-101", "1-1-201", "3-2-1501"))
    with app.app_context():
        show = display.Display(RepairOrder, {"clerk"}, db.session)
        assert show.cell("id")(None) == "" and show.cell("contact")("王") == "王"  # an empty number is an empty cell
        assert show.attr(SimpleNamespace(), "contact") == ""  # a record without the field reads empty
        assert show.value("unit_id")(db.session.get(Unit, a)) == "1-1-101"  # the record itself, not its key
        assert show.value("urgent")(False) == "否" and show.value("urgent")(None) == ""
        assert display.Display(Unit, set()).value("state")("x") == "x"  # a register without states
        from models.duty import Roster
        assignments = display.Display(Roster, set()).value("assignments")  # a collection, one after another
        assert assignments(["甲", "乙"]) == "甲、乙" and assignments(None) == "" and assignments([]) == ""
        statements = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            monkeypatch.setattr(display, "LINKED_KEPT", 2)  # two kept: a and b stay, c makes room by forgetting
            show = display.Display(RepairOrder, {"clerk"}, db.session)
            show.preload("unit_id", [a])
            show.preload("unit_id", [b])
            assert show.value("unit_id")(a) == "1-1-101" and len(statements) == 2  # a still kept at the bound
            show.preload("unit_id", [c])
            assert len(statements) == 3 and show.value("unit_id")(c) == "3-2-1501"
            assert show.value("unit_id")(a) == "1-1-101" and len(statements) == 4  # a was forgotten: read again
            one = display.Display(RepairOrder, {"clerk"}, db.session).value("unit_id")  # one at a time, same bound
            one(a), one(b), one(c)
            assert len(statements) == 7
            assert one(a) == "1-1-101" and len(statements) == 7  # three kept: the bound is passed, not reached
            assert one("x") == "#x" and len(statements) == 7  # not a key: nothing asked
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)


def test_labels_of_steps_and_registers_at_their_edges(monkeypatch):
    from models.desk import RepairOrder
    assert display.action_label(RepairOrder, "transition:dispatch:x") == "transition:dispatch:x"  # no such step
    assert display.action_label(RepairOrder, "transition:x:dispatch") == "transition:x:dispatch"
    assert not permissions.allowed({"clerk"}, "repair_order", "transition:x:dispatch")  # the whole name is the step
    assert not permissions.allowed({"clerk"}, "repair_order", "transition:dispatch:x")
    assert permissions.allowed({"clerk"}, "repair_order", "transition:dispatch")
    assert display.register_label("repair_order:documents") == "报修单（附件）"
    assert display.register_label("zz:documents") == "zz（附件）"
    assert display.register_label("x:y:documents") == "x:y:documents"  # only a register's own name before it
    monkeypatch.setattr(display, "model_for", lambda name: object)  # a model without a label reads as its name
    assert display.register_label("odd") == "odd"


def test_a_record_without_number_name_or_code_reads_as_its_register_and_id():
    from models.desk import RepairOrder
    show = register.Register.__str__
    label = RepairOrder.__label__
    assert show(SimpleNamespace(number=None, name="甲", code="c", __label__=label)) == "甲"
    assert show(SimpleNamespace(number=None, name="", code="c", __label__=label)) == "c"
    assert show(SimpleNamespace(number=None, __label__=label, id=5)) == f"{label} #5"
    assert show(SimpleNamespace(__label__=label)) == f"{label} #"  # not saved yet: no id


def test_a_kept_statement_scopes_by_its_property_parameter(app, world):
    from sqlalchemy import bindparam

    from kernel import scoping
    from models.desk import RepairOrder
    from tests.factories import make
    with app.test_request_context("/"):
        from flask import g
        mine = make(RepairOrder, world.a)
        other = make(RepairOrder, world.b)
        g.property_id = world.b  # a property is chosen in the request: the parameter stands for it
        kept = scoping.scope(select(RepairOrder.id), RepairOrder, bindparam("fd_pid"))
        ids = set(db.session.scalars(kept, {"fd_pid": world.a}))
        assert mine.id in ids and other.id not in ids
        db.session.rollback()
