"""Direct tests of workflow steps, the server clock, the audit rows of bulk and refused acts, numbering and the
property scope: each asserts what a person at the desk relies on, so a one-line change fails here (`make mutate`)."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kernel import workflow
from kernel.clock import travel
from kernel.db import db
from kernel.i18n import T

FIXED = datetime(2026, 11, 28, 10, 0, 0)


# the small world (tests/conftest.py) only for a test that names it: these stay fast under `make mutate`
WORLD_WHEN_NAMED = True


@pytest.fixture()
def frozen(monkeypatch):
    """The workflow module's clock stopped at FIXED: the exact second of "not later than now" is testable."""
    monkeypatch.setattr(workflow, "now", lambda: FIXED)
    return FIXED


# ---------------------------------------------------------------- the server clock (ServerClock)
CALLED_FUTURE = T("“来电时间”不能晚于当前时间；补录的事项请填写实际收到的（较早的）时间",
                  "“Called at” cannot be in the future; for a late entry give the earlier time")
CALLED_LOCKED = T("“来电时间”由系统记录，创建后不能修改；如确有错误，请主管办理“更正来电时间”并说明原因",
                  "“Called at” is recorded by the system; a supervisor corrects it with a reason")
FORWARDED_FUTURE = T("“转达时间”是已发生的时间，不能晚于当前时间", "“Forwarded at” cannot be in the future")


def test_server_clock_stamps_an_empty_time_and_keeps_an_earlier_one(frozen):
    from models.desk import PhoneLog
    empty = PhoneLog()
    assert empty.clock_refusal(True, {}) is None and empty.called_at == FIXED
    late_entry = PhoneLog(called_at=FIXED - timedelta(hours=10))
    assert late_entry.clock_refusal(True, {}) is None and late_entry.called_at == FIXED - timedelta(hours=10)
    this_second = PhoneLog(called_at=FIXED)
    assert this_second.clock_refusal(True, {}) is None and this_second.called_at == FIXED


def test_server_clock_refuses_a_future_time_at_creation(frozen):
    from models.desk import PhoneLog
    rec = PhoneLog(called_at=FIXED + timedelta(seconds=1))
    assert rec.clock_refusal(True, {}) == {"called_at": CALLED_FUTURE}
    assert rec.called_at == FIXED + timedelta(seconds=1)  # refused, not silently replaced


def test_server_clock_after_creation_refuses_any_change(frozen):
    from models.desk import PhoneLog
    earlier = FIXED - timedelta(hours=1)
    assert PhoneLog(called_at=earlier).clock_refusal(False, {}) is None
    assert PhoneLog(called_at=earlier).clock_refusal(False, {"content": ("a", "b")}) is None
    assert PhoneLog(called_at=earlier).clock_refusal(False, {"called_at": (FIXED, earlier)}) == {
        "called_at": CALLED_LOCKED}
    assert PhoneLog(called_at=None).clock_refusal(False, {}) is None  # not stamped after creation
    assert PhoneLog(called_at=FIXED + timedelta(days=1)).clock_refusal(False, {}) is None  # untouched: not judged


def test_times_of_what_already_happened_are_never_in_the_future(frozen):
    from models.desk import Incident, PhoneLog
    earlier = FIXED - timedelta(hours=1)
    future = FIXED + timedelta(seconds=1)
    rec = PhoneLog(called_at=earlier, forwarded_at=future)
    assert rec.clock_refusal(True, {}) == {"forwarded_at": FORWARDED_FUTURE}
    assert rec.clock_refusal(False, {"forwarded_at": (None, future)}) == {"forwarded_at": FORWARDED_FUTURE}
    assert rec.clock_refusal(False, {"content": ("a", "b")}) is None  # an old value, not edited now
    assert PhoneLog(called_at=earlier, forwarded_at=FIXED).clock_refusal(True, {}) is None
    assert PhoneLog(called_at=earlier, forwarded_at=None).clock_refusal(True, {}) is None
    # the second of two such times is checked too (an incident's 报告 and 通知)
    inc = Incident(occurred_at=earlier, reported_at=earlier, notified_at=future)
    assert list(inc.clock_refusal(True, {})) == ["notified_at"]
    assert Incident(occurred_at=earlier, reported_at=earlier, notified_at=earlier).clock_refusal(True, {}) is None


def test_a_register_without_a_server_clock_is_not_stamped():
    rec = type("Plain", (workflow.ServerClock,), {})()
    assert rec.clock_refusal(True, {}) is None and rec.clock_refusal(False, {"x": (1, 2)}) is None


def test_the_corrected_time_is_required_and_not_in_the_future(frozen):
    from models.desk import PhoneLog
    why = T("更正后的“来电时间”须填写，且不能晚于当前时间",
            "The corrected “Called at” is required and cannot be in the future")
    for bad in (None, FIXED + timedelta(seconds=1)):
        with pytest.raises(workflow.WorkflowError) as caught:
            workflow._correct_time(PhoneLog(called_at=bad), None)
        assert caught.value.message == why
    assert workflow._correct_time(PhoneLog(called_at=FIXED), None) is None
    assert workflow._correct_time(PhoneLog(called_at=FIXED - timedelta(days=2)), None) is None
    step = PhoneLog.transitions["correct_time"]
    assert (step.fields, step.requires, step.roles, step.target, step.comment_required) == (
        ("called_at",), ("called_at",), ("supervisor",), None, True)


# ---------------------------------------------------------------- audit rows of set-based and refused acts
@pytest.fixture()
def audit_clock(monkeypatch):
    from kernel import audit
    monkeypatch.setattr(audit, "now", lambda: FIXED)
    return FIXED


