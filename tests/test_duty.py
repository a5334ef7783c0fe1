"""Duty management: each rule of issue #5."""
from datetime import datetime, time, timedelta

from sqlalchemy import select

from kernel.clock import now, today, travel_to
from kernel.db import db
from models.duty import (
    AttendanceException,
    DutyLog,
    Handover,
    LeaveRequest,
    QualityCheck,
    Roster,
    RosterAssignment,
    roster_due,
)
from models.master import Shift
from tests.factories import make
from tests.helpers import latest, reload, step


def shifts(app, world, pid=None):
    with app.app_context():
        return {s.code: s.id for s in db.session.scalars(select(Shift).where(Shift.property_id == (pid or world.a)))}


def next_month():
    return (today().replace(day=1) + timedelta(days=32)).replace(day=1)


def test_roster_month_grid_drafted_reviewed_filed_then_locked(app, world, client_as):
    cs = client_as("cs_admin")
    assert cs.post("/admin/roster/new/", {"month": next_month().isoformat()}).status_code == 302
    with app.app_context():
        rid = latest(Roster).id
    page = cs.get(f"/admin/roster/grid/?id={rid}").get_data(as_text=True)
    assert 'id="fd-roster"' in page and f'c_{world.users["clerk"]}_{next_month().isoformat()}' in page
    sh = shifts(app, world)
    day1, day2 = next_month(), next_month() + timedelta(days=1)
    r = cs.post(f"/admin/roster/grid/?id={rid}", {f"c_{world.users['clerk']}_{day1}": sh["early"],
                                                 f"c_{world.users['clerk2']}_{day1}": sh["middle"],
                                                 f"c_{world.users['clerk']}_{day2}": sh["late"]})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.query(RosterAssignment).filter_by(roster_id=rid).count() == 3
    step(cs, "roster", "submit", rid)
    step(client_as("supervisor"), "roster", "review", rid)
    step(client_as("manager"), "roster", "file", rid)
    with app.app_context():
        assert reload(Roster, rid).state == "filed"
    r = cs.post(f"/admin/roster/grid/?id={rid}", {f"c_{world.users['clerk']}_{day1}": sh["late"]})
    assert r.status_code == 403  # a filed roster changes only through approved leave or swaps


def test_roster_grid_refuses_an_unknown_shift_and_saves_nothing(app, world, client_as):
    cs = client_as("cs_admin")
    cs.post("/admin/roster/new/", {"month": next_month().isoformat()})
    with app.app_context():
        rid = latest(Roster).id
    other = shifts(app, world, world.b)["early"]
    sh = shifts(app, world)
    r = cs.post(f"/admin/roster/grid/?id={rid}", {f"c_{world.users['clerk']}_{next_month()}": sh["early"],
                                                 f"c_{world.users['clerk2']}_{next_month()}": other})
    assert "未知班次" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(RosterAssignment).count() == 0


def test_roster_not_submitted_by_the_25th_is_flagged_late(app, world, client_as):
    month = next_month()
    cs = client_as("cs_admin")
    cs.post("/admin/roster/new/", {"month": month.isoformat()})
    with app.app_context():
        r = latest(Roster)
        assert r.due_at == roster_due(month) and r.due_at.day == 25
    travel_to(roster_due(month) + timedelta(hours=1))
    page = cs.get("/admin/roster/?overdue=1").get_data(as_text=True)
    assert "上月25日前提交" in page
    assert (
        "text-danger font-weight-bold" in cs.get("/admin/").get_data(as_text=True).split('id="fd-roster-due"')[0][-80:]
    )


def test_leave_needs_a_day_ahead_and_not_swap_with_oneself(app, world, client_as):
    c = client_as("clerk")
    r = c.post("/admin/leave_request/new/", {"staff": world.users["clerk"], "kind": "leave", "day": today().isoformat(),
                                            "reason": "病假"})
    assert "须至少提前一天申请" in r.get_data(as_text=True)
    r = c.post(
        "/admin/leave_request/new/",
        {
            "staff": world.users["clerk"],
            "kind": "swap",
            "swap_with": world.users["clerk"],
            "day": (today() + timedelta(days=2)).isoformat(),
            "reason": "x",
        },
    )
    assert "不能与自己换班" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(LeaveRequest).count() == 0


