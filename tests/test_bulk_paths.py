"""The bulk path is held to the same rules as the single path: state, role, two different people, conditions,
and a record someone else moved between the read and the set-based UPDATE (kernel.workflow.fire_set)."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from kernel.audit import AuditLog
from kernel.clock import now, travel
from kernel.db import db
from kernel.i18n import T
from kernel.workflow import SignOff, SignOffs, WorkflowError, fire, fire_set, refusal
from models import StaffUser
from models.desk import RepairOrder
from models.duty import Roster
from models.master import Department
from tests.factories import make


def users(world, *names):
    return [db.session.get(StaffUser, world.users[n]) for n in names]


def roster(world, month, user, state="draft"):
    return make(Roster, world.a, user_id=user.id, month=date(2027, month, 1), created_by_id=user.id, state=state)


def test_fire_moves_state_signs_off_and_audits_under_the_step(app, world):
    with app.app_context():
        admin, sup, mgr = users(world, "cs_admin", "supervisor", "manager")
        r = roster(world, 1, admin)
        db.session.commit()
        before = r.state_changed_at
        travel(timedelta(minutes=5))
        t = fire(r, "submit", admin, {"cs_admin"}, db.session)
        assert t.name == "submit" and r.state == "submitted" and r.submitted_at is not None
        assert r.state_changed_at > before
        so = db.session.scalars(select(SignOff).where(SignOff.record_id == r.id)).all()
        assert [(s.transition, s.from_state, s.to_state, s.user_id, s.role, s.comment) for s in so] == [
            ("submit", "draft", "submitted", admin.id, "cs_admin", None)]
        db.session.commit()
        actions = db.session.scalars(select(AuditLog.action).where(AuditLog.register == "roster",
                                                                   AuditLog.record_id == r.id)).all()
        assert "transition:submit" in actions
        with pytest.raises(WorkflowError, match="不能主管审核自己创建的记录"):
            fire(r, "review", admin, {"supervisor"}, db.session)
        with pytest.raises(WorkflowError, match="您的角色不能"):
            fire(r, "review", mgr, {"manager", "clerk"}, db.session)
        with pytest.raises(WorkflowError, match="没有这个操作"):
            fire(r, "nope", sup, {"supervisor"}, db.session)
        with pytest.raises(WorkflowError, match="请填写"):
            fire(r, "send_back", sup, {"supervisor"}, db.session, comment="   ")
        fire(r, "review", sup, {"supervisor", "clerk"}, db.session, comment="好")
        assert r.state == "reviewed"
        last = db.session.scalars(select(SignOff).order_by(SignOff.id.desc())).first()
        assert (last.role, last.comment) == ("supervisor", "好")
        # the one who reviewed may not file, even as a manager (two different people)
        with pytest.raises(WorkflowError, match="您已办理“主管审核”"):
            fire(r, "file", sup, {"manager"}, db.session)
        with pytest.raises(WorkflowError, match="只有“已提交”的记录才能"):
            fire(r, "review", sup, {"supervisor"}, db.session)
        fire(r, "file", mgr, {"manager"}, db.session)
        assert r.state == "filed"


def test_a_system_step_is_never_a_persons_and_is_signed_as_system(app, world):
    with app.app_context():
        admin, sup = users(world, "cs_admin", "supervisor")
        r = roster(world, 2, admin, state="reviewed")
        with pytest.raises(WorkflowError, match="您的角色不能"):
            fire(r, "reopen", sup, {"supervisor", "cs_admin", "manager"}, db.session)
        fire(r, "reopen", admin, (), db.session, system=True)
        assert r.state == "draft"
        assert db.session.scalars(select(SignOff.role).where(SignOff.record_id == r.id)).all() == ["system"]


def test_requires_and_step_fields(app, world):
    with app.app_context():
        clerk, = users(world, "clerk")
        o = make(RepairOrder, world.a, user_id=clerk.id, created_by_id=clerk.id)
        why = refusal(o, RepairOrder.transitions["dispatch"], clerk, {"clerk"}, db.session)
        assert why is not None and "请先填写“接单部门”再派工" in why.zh
        dept = db.session.scalar(select(Department).where(Department.property_id == world.a))
        with pytest.raises(WorkflowError):
            fire(o, "dispatch", clerk, {"clerk"}, db.session, data={"engineer": "x"})  # not a field of the step
        assert o.engineer is None
        fire(o, "dispatch", clerk, {"clerk"}, db.session, data={"department": dept})
        assert o.state == "dispatched" and o.department_id == dept.id and o.dispatched_at is not None


def test_bulk_step_checks_each_row_and_skips_with_reasons(app, world):
    with app.app_context():
        admin, sup, sup2 = users(world, "cs_admin", "supervisor", "supervisor2")
        own = roster(world, 3, sup, state="submitted")       # created by the supervisor: sign-off refuses
        ok = roster(world, 4, admin, state="submitted")
        wrong_state = roster(world, 5, admin, state="draft")
        b_row = make(Roster, world.b, user_id=admin.id, month=date(2027, 6, 1), created_by_id=admin.id,
                     state="submitted")                       # the supervisor holds no role at B
        db.session.commit()
        roles = {world.a: {"supervisor"}, world.b: set()}
        done, skipped = fire_set(db.session, Roster, "review", [own, ok, wrong_state, b_row], sup,
                                 lambda pid: roles[pid], comment="批量")
        assert done == 1
        reasons = {r.id: why.zh for r, why in skipped}
        assert set(reasons) == {own.id, wrong_state.id, b_row.id}
        assert "自己创建" in reasons[own.id] and "只有“已提交”" in reasons[wrong_state.id]
        assert "您的角色不能" in reasons[b_row.id]
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Roster, ok.id).state == "reviewed" and db.session.get(Roster, ok.id).version == 2
        assert db.session.get(Roster, own.id).state == "submitted"
        so = db.session.scalars(select(SignOff).where(SignOff.record_id == ok.id)).all()
        assert [(s.transition, s.from_state, s.to_state, s.user_id, s.role, s.comment) for s in so] == [
            ("review", "submitted", "reviewed", sup.id, "supervisor", "批量")]
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "transition:review")).all()
        assert [(a.record_id, a.property_id, a.changes) for a in rows] == [
            (ok.id, world.a, {"state": ["submitted", "reviewed"]})]
        # two different people on the bulk path: the reviewer may not file it
        ok = db.session.get(Roster, ok.id)
        done, skipped = fire_set(db.session, Roster, "file", [ok], sup, lambda pid: {"manager"})
        assert done == 0 and "须由另一位同事办理" in skipped[0][1].zh
        done, skipped = fire_set(db.session, Roster, "file", [ok], sup2, lambda pid: {"manager", "clerk"})
        assert (done, skipped) == (1, [])
        assert db.session.scalars(select(SignOff.role).where(SignOff.transition == "file")).all() == ["manager"]


def test_a_row_changed_between_read_and_update_is_skipped(app, world):
    with app.app_context():
        admin, sup = users(world, "cs_admin", "supervisor")
        a, b = roster(world, 7, admin, state="submitted"), roster(world, 8, admin, state="submitted")
        db.session.commit()
        stale = [db.session.get(Roster, a.id), db.session.get(Roster, b.id)]
        db.session.execute(Roster.__table__.update().where(Roster.id == b.id).values(version=Roster.version + 1))
        done, skipped = fire_set(db.session, Roster, "review", stale, sup, lambda pid: {"supervisor"})
        assert done == 1 and [r.id for r, _ in skipped] == [b.id]
        assert skipped[0][1] == T("该记录刚被他人处理，请刷新后查看",
                                  "Someone else handled this record meanwhile; reload")
        db.session.commit()
        assert db.session.scalar(select(Roster.state).where(Roster.id == b.id)) == "submitted"
        assert db.session.scalar(select(SignOff.id).where(SignOff.record_id == b.id)) is None
        # a row moved to another state meanwhile (same version) is skipped too
        c = roster(world, 9, admin, state="submitted")
        db.session.commit()
        db.session.execute(Roster.__table__.update().where(Roster.id == c.id).values(state="draft"))
        done, skipped = fire_set(db.session, Roster, "review", [c], sup, lambda pid: {"supervisor"})
        assert done == 0 and len(skipped) == 1


def test_nothing_allowed_writes_nothing(app, world):
    with app.app_context():
        admin, = users(world, "cs_admin")
        r = roster(world, 10, admin, state="submitted")
        db.session.commit()
        assert fire_set(db.session, Roster, "review", [r], admin, lambda pid: {"clerk"})[0] == 0
        assert db.session.scalar(select(SignOff.id)) is None


def test_signoffs_prefetched_agree_with_queried(app, world):
    with app.app_context():
        admin, sup = users(world, "cs_admin", "supervisor")
        r = roster(world, 11, admin, state="draft")
        fire(r, "submit", admin, {"cs_admin"}, db.session)
        fire(r, "review", sup, {"supervisor"}, db.session)
        db.session.commit()
        one = SignOffs(db.session, "roster")
        many = SignOffs(db.session, "roster", [r.id], {"submit", "review"})
        assert one.of(r.id, {"review"}) == many.of(r.id, {"review"}) == [("review", sup.id)]
        assert one.of(r.id, {"submit", "review"}) == [("submit", admin.id), ("review", sup.id)]
        assert sorted(many.of(r.id, {"submit", "review"})) == sorted([("submit", admin.id), ("review", sup.id)])
        later = now() + timedelta(days=1)
        assert one.of(r.id, {"review"}, since=later) == many.of(r.id, {"review"}, since=later) == []
        assert one.of(r.id, {"review"}, since=now() - timedelta(days=1)) == [("review", sup.id)]
        assert many.of(r.id, {"review"}, since=now() - timedelta(days=1)) == [("review", sup.id)]
        assert SignOffs(db.session, "repair_order").of(r.id, {"review"}) == []
        assert many.of(r.id + 1000, {"review"}) == []