def audit_rows(**where):
    from kernel.audit import AuditLog
    q = select(AuditLog).order_by(AuditLog.id)
    for k, v in where.items():
        q = q.where(getattr(AuditLog, k) == v)
    return db.session.scalars(q).all()


def as_user(world, name):
    from flask_login import login_user

    from models import StaffUser
    user = db.session.get(StaffUser, world.users[name])
    login_user(user)
    return user


def test_a_bulk_act_writes_one_row_per_record_with_who_when_where_and_old_to_new(app, world, audit_clock):
    from datetime import date
    from decimal import Decimal

    from kernel import audit
    with app.test_request_context("/admin/repair_order/action/", environ_base={"REMOTE_ADDR": "10.0.0.7"}):
        admin = as_user(world, "cs_admin")
        audit.record_bulk(db.session, "repair_order", "transition:close", [
            (5, world.a, {"state": ("visited", "closed"), "due": (date(2026, 1, 2), None),
                          "fee": (Decimal("1.50"), Decimal("2"))}),
            (6, world.b, {}),
            (None, None, {"state": (None, "closed")})])
        rows = audit_rows(register="repair_order")
        assert [(r.at, r.user_id, r.address, r.register, r.record_id, r.property_id, r.action, r.changes)
                for r in rows] == [
            (FIXED, admin.id, "10.0.0.7", "repair_order", 5, world.a, "transition:close",
             {"state": ["visited", "closed"], "due": ["2026-01-02", None], "fee": ["1.50", "2"]}),
            (FIXED, admin.id, "10.0.0.7", "repair_order", 6, world.b, "transition:close", None),
            (FIXED, admin.id, "10.0.0.7", "repair_order", None, None, "transition:close", {"state": [None, "closed"]}),
        ]
        db.session.rollback()


def test_every_print_is_kept_and_counted_per_record(app, world, audit_clock):
    from kernel import audit
    from models.desk import RepairOrder
    from tests.factories import make
    with app.test_request_context("/print/", environ_base={"REMOTE_ADDR": "10.0.0.5"}):
        clerk = as_user(world, "clerk")
        one, two = make(RepairOrder, world.a), make(RepairOrder, world.b)
        assert audit.times_printed(db.session, "repair_order", one.id) == 0
        assert audit.record_print(db.session, one, "A4") == 1
        assert audit.record_print(db.session, one, "A5") == 2  # a reprint (补打) is the second copy
        assert audit.record_print(db.session, two, "A4") == 1  # counted per record
        assert audit.times_printed(db.session, "repair_order", one.id) == 2
        assert audit.times_printed(db.session, "complaint", one.id) == 0  # per register
        audit.record_bulk(db.session, "repair_order", "export", [(one.id, world.a, {})])
        assert audit.times_printed(db.session, "repair_order", one.id) == 2  # only prints count
        prints = audit_rows(action="print")
        assert [(r.register, r.record_id, r.property_id, r.user_id, r.at, r.changes) for r in prints] == [
            ("repair_order", one.id, world.a, clerk.id, FIXED, {"copy": [None, 1], "size": [None, "A4"]}),
            ("repair_order", one.id, world.a, clerk.id, FIXED, {"copy": [None, 2], "size": [None, "A5"]}),
            ("repair_order", two.id, world.b, clerk.id, FIXED, {"copy": [None, 1], "size": [None, "A4"]}),
        ]
        from models import Property
        prop = db.session.get(Property, world.a)  # a record without a property of its own
        assert audit.record_print(db.session, prop, "A4") == 1
        assert audit_rows(register="property", action="print")[0].property_id is None
        db.session.rollback()


def test_a_refusal_is_kept_with_who_when_where_and_a_readable_id(app, world, audit_clock):
    from flask import g

    from kernel import audit
    from models.master import Unit
    with app.test_request_context("/admin/resident/details/", environ_base={"REMOTE_ADDR": "10.0.0.8"}):
        clerk = as_user(world, "clerk")
        unit = db.session.get(Unit, world.units[("A", "1-1-101")])
        unit.status = "vacant"  # work the refused request had started
        db.session.flush()
        audit.record_denied("resident", "123456789", "other property", property_id=world.b)
        audit.record_denied("resident", "1234567890", "too long for an id")
        audit.record_denied("resident", 7, "a number")
        audit.record_denied("resident", "-1", "not digits")
        assert audit.write_denied("response") == "response"
        assert "audit_denied" not in g
        rows = audit_rows(action="denied")
        assert [r.record_id for r in rows] == [123456789, None, 7, None]
        assert [r.changes["reason"] for r in rows] == [[None, "other property"], [None, "too long for an id"],
                                                       [None, "a number"], [None, "not digits"]]
        first = rows[0]
        assert (first.at, first.user_id, first.address, first.register, first.property_id, first.action) == (
            FIXED, clerk.id, "10.0.0.8", "resident", world.b, "denied")
        assert first.changes == {"reason": [None, "other property"], "path": [None, "/admin/resident/details/"]}
        assert rows[1].property_id is None
        db.session.expire_all()
        assert db.session.get(Unit, unit.id).status == "occupied"  # the refused work is not written with it
        assert audit.write_denied() is None and len(audit_rows(action="denied")) == 4  # nothing twice
    with app.app_context():  # outside a request (a command): no user, no address, no path
        audit.record_denied("resident", "3", "from a command")
        audit.write_denied()
        last = audit_rows(action="denied")[-1]
        assert (last.record_id, last.user_id, last.address, last.changes["path"]) == (3, None, None, [None, None])