def roster_with(app, world, day, staff_shift):
    with app.app_context():
        r = make(Roster, world.a, month=day.replace(day=1), state="filed", commit=True)
        for staff, shift in staff_shift:
            db.session.add(
                RosterAssignment(roster_id=r.id, property_id=world.a, staff_id=staff, day=day, shift_id=shift)
            )
        db.session.commit()
        return r.id


def test_approved_leave_moves_the_roster_to_the_substitute(app, world, client_as):
    day = today() + timedelta(days=3)
    sh = shifts(app, world)
    roster_with(app, world, day, [(world.users["clerk"], sh["early"])])
    c = client_as("clerk")
    c.post(
        "/admin/leave_request/new/",
        {"staff": world.users["clerk"], "kind": "leave", "day": day.isoformat(), "reason": "事假"},
    )
    with app.app_context():
        lid = latest(LeaveRequest).id
    r = step(client_as("supervisor"), "leave_request", "approve", lid)
    assert "请指定替班人" in r.get_data(as_text=True)
    step(client_as("supervisor"), "leave_request", "approve", lid, substitute=world.users["clerk2"])
    with app.app_context():
        assert RosterAssignment.on_duty(db.session, world.a, day, sh["early"]) == {world.users["clerk2"]}


def test_approved_swap_exchanges_the_two_and_nobody_swaps_without_approval(app, world, client_as):
    day = today() + timedelta(days=3)
    sh = shifts(app, world)
    roster_with(app, world, day, [(world.users["clerk"], sh["early"]), (world.users["clerk2"], sh["late"])])
    c = client_as("clerk")
    c.post(
        "/admin/leave_request/new/",
        {
            "staff": world.users["clerk"],
            "kind": "swap",
            "swap_with": world.users["clerk2"],
            "day": day.isoformat(),
            "reason": "家事",
        },
    )
    with app.app_context():
        lid = latest(LeaveRequest).id
        assert RosterAssignment.on_duty(db.session, world.a, day, sh["early"]) == {world.users["clerk"]}
    assert c.post("/admin/leave_request/transition/approve/", {"id": lid}).status_code == 403
    step(client_as("supervisor"), "leave_request", "approve", lid)
    with app.app_context():
        assert RosterAssignment.on_duty(db.session, world.a, day, sh["early"]) == {world.users["clerk2"]}
        assert RosterAssignment.on_duty(db.session, world.a, day, sh["late"]) == {world.users["clerk"]}


def test_duty_log_is_confidential_guard_never_clerk_cannot_export(app, world, client_as):
    c = client_as("clerk")
    assert c.post("/admin/duty_log/new/", {"source": "phone", "content": "3栋电梯困人", "priority": "urgent",
                                          "escalation": "supervisor", "follow_up": "open"}).status_code == 302
    assert c.get("/admin/duty_log/export/csv/").status_code == 403
    assert client_as("guard").get("/admin/duty_log/").status_code == 403
    assert "3栋电梯困人" in client_as("supervisor").get("/admin/duty_log/export/csv/").get_data(as_text=True)


def test_supervisor_marks_each_days_log_read_and_unread_days_show(app, world, client_as):
    with app.app_context():
        make(DutyLog, world.a, content="昨晚停水", logged_at=now() - timedelta(days=1), commit=True)
    sup = client_as("supervisor")
    yesterday = (today() - timedelta(days=1)).isoformat()
    page = sup.get("/admin/").get_data(as_text=True)
    assert f'值班记录未查阅天数: 1</span> (<a href="/admin/duty_log/day/?day={yesterday}">{yesterday}</a>)' in page
    assert client_as("clerk").post("/admin/duty_log/read/", {"day": yesterday}).status_code == 403
    sup.get(f"/admin/duty_log/day/?day={yesterday}")  # 4.2.5: read the day before marking it
    sup.post("/admin/duty_log/read/", {"day": yesterday})
    assert "值班记录未查阅天数: 0" in sup.get("/admin/").get_data(as_text=True)


# what the incoming records before signing (4.3.2 a, c; 4.3.3)
CHECKED = dict(incoming_read_log="y", incoming_desk_checked="y", incoming_items_counted="对讲机 ×2：齐")


def handover_for(app, world, client_as, day=None):
    sh = shifts(app, world)
    day = day or today()
    roster_with(app, world, day, [(world.users["clerk2"], sh["late"])])
    with app.app_context():
        make(DutyLog, world.a, content="待跟进：业主投诉噪音", follow_up="open", commit=True)
        from models.duty import ChecklistItem
        make(ChecklistItem, world.a, name="对讲机", quantity=2, commit=True)
    out = client_as("clerk")
    assert out.post("/admin/handover/new/", {"to_shift": sh["late"], "day": day.isoformat()}).status_code == 302
    with app.app_context():
        return out, latest(Handover).id