# ---------------------------------------------------------------- workflow: refusal() and fire() on a small register
def _card_tables():
    from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table
    return Table("zz_card", MetaData(), Column("id", Integer, primary_key=True),
                 Column("note", String(20), info={"label": T("备注内容", "Note text")}),
                 Column("confirmed", Boolean, info={"label": T("已确认", "Confirmed")}), Column("plain", String(5)))


SEEN = []  # what each step method was handed (its Context), in order


def _method(self, ctx):
    SEEN.append(ctx)


def _step(name, source, target, roles, zh, en, **kw):
    return workflow.Transition(name, tuple(source), target, tuple(roles), T(zh, en), _method, **kw)


class Card:
    """A register reduced to what refusal() and fire() read: states, steps, its creator, a person it is about."""

    __tablename__ = "zz_card"
    __table__ = _card_tables()
    states = {"new": T("新建", "New"), "checked": T("已核对", "Checked"), "done": T("完成", "Done")}
    not_edited_by = ("subject_id",)
    transitions = {t.name: t for t in (
        _step("check", ["new"], "checked", ["clerk", "supervisor"], "核对", "Check", sign_off=True),
        _step("finish", ["checked", "elsewhere"], "done", ["supervisor"], "完成", "Finish", distinct_from=("check",)),
        _step("finish_told", ["checked"], "done", ["supervisor"], "完成", "Finish", distinct_from=("check",),
              distinct_message=T("请交另一位主管", "Another supervisor, please")),
        _step("note", ["new", "checked"], None, ["clerk"], "备注", "Note", fields=("note", "confirmed"),
              requires=("note", "confirmed"), comment_required=True),
        _step("remark", ["new"], None, ["clerk"], "说明", "Remark", comment_required=True,
              comment_label=T("说明的理由", "the reason")),
        _step("mine", ["new"], "done", ["clerk"], "撤回", "Withdraw", creator_only=True),
        _step("cond", ["new"], "done", ["clerk"], "条件", "Conditioned",
              conditions=(lambda r: None, lambda r: T("不行", "No") if r.note == "x" else None,
                          lambda r: T("第三", "Third") if r.note == "x" else None)),
        _step("pair_a", ["new"], "done", ["clerk"], "甲审", "Review A", together_with=("pair_a", "pair_b")),
        _step("pair_b", ["new"], "done", ["supervisor"], "乙审", "Review B", together_with=("pair_a", "pair_b")),
        _step("auto", ["new"], "checked", [], "自动", "Automatic"),
        _step("seal", ["checked"], "done", ["supervisor"], "封存", "Seal", distinct_from=("check", "note")),
    )}

    def __init__(self, id, created_by_id=None, state="new", subject_id=None, note=None, confirmed=None):
        self.id, self.created_by_id, self.state, self.subject_id = id, created_by_id, state, subject_id
        self.note, self.confirmed, self.property_id = note, confirmed, None
        self.state_changed_at = FIXED - timedelta(hours=1)

    @property
    def state_label(self):
        return str(self.states.get(self.state, self.state))


def sign(world, card, step, username, at):
    db.session.add(workflow.SignOff(register="zz_card", record_id=card.id, transition=step, from_state="new",
                                    to_state="new", user_id=world.users[username], role="clerk", at=at))
    db.session.flush()


def person(world, name):
    from models import StaffUser
    return db.session.get(StaffUser, world.users[name])


def test_refusals_say_what_is_wrong_and_what_to_do(app, world):
    why = workflow.refusal
    with app.app_context():
        s = db.session
        clerk, sup, sup2 = person(world, "clerk"), person(world, "supervisor"), person(world, "supervisor2")
        steps = Card.transitions
        assert why(Card(1, state="new"), steps["finish"], sup, {"supervisor"}, s) == T(
            "当前状态为“新建”，只有“已核对、elsewhere”的记录才能完成",
            "“Finish” needs state 已核对、elsewhere; this record is “新建”")
        assert why(Card(1, state="odd"), steps["check"], clerk, ["clerk"], s) == T(
            "当前状态为“odd”，只有“新建”的记录才能核对", "“Check” needs state 新建; this record is “odd”")
        assert why(Card(1), steps["check"], clerk, ["guard"], s) == T(
            "您的角色不能核对，请交由有权限的同事办理", "Your role may not “Check”; ask a colleague who may")
        assert why(Card(1), steps["check"], clerk, [], s) == T(
            "您的角色不能核对，请交由有权限的同事办理", "Your role may not “Check”; ask a colleague who may")
        assert why(Card(1), steps["check"], clerk, iter(["guard", "clerk"]), s) is None  # any one role that may
        # a system step is never a person's, whatever they hold; the system takes it
        refused = why(Card(1), steps["auto"], sup, {"supervisor", "clerk"}, s)
        assert refused.zh == "您的角色不能自动，请交由有权限的同事办理"
        assert why(Card(1), steps["auto"], sup, set(), s, system=True) is None
        assert why(Card(1), steps["check"], sup, set(), s, system=True) is None
        # a record about the person: a colleague handles it, even with every role; the system may
        about = Card(1, subject_id=sup.id)
        assert why(about, steps["check"], sup, {"supervisor"}, s) == T(
            "这条记录与您本人有关，须由其他同事办理", "This record is about you; a colleague must handle it")
        assert why(about, steps["check"], sup2, {"supervisor"}, s) is None
        assert why(about, steps["auto"], sup, set(), s, system=True) is None
        # only its creator withdraws it
        assert why(Card(1, created_by_id=sup.id), steps["mine"], clerk, {"clerk"}, s) == T(
            "只有录入人本人可以撤回", "Only whoever entered the record may “Withdraw”")
        assert why(Card(1, created_by_id=clerk.id), steps["mine"], clerk, {"clerk"}, s) is None
        # the creator may not sign off their own record
        assert why(Card(1, created_by_id=clerk.id), steps["check"], clerk, {"clerk"}, s) == T(
            "不能核对自己创建的记录，请由另一位同事办理",
            "You cannot “Check” a record you created; another colleague must")
        assert why(Card(1, created_by_id=sup.id), steps["check"], clerk, {"clerk"}, s) is None
        db.session.rollback()


def test_two_different_people_and_parallel_reviews(app, world):
    why = workflow.refusal
    with app.app_context():
        s = db.session
        clerk, sup, sup2 = person(world, "clerk"), person(world, "supervisor"), person(world, "supervisor2")
        steps = Card.transitions
        card = Card(7, state="checked")
        sign(world, card, "check", "supervisor", FIXED)
        sign(world, card, "gone_step", "supervisor", FIXED)  # a step no longer declared is not named
        sign(world, Card(8), "check", "supervisor2", FIXED)   # another record's sign-off does not count here
        db.session.add(workflow.SignOff(register="roster", record_id=7, transition="check", from_state="a",
                                        to_state="b", user_id=sup2.id, role="supervisor"))  # nor another register's
        expected = T("您已办理“核对”，“完成”须由另一位同事办理",
                     "You took an earlier step; “Finish” needs a different person")
        assert why(card, steps["finish"], sup, {"supervisor"}, s) == expected
        prefetched = workflow.SignOffs(s, "zz_card", [7], {"check", "gone_step"})
        assert why(card, steps["finish"], sup, {"supervisor"}, s, prefetched) == expected
        assert why(card, steps["finish"], sup2, {"supervisor"}, s) is None
        assert why(card, steps["finish"], sup2, {"supervisor"}, s, prefetched) is None
        told = T("请交另一位主管", "Another supervisor, please")
        assert why(card, steps["finish_told"], sup, {"supervisor"}, s) == told
        assert why(card, steps["finish_told"], sup2, {"supervisor"}, s) is None
        # parallel reviews: one signature each since the record reached its state (the second counts to the second)
        pair = Card(9)
        pair.state_changed_at = FIXED
        sign(world, pair, "pair_a", "clerk", FIXED - timedelta(seconds=1))  # before this round: not counted
        assert why(pair, steps["pair_a"], clerk, {"clerk"}, s) is None
        assert why(pair, steps["pair_a"], clerk, {"clerk"}, s, workflow.SignOffs(s, "zz_card", [9], {"pair_a"})) is None
        sign(world, pair, "pair_a", "clerk2", FIXED)
        signed = T("“甲审”已经签过，等待其他审核", "“Review A” is already signed; waiting for the others")
        assert why(pair, steps["pair_a"], clerk, {"clerk"}, s) == signed
        again = workflow.SignOffs(s, "zz_card", [9], {"pair_a"})
        assert why(pair, steps["pair_a"], clerk, {"clerk"}, s, again) == signed
        assert why(pair, steps["pair_b"], sup, {"supervisor"}, s) is None
        assert why(Card(10), steps["pair_a"], clerk, {"clerk"}, s) is None
        db.session.rollback()


def test_what_the_form_enters_is_judged_when_it_is_posted(app, world):
    why = workflow.refusal
    with app.app_context():
        s = db.session
        clerk = person(world, "clerk")
        steps = Card.transitions
        note = steps["note"]
        assert why(Card(1), note, clerk, {"clerk"}, s, before_its_form=True) is None
        need_note = T("请先填写“备注内容”再备注", "Fill in “Note text” before “Note”")
        need_confirmed = T("请先填写“已确认”再备注", "Fill in “Confirmed” before “Note”")
        for empty in (None, ""):
            assert why(Card(1, note=empty, confirmed=True), note, clerk, {"clerk"}, s) == need_note
        assert why(Card(1, note="写了", confirmed=False), note, clerk, {"clerk"}, s) == need_confirmed
        assert why(Card(1, note="写了", confirmed=None), note, clerk, {"clerk"}, s) == need_confirmed
        assert why(Card(1, note="写了", confirmed=True), note, clerk, {"clerk"}, s) is None
        cond = steps["cond"]
        assert why(Card(1, note="x"), cond, clerk, {"clerk"}, s) == T("不行", "No")  # the first that objects
        assert why(Card(1, note="x"), cond, clerk, {"clerk"}, s, before_its_form=True) is None
        assert why(Card(1, note="y"), cond, clerk, {"clerk"}, s) is None
        assert workflow.column_label(Card, "plain") == T("plain", "plain")  # a column without a label
        # a document required before the step is asked for by name (the repair sheet before closing)
        from models.desk import RepairOrder
        from tests.factories import make
        order = make(RepairOrder, world.a, state="visited")
        close = RepairOrder.transitions["close"]
        assert why(order, close, person(world, "supervisor"), {"supervisor"}, s) == T(
            "请先上传“维修单”再关闭", "Upload the Repair sheet before “Close”")
        assert why(order, close, person(world, "supervisor"), {"supervisor"}, s, before_its_form=True) is None
        db.session.rollback()