def test_handover_lists_open_items_and_needs_two_different_people(app, world, client_as):
    travel_to(datetime.combine(today(), time(11, 0)))
    out, hid = handover_for(app, world, client_as)
    with app.app_context():
        h = reload(Handover, hid)
        assert "业主投诉噪音" in h.open_items and "对讲机 ×2" in h.items_counted
    assert "请先填写" in step(out, "handover", "sign_out", hid).get_data(as_text=True)
    with app.app_context():
        h = reload(Handover, hid)
        h.items_complete, h.desk_checked = True, True
        db.session.commit()
    step(out, "handover", "sign_out", hid)
    assert 'id="fd-awaiting-handover"' in out.get("/admin/").get_data(as_text=True)
    assert "两位不同的同事" in step(out, "handover", "sign_in", hid, **CHECKED).get_data(as_text=True)
    assert "排班接班人" in step(client_as("cs_admin"), "handover", "sign_in", hid, **CHECKED).get_data(as_text=True)
    step(client_as("clerk2"), "handover", "sign_in", hid, **CHECKED)
    with app.app_context():
        h = reload(Handover, hid)
        assert h.state == "locked" and h.incoming_id == world.users["clerk2"]
        assert db.session.query(AttendanceException).count() == 0  # 11:00 is before 11:45
    assert 'id="fd-awaiting-handover"' not in out.get("/admin/").get_data(as_text=True)
    r = step(out, "handover", "sign_in", hid)
    assert "的记录才能" in r.get_data(as_text=True)  # signing a locked handover


def test_late_takeover_is_recorded_automatically(app, world, client_as):
    travel_to(datetime.combine(today(), time(12, 5)))  # late shift starts 12:00, due 11:45
    out, hid = handover_for(app, world, client_as)
    with app.app_context():
        h = reload(Handover, hid)
        h.items_complete, h.desk_checked = True, True
        db.session.commit()
    step(out, "handover", "sign_out", hid)
    step(client_as("clerk2"), "handover", "sign_in", hid, **CHECKED)
    with app.app_context():
        ex = db.session.scalar(select(AttendanceException))
        assert ex.automatic and ex.kind == "late" and ex.minutes_late == 20 and ex.staff_id == world.users["clerk2"]


def test_quality_check_nonconformity_needs_corrective_action_and_spot_checks_count(app, world, client_as):
    sup = client_as("supervisor")
    ok = {"kind": "supervisor_spot", **{f"ok_{c}": "y" for c in "abcdefghij"}}
    failed = {**ok}
    failed.pop("ok_c")
    assert "须填写不合格项和纠正措施" in sup.post("/admin/quality_check/new/", failed).get_data(as_text=True)
    assert (
        sup.post(
            "/admin/quality_check/new/", {**failed, "nonconformities": "前台杂乱", "corrective_action": "立即整理"}
        ).status_code
        == 302
    )
    sup.post("/admin/quality_check/new/", ok)
    assert "本周主管抽查: 2/3" in sup.get("/admin/").get_data(as_text=True)
    sup.post("/admin/quality_check/new/", ok)
    page = sup.get("/admin/").get_data(as_text=True)
    assert "本周主管抽查: 3/3" in page
    client_as("manager").post("/admin/quality_check/new/", {**ok, "kind": "manager_random"})
    with app.app_context():
        assert db.session.query(QualityCheck).filter_by(kind="manager_random").count() == 1
        assert latest(QualityCheck).inspector_id == world.users["manager"]


def test_daily_summary_counts_per_register_and_open_items(app, world, client_as):
    from models.desk import RepairOrder
    with app.app_context():
        make(RepairOrder, world.a, commit=True)
        make(RepairOrder, world.b, commit=True)
    page = client_as("supervisor").get("/admin/daily_summary/").get_data(as_text=True)
    row = page.split("报修单</td><td>")[1][:3]
    assert row.startswith("1<")
    assert "A-BX-" in page and "B-BX-" not in page
    assert client_as("clerk").get("/admin/daily_summary/").status_code == 200  # 篇2 §6: the clerk compiles it
    assert client_as("guard").get("/admin/daily_summary/").status_code == 403