def test_fire_hands_the_step_who_acts_and_signs_it_off(app, world, frozen):
    with app.app_context():
        s = db.session
        clerk, sup = person(world, "clerk"), person(world, "supervisor")
        SEEN.clear()
        card = Card(21, created_by_id=clerk.id)
        t = workflow.fire(card, "check", sup, ["guard", "supervisor", "clerk"], s, comment="看过")
        assert t is Card.transitions["check"] and card.state == "checked" and card.state_changed_at == FIXED
        ctx = SEEN[-1]
        # the role signed is the step's first role the person holds, in the step's order
        assert (ctx.user, ctx.role, ctx.session, ctx.comment, ctx.data) == (sup, "clerk", s, "看过", {})
        rows = s.scalars(select(workflow.SignOff).where(workflow.SignOff.record_id == 21)).all()
        assert [(r.transition, r.from_state, r.to_state, r.user_id, r.role, r.comment) for r in rows] == [
            ("check", "new", "checked", sup.id, "clerk", "看过")]
        with pytest.raises(workflow.WorkflowError) as caught:
            workflow.fire(card, "nope", sup, ["supervisor"], s)
        assert caught.value.message == T("没有这个操作", "No such step")
        with pytest.raises(workflow.WorkflowError) as caught:
            workflow.fire(card, "check", sup, ["supervisor"], s)  # already checked: refused, nothing signed
        assert caught.value.message.zh.startswith("当前状态为“已核对”")
        # a recorded step keeps the state and its time; the form's values are set, others ignored
        noted = Card(22, created_by_id=sup.id)
        noted.state_changed_at = before = FIXED - timedelta(days=1)
        with pytest.raises(workflow.WorkflowError) as caught:
            workflow.fire(noted, "note", clerk, ["clerk"], s, comment="  ", data={"note": "n", "confirmed": True})
        assert caught.value.message == T("请填写意见", "Enter a comment")
        workflow.fire(noted, "note", clerk, ["clerk"], s, comment="说明",
                      data={"note": "n", "confirmed": True, "subject_id": clerk.id})
        assert (noted.state, noted.state_changed_at, noted.note, noted.subject_id) == ("new", before, "n", None)
        assert SEEN[-1].data == {"note": "n", "confirmed": True, "subject_id": clerk.id}
        last = s.scalars(select(workflow.SignOff).where(workflow.SignOff.record_id == 22)).one()
        assert (last.from_state, last.to_state, last.comment, last.role) == ("new", "new", "说明", "clerk")
        with pytest.raises(workflow.WorkflowError) as caught:
            workflow.fire(Card(23), "remark", clerk, ["clerk"], s)
        assert caught.value.message == T("请填写说明的理由", "Enter the reason")
        # the system's step is signed as the system
        workflow.fire(Card(24), "auto", sup, (), s, system=True)
        assert s.scalars(select(workflow.SignOff.role).where(workflow.SignOff.record_id == 24)).all() == ["system"]
        s.rollback()


def test_parallel_reviews_move_the_record_only_when_all_have_signed(app, world, frozen):
    with app.app_context():
        s = db.session
        clerk, sup = person(world, "clerk"), person(world, "supervisor")
        card = Card(31)
        workflow.fire(card, "pair_a", clerk, ["clerk"], s)
        assert card.state == "new" and card.state_changed_at == FIXED - timedelta(hours=1)
        workflow.fire(card, "pair_b", sup, ["supervisor"], s)
        assert card.state == "done" and card.state_changed_at == FIXED
        rows = s.execute(select(workflow.SignOff.transition, workflow.SignOff.to_state)
                         .where(workflow.SignOff.record_id == 31).order_by(workflow.SignOff.id)).all()
        assert [tuple(r) for r in rows] == [("pair_a", "new"), ("pair_b", "done")]
        again = Card(32)  # back in its state for a new round: the earlier round's signature does not count
        sign(world, again, "pair_a", "clerk", again.state_changed_at - timedelta(minutes=1))
        workflow.fire(again, "pair_b", sup, ["supervisor"], s)
        assert again.state == "new"
        s.rollback()


def test_values_entered_on_a_step_are_audited_under_the_step(app, world):
    from kernel.audit import AuditLog
    from models.desk import RepairOrder
    from models.master import Department
    from tests.factories import make
    with app.app_context():
        clerk = person(world, "clerk")
        o = make(RepairOrder, world.a, created_by_id=clerk.id)
        db.session.commit()
        dept = db.session.scalar(select(Department).where(Department.property_id == world.a))
        workflow.fire(o, "dispatch", clerk, {"clerk"}, db.session, data={"department": dept})
        db.session.commit()
        rows = db.session.execute(select(AuditLog.action, AuditLog.changes).where(
            AuditLog.register == "repair_order", AuditLog.record_id == o.id, AuditLog.action != "create")).all()
        assert {a for a, _ in rows} == {"transition:dispatch"}
        assert any("department_id" in (c or {}) for _, c in rows) and any("state" in (c or {}) for _, c in rows)


def test_a_step_that_tells_tells_each_time_it_is_taken(app, world):
    from sqlalchemy import func, select

    from kernel.notify import NotifyEvent
    from models.desk import RepairOrder
    from tests.factories import make
    with app.app_context():
        clerk = person(world, "clerk")
        o = make(RepairOrder, world.a, created_by_id=clerk.id)
        workflow.fire(o, "tell_delay", clerk, {"clerk"}, db.session)
        travel(timedelta(minutes=20))
        workflow.fire(o, "tell_delay", clerk, {"clerk"}, db.session)
        travel(timedelta(0))
        assert db.session.scalar(select(func.count()).select_from(NotifyEvent).where(
            NotifyEvent.register == "repair_order", NotifyEvent.record_id == o.id)) == 2
        db.session.rollback()


def test_a_step_tells_what_was_done_with_the_comment(app, world, monkeypatch):
    from kernel import notify
    from models.desk import RepairOrder
    from models.master import Department
    from tests.factories import make
    with app.app_context():
        clerk = person(world, "clerk")
        o = make(RepairOrder, world.a, created_by_id=clerk.id)
        dept = db.session.scalar(select(Department).where(Department.property_id == world.a))
        told = []
        monkeypatch.setattr(notify, "emit", lambda *args, **kw: told.append((args, kw)))
        workflow.fire(o, "dispatch", clerk, {"clerk"}, db.session, comment="请带梯子", data={"department": dept})
        t = RepairOrder.transitions["dispatch"]
        assert told[0][1]["body"] == f"{notify.describe(o, t.done_label)}\n请带梯子"  # e-mail and SMS carry it
        db.session.rollback()


def test_past_tense_of_step_labels():
    assert workflow.past_tense(T("派工", "Dispatch")) == T("已派工", "Dispatch: done")
    assert workflow.past_tense(T("经理收档", "File")).zh == "经理已收档"
    assert workflow.past_tense(T("经理已收档", "File")).zh == "经理已收档"  # never 已已
    assert workflow.past_tense(T("已告知业主", "Told")).zh == "已告知业主"
    assert workflow.past_tense(T("批准并安排替班", "Approve")).zh == "已批准并安排替班"
    assert workflow.past_tense(T("经理", "Manager")).zh == "已经理"  # only the actor: nothing after it to mark

    @workflow.transition(source="draft", target="submitted", roles=("clerk",), label=T("提交", "Submit"))
    def submit(self, ctx):
        pass
    assert submit._transition.source == ("draft",)


# ---------------------------------------------------------------- fire_set: the bulk path
def test_bulk_step_signs_audits_and_bumps_each_row_once(app, world, frozen, audit_clock):
    from datetime import date

    from sqlalchemy import event

    from kernel.audit import AuditLog
    from models.duty import Roster
    from tests.factories import make
    with app.app_context():
        s = db.session
        admin, sup, mgr = person(world, "cs_admin"), person(world, "supervisor"), person(world, "manager")
        rows = [make(Roster, world.a, user_id=admin.id, month=date(2028, m, 1), created_by_id=admin.id,
                     state="submitted") for m in (1, 2, 3)]
        s.commit()
        done, skipped = workflow.fire_set(s, Roster, "review", rows, sup, lambda pid: ["clerk", "supervisor"])
        assert (done, skipped) == (3, [])
        s.commit()
        signed = s.scalars(select(workflow.SignOff).where(workflow.SignOff.register == "roster")
                           .order_by(workflow.SignOff.record_id)).all()
        assert [(x.record_id, x.transition, x.from_state, x.to_state, x.user_id, x.role, x.at, x.comment)
                for x in signed] == [(r.id, "review", "submitted", "reviewed", sup.id, "supervisor", FIXED, None)
                                     for r in rows]
        s.expire_all()
        assert [(r.state, r.version, r.state_changed_at) for r in rows] == [("reviewed", 2, FIXED)] * 3
        audited = s.scalars(select(AuditLog).where(AuditLog.action == "transition:review")
                            .order_by(AuditLog.record_id)).all()
        assert [(a.record_id, a.register, a.property_id, a.changes) for a in audited] == [
            (r.id, "roster", world.a, {"state": ["submitted", "reviewed"]}) for r in rows]
        # filing asks who reviewed each row (two different people): read once for all rows, not once per row
        reads = []

        def count(conn, cursor, statement, *args):
            if "FROM sign_off" in statement:
                reads.append(statement)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            done, skipped = workflow.fire_set(s, Roster, "file", rows, mgr, lambda pid: {"manager"})
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert (done, skipped) == (3, []) and len(reads) == 1
        s.rollback()


def test_bulk_step_that_tells_tells_for_each_row(app, world, frozen):
    from kernel.notify import NotifyEvent
    from models.desk import RepairOrder
    from models.master import Department
    from tests.factories import make
    with app.app_context():
        s = db.session
        clerk = person(world, "clerk")
        dept = s.scalar(select(Department.id).where(Department.property_id == world.a))
        orders = [make(RepairOrder, world.a, department_id=dept) for _ in range(2)]
        s.commit()
        done, _ = workflow.fire_set(s, RepairOrder, "dispatch", orders, clerk, lambda pid: {"clerk"}, comment="批")
        assert done == 2
        keys = s.scalars(select(NotifyEvent.key).where(
            NotifyEvent.register == "repair_order", NotifyEvent.record_id.in_([o.id for o in orders]))).all()
        # the same event the single step raises: once per record, step and moment
        assert sorted(keys) == sorted(f"repair_order:{o.id}:step:dispatch@{FIXED:%Y%m%d%H%M%S%f}" for o in orders)
        assert s.scalars(select(workflow.SignOff.comment).where(workflow.SignOff.transition == "dispatch")).all() \
            == ["批", "批"]
        s.rollback()


# ---------------------------------------------------------------- numbering
class Recording:
    """A connection that keeps the statements it is given (the dialect's own insert is chosen by name)."""

    def __init__(self, dialect):
        self.dialect = type("D", (), {"name": dialect})()
        self.statements = []

    def execute(self, statement):
        self.statements.append(statement)
        return type("R", (), {"scalar_one": staticmethod(lambda: 1)})()


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_each_database_gets_its_own_insert_or_nothing(dialect):
    from datetime import date

    from sqlalchemy.dialects import postgresql, sqlite

    from kernel.numbering import next_value
    conn = Recording(dialect)
    assert next_value(conn, 3, "BX", date(2026, 11, 28)) == 1
    first = conn.statements[0]
    own = {"postgresql": postgresql.Insert, "sqlite": sqlite.Insert}[dialect]
    assert type(first) is own  # PostgreSQL's ON CONFLICT and SQLite's are built by their own dialect
    sql = str(first.compile(dialect={"postgresql": postgresql.dialect(), "sqlite": sqlite.dialect()}[dialect]))
    assert "ON CONFLICT DO NOTHING" in sql


def test_numbers_per_property_prefix_and_day_from_one(app, world):
    from datetime import date

    from kernel.numbering import next_value
    with app.app_context():
        conn = db.session.connection()
        day = date(2026, 11, 28)
        assert [next_value(conn, world.a, "QQ", day) for _ in range(3)] == [1, 2, 3]
        assert next_value(conn, world.b, "QQ", day) == 1
        assert next_value(conn, world.a, "QR", day) == 1
        assert next_value(conn, world.a, "QQ", date(2026, 11, 29)) == 1
        assert next_value(conn, world.a, "QQ", day) == 4
        db.session.rollback()


# ---------------------------------------------------------------- scoping
def staff(world, name, held):
    """A person holding {property: role} memberships."""
    from models import Membership, Role, StaffUser
    roles = {r.code: r.id for r in db.session.scalars(select(Role))}
    u = StaffUser(username=name, full_name=name, password_hash="x")
    db.session.add(u)
    db.session.flush()
    for prop, code in held:
        db.session.add(Membership(user_id=u.id, property_id=prop, role_id=roles[code]))
    db.session.flush()
    return u


def test_a_new_choice_of_property_counts_at_once_in_the_same_request(app, world):
    from flask import session
    from flask_login import login_user

    from kernel import scoping
    with app.test_request_context("/"):
        login_user(staff(world, "two_hats", [(world.a, "clerk"), (world.b, "supervisor")]))
        assert scoping.choose_property(world.b)  # nothing was asked yet: nothing cached to drop
        assert session["property_id"] == world.b
        assert (scoping.current_property_id(), scoping.current_roles()) == (world.b, {"supervisor"})
        assert scoping.choose_property(world.a)
        assert (scoping.current_property_id(), scoping.current_roles()) == (world.a, {"clerk"})
        assert not scoping.choose_property("all")  # not company-wide: no "all properties"
        assert session["property_id"] == world.a
        db.session.rollback()


def test_a_stale_or_missing_choice_falls_back_to_the_first_property(app, world):
    from flask import g, session
    from flask_login import login_user

    from kernel import scoping
    with app.test_request_context("/"):
        login_user(staff(world, "both", [(world.b, "manager"), (world.a, "manager")]))
        session["property_id"] = 999_999  # a property no longer held
        assert scoping.current_property_id() == min(world.a, world.b)
        g.pop("property_id")
        session.pop("property_id")
        assert scoping.current_property_id() == min(world.a, world.b)
        db.session.rollback()
    with app.test_request_context("/"):
        login_user(staff(world, "regional2", [(world.a, "regional")]))
        session["property_id"] = "all"
        assert scoping.current_property_id() is None and scoping.current_roles() == {"regional"}
        db.session.rollback()


def test_who_holds_what_is_read_once_per_request(app, world):
    from sqlalchemy import event

    from kernel import scoping
    from models import Membership, Role
    with app.test_request_context("/"):
        from flask_login import login_user
        u = staff(world, "counted", [(world.a, "clerk")])
        login_user(u)
        seen = []

        def count(conn, cursor, statement, *args):
            if "FROM membership" in statement or "FROM role" in statement:
                seen.append(statement)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            for _ in range(3):
                assert scoping.roles_at(world.a) == {"clerk"} and scoping.user_property_ids() == [world.a]
                assert scoping.current_roles() == {"clerk"} and not scoping.is_company_wide()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(seen) == 2  # memberships once, role codes once
        any_role = db.session.scalar(select(Role.id).limit(1))
        db.session.add(Membership(user_id=u.id, property_id=world.b, role_id=any_role))
        db.session.flush()
        assert scoping.user_property_ids() == [world.a]  # the request keeps what it read
        db.session.rollback()


def test_scope_keeps_only_the_current_propertys_rows(app, world):
    from flask_login import login_user

    from kernel import scoping
    from models import StaffUser
    from models.desk import RepairOrder
    from tests.factories import make
    with app.test_request_context("/"):
        login_user(db.session.get(StaffUser, world.users["clerk"]))
        mine, theirs = make(RepairOrder, world.a), make(RepairOrder, world.b)
        ids = set(db.session.scalars(scoping.scope(select(RepairOrder.id), RepairOrder)))
        assert mine.id in ids and theirs.id not in ids
        users = set(db.session.scalars(scoping.scope(select(StaffUser.id), StaffUser)))
        assert world.users["clerk"] in users and world.users["clerk_b"] not in users
        assert world.users["manager_ab"] in users  # holds a role here too
        assert scoping.in_scope(theirs, world.b) and not scoping.in_scope(mine, world.b)
        db.session.rollback()


# ---------------------------------------------------------------- audit: the session hooks
def test_only_registers_are_audited_and_every_audited_change_in_a_flush_is_kept(app, world):
    from kernel import audit
    from models.master import Unit
    with app.app_context():
        s = db.session
        marks = [workflow.SignOff(register="unit", record_id=1, transition="x", from_state="a", to_state="b",
                                  user_id=world.users["clerk"], role="clerk") for _ in range(3)]
        s.add_all(marks)
        s.flush()
        assert audit_rows(register="sign_off") == []  # a sign-off is its own record, not an audited register
        units = [s.get(Unit, world.units[("A", code)]) for code in ("1-1-101", "1-1-201", "3-2-1501")]
        for m in marks:
            m.comment = "改"
        for u in units:
            u.status = "vacant"
        with audit.acting("bulk:vacate"):
            s.flush()
        assert audit_rows(register="sign_off") == []
        changed = audit_rows(register="unit", action="bulk:vacate")
        assert sorted(r.record_id for r in changed) == sorted(u.id for u in units)
        assert all(r.changes == {"status": ["occupied", "vacant"]} and r.property_id == world.a for r in changed)
        new = Unit(property_id=world.a, code="8-8-808", building="8", entrance="8", room="808", status="vacant")
        s.add(new)
        s.flush()
        row = audit_rows(register="unit", action="create")[-1]
        assert row.record_id == new.id and row.changes["code"] == [None, "8-8-808"]
        assert "id" in row.changes and all(v[0] is None and v[1] is not None for v in row.changes.values())
        s.rollback()


def test_the_address_kept_is_the_clients_cut_to_the_column(app, world):
    from kernel import audit
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "f" * 70}):
        assert audit.who() == (None, "f" * 64)
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": ""}):
        assert audit.who() == (None, None)
    with app.app_context():
        assert audit.who() == (None, None)


# ---------------------------------------------------------------- deadlines on the server's clock
def test_overdue_without_a_time_asks_the_server_clock(app, world):
    from kernel.clock import now
    from kernel.deadlines import declared, overdue_clause, overdue_for
    from models.desk import RepairOrder
    from tests.factories import make
    with app.app_context():
        o = make(RepairOrder, world.a, received_at=now() - timedelta(minutes=2))
        late = set(db.session.scalars(select(RepairOrder.id).where(overdue_clause(RepairOrder))))
        assert overdue_for(o) == [] and o.id not in late
        travel(timedelta(minutes=5))  # the desk's clock moves past the 3 minutes to dispatch
        late = set(db.session.scalars(select(RepairOrder.id).where(overdue_clause(RepairOrder))))
        assert overdue_for(o) == [declared("repair.dispatch")] and o.id in late
        travel(timedelta(0))
        db.session.rollback()


def test_bulk_close_asks_for_the_repair_sheet_like_the_single_close(app, world):
    from models.desk import RepairOrder
    from tests.factories import make
    with app.app_context():
        s = db.session
        sup = person(world, "supervisor")
        order = make(RepairOrder, world.a, state="visited")
        s.commit()
        done, skipped = workflow.fire_set(s, RepairOrder, "close", [order], sup, lambda pid: {"supervisor"})
        assert done == 0 and [(r.id, why) for r, why in skipped] == [
            (order.id, T("请先上传“维修单”再关闭", "Upload the Repair sheet before “Close”"))]
        s.rollback()


def test_voiding_ones_own_typing_mistake_says_who_else_may(app, world):
    from models.desk import RepairOrder
    from tests.factories import make
    with app.app_context():
        o = make(RepairOrder, world.a)
        o.created_at = o.created_at - timedelta(days=1)
        assert workflow.same_day_before_any_step(o) == T(
            "录入人只能作废当天录入的记录，其他作废请交客服管理员或主管办理",
            "You may void only what you entered today; ask the CS admin or supervisor")
        fresh = make(RepairOrder, world.a)
        db.session.add(workflow.SignOff(register="repair_order", record_id=fresh.id, transition="dispatch",
                                        from_state="registered", to_state="dispatched",
                                        user_id=world.users["clerk"], role="clerk"))
        db.session.flush()
        assert workflow.same_day_before_any_step(fresh) == T(
            "已办理过步骤的记录不能由录入人自行作废，请交客服管理员或主管办理",
            "A step was already taken on it; ask the CS admin or supervisor to void it")
        db.session.rollback()


def test_the_refusal_names_every_earlier_step_of_this_person_and_only_theirs(app, world):
    with app.app_context():
        s = db.session
        sup = person(world, "supervisor")
        card = Card(41, state="checked")
        sign(world, card, "check", "supervisor", FIXED)
        sign(world, card, "note", "supervisor2", FIXED)
        seal = Card.transitions["seal"]
        assert workflow.refusal(card, seal, sup, {"supervisor"}, s).zh == "您已办理“核对”，“封存”须由另一位同事办理"
        sign(world, card, "note", "supervisor", FIXED)
        both = workflow.refusal(card, seal, sup, {"supervisor"}, s)
        assert both.zh == "您已办理“核对、备注”，“封存”须由另一位同事办理"
        s.rollback()


def test_a_voided_record_is_never_late_on_a_deadline_without_its_own_states(app, world):
    from datetime import date

    from kernel.deadlines import deadline_clause, declared, overdue_clause, overdue_for
    from models.duty import Roster
    from tests.factories import make
    with app.app_context():
        admin = person(world, "cs_admin")
        due = datetime(2027, 12, 25, 0, 0)
        open_one = make(Roster, world.a, user_id=admin.id, month=date(2028, 1, 1), due_at=due, state="draft")
        voided = make(Roster, world.a, user_id=admin.id, month=date(2028, 2, 1), due_at=due, state="void")
        later = due + timedelta(days=1)
        late = set(db.session.scalars(select(Roster.id).where(overdue_clause(Roster, later))))
        assert overdue_for(open_one, later) == [declared("roster.submit")] and open_one.id in late
        assert overdue_for(voided, later) == [] and voided.id not in late  # 作废 counts for nothing
        submit = deadline_clause(Roster, declared("roster.submit"), later)
        one = set(db.session.scalars(select(Roster.id).where(submit)))
        assert open_one.id in one and voided.id not in one  # the per-deadline count (dashboard) agrees
        db.session.rollback()


def test_a_flushed_change_is_dated_by_the_audit_clock(app, world, audit_clock):
    from models.master import Unit
    with app.app_context():
        u = db.session.get(Unit, world.units[("A", "1-1-101")])
        u.status = "vacant"
        db.session.flush()
        row = audit_rows(register="unit", record_id=u.id)[-1]
        assert (row.action, row.at) == ("update", FIXED)
        db.session.rollback()
