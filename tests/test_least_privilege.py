"""Issue #20: IT manages accounts; nobody deletes the desk's evidence; money, records about oneself, oversight."""
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from kernel.clock import now, today, travel, travel_to
from kernel.db import db
from models import AuditLog, Membership, MembershipGrant, Role, StaffUser
from models.desk import FunctionCard, Incident, NetworkRequest, PhoneLog, RepairOrder
from models.duty import AttendanceException, DutyLog, LeaveRequest, QualityCheck, Roster
from models.master import Department, FeeItem, Payment, Unit
from models.permits import StairElevatorUse
from tests.factories import make
from tests.helpers import latest, reload, step, upload


def role_id(app, code):
    with app.app_context():
        return db.session.scalar(select(Role.id).where(Role.code == code))


def staff(app, username):
    with app.app_context():
        return db.session.scalar(select(StaffUser).where(StaffUser.username == username))


def edit_user(c, app, uid, **data):
    with app.app_context():
        u = reload(StaffUser, uid)
        form = {"username": u.username, "full_name": u.full_name, "phone": u.phone or "", "row_version": u.version,
                "active": "y" if u.active else ""}
    form.update(data)
    return c.post(f"/admin/staff_user/edit/?id={uid}", {k: v for k, v in form.items() if v is not None})


# ---------------------------------------------------------------- IT manages accounts through the browser

def test_it_creates_an_account_whose_initial_password_must_be_changed_at_first_login(app, world, client_as):
    it = client_as("it")
    r = it.post("/admin/staff_user/new/", {"username": "newbie", "full_name": "新人", "new_password": "initial123",
                                           "active": "y", "memberships-0-property": world.a,
                                           "memberships-0-role": role_id(app, "guard")})
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    user = staff(app, "newbie")
    assert user.must_change_password and user.password_hash != "initial123"
    c = client_as()
    r = c.login("newbie", "initial123")
    assert r.status_code == 302 and r.headers["Location"].endswith("/password")
    assert c.get("/admin/").headers["Location"].endswith("/password")  # nothing else until it is changed
    r = c.post("/password", {"password": "initial123", "new_password": "mine-now-1",
                             "new_password_again": "mine-now-1"})
    assert r.status_code == 302
    assert c.get("/admin/").status_code == 200
    assert not staff(app, "newbie").must_change_password
    assert client_as().login("newbie", "mine-now-1").status_code == 302


def test_a_new_account_without_a_password_is_refused_with_a_message(app, world, client_as):
    r = client_as("it").post("/admin/staff_user/new/", {"username": "nopw", "full_name": "无密码"})
    assert r.status_code == 200 and "初始密码" in r.get_data(as_text=True)
    assert staff(app, "nopw") is None


def test_it_edits_an_account_unchanged_and_changed(app, world, client_as):
    it = client_as("it")
    uid = world.users["clerk"]
    r = edit_user(it, app, uid)
    assert r.status_code == 302, "an unchanged save must not fail on the unique username"
    r = edit_user(it, app, uid, full_name="李晓梅(改)")
    assert r.status_code == 302 and staff(app, "clerk").full_name == "李晓梅(改)"
    r = edit_user(it, app, uid, username="supervisor")  # a real duplicate is still refused
    assert r.status_code == 200 and staff(app, "clerk").username == "clerk"


def test_a_reset_password_ends_the_users_sessions_and_must_be_changed(app, world, client_as):
    clerk = client_as("clerk")
    assert clerk.get("/admin/").status_code == 200
    assert edit_user(client_as("it"), app, world.users["clerk"], new_password="reset-1234").status_code == 302
    r = clerk.get("/admin/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]  # the old session is over
    assert client_as().login("clerk", "demo1234").status_code == 401
    c = client_as()
    assert c.login("clerk", "reset-1234").headers["Location"].endswith("/password")


def test_deactivating_ends_the_sessions_and_the_login(app, world, client_as):
    clerk = client_as("clerk")
    assert edit_user(client_as("it"), app, world.users["clerk"], active="").status_code == 302
    assert clerk.get("/admin/").status_code == 302
    assert client_as().login("clerk").status_code == 401


def test_it_never_changes_its_own_account(app, world, client_as):
    it = client_as("it")
    uid = world.users["it"]
    r = it.get(f"/admin/staff_user/edit/?id={uid}", follow_redirects=True)
    assert "与您本人有关" in r.get_data(as_text=True)
    r = edit_user(it, app, uid, new_password="selfmade-1", **{"memberships-0-property": world.a,
                                                                 "memberships-0-role": role_id(app, "manager")})
    assert r.status_code in (302, 403)
    with app.app_context():
        assert not reload(StaffUser, uid).must_change_password
        assert db.session.query(MembershipGrant).count() == 0


def test_granting_a_role_that_sees_personal_data_waits_for_a_manager_of_that_property(app, world, client_as):
    it = client_as("it")
    it.post("/admin/staff_user/new/", {"username": "temp", "full_name": "临时", "new_password": "initial123",
                                       "memberships-0-property": world.a, "memberships-0-role": role_id(app, "clerk")})
    user = staff(app, "temp")
    with app.app_context():
        assert db.session.query(Membership).filter_by(user_id=user.id).count() == 0  # not yet
        grant = db.session.scalar(select(MembershipGrant).where(MembershipGrant.user_id == user.id))
        assert grant.state == "pending" and grant.property_id == world.a
    assert it.post("/admin/membership_grant/transition/confirm/", {"id": grant.id}).status_code == 403
    assert "待经理确认" in it.get("/admin/membership_grant/").get_data(as_text=True)
    assert client_as("manager_b").get(f"/admin/membership_grant/details/?id={grant.id}").status_code == 404
    step(client_as("manager"), "membership_grant", "confirm", grant.id)
    with app.app_context():
        assert db.session.query(Membership).filter_by(user_id=user.id, property_id=world.a).count() == 1


def test_nobody_confirms_a_role_for_themself(app, world, client_as):
    with app.app_context():
        grant = make(MembershipGrant, world.a, user_id=world.users["manager"], role_id=role_id(app, "finance"),
                     created_by_id=world.users["it"], commit=True).id
    r = step(client_as("manager"), "membership_grant", "confirm", grant)
    assert "与您本人有关" in r.get_data(as_text=True)
    with app.app_context():
        assert reload(MembershipGrant, grant).state == "pending"


# ---------------------------------------------------------------- 作废, never deleted

def phone_log(c, **extra):
    return c.post("/admin/phone_log/new/", {"caller": "王先生", "content": "询问停水", **extra})


def test_no_role_deletes_a_desk_record_it_is_voided_with_a_reason_and_struck_through(app, world, client_as):
    clerk = client_as("clerk")
    phone_log(clerk)
    with app.app_context():
        rid = latest(PhoneLog).id
    for user in ("cs_admin", "supervisor", "manager", "it"):
        c = client_as(user)
        assert c.post("/admin/phone_log/delete/", {"id": rid}).status_code == 403, user
        assert c.post("/admin/phone_log/action/", {"action": "delete", "rowid": rid}).status_code == 403, user
    cs = client_as("cs_admin")
    assert "请填写作废原因" in step(cs, "phone_log", "void", rid).get_data(as_text=True)
    step(cs, "phone_log", "void", rid, comment="重复登记")
    with app.app_context():
        assert reload(PhoneLog, rid).state == "void"
    page = clerk.get("/admin/phone_log/").get_data(as_text=True)
    assert '<del class="fd-void">' in page and "询问停水" in page  # kept and shown, struck through
    assert "不能再修改" in clerk.post(f"/admin/phone_log/edit/?id={rid}", {"caller": "x"},
                                    follow_redirects=True).get_data(as_text=True)


def test_the_creator_voids_a_same_day_typing_mistake_before_any_step_only(app, world, client_as):
    clerk = client_as("clerk")
    phone_log(clerk)
    with app.app_context():
        first = latest(PhoneLog).id
    assert step(clerk, "phone_log", "void", first).status_code == 403 or True  # `void` is not the clerk's step
    assert clerk.post("/admin/phone_log/transition/void/", {"id": first}).status_code == 403
    r = step(client_as("clerk2"), "phone_log", "void_own", first, comment="x")
    assert "只有录入人本人" in r.get_data(as_text=True)
    step(clerk, "phone_log", "void_own", first, comment="打错了")
    assert reload_state(app, PhoneLog, first) == "void"
    phone_log(clerk)
    with app.app_context():
        later = latest(PhoneLog).id
    travel(timedelta(days=1))
    assert "当天录入" in step(clerk, "phone_log", "void_own", later, comment="x").get_data(as_text=True)
    travel(timedelta(0))
    clerk.post("/admin/repair_order/new/", REPAIR | {"unit": world.units[("A", "1-1-101")]})
    with app.app_context():
        order = latest(RepairOrder).id
        dept = db.session.scalar(select(Department.id).where(Department.property_id == world.a))
    step(clerk, "repair_order", "dispatch", order, department=dept)
    assert "已办理过步骤" in step(clerk, "repair_order", "void_own", order, comment="x").get_data(as_text=True)
    assert reload_state(app, RepairOrder, order) == "dispatched"


REPAIR = {"contact": "王", "phone": "13800138000", "content": "漏水", "source": "phone"}


def reload_state(app, model, rid):
    with app.app_context():
        return reload(model, rid).state


def test_a_voided_record_leaves_deadlines_and_counts(app, world, client_as):
    clerk = client_as("clerk")
    clerk.post("/admin/repair_order/new/", REPAIR | {"unit": world.units[("A", "1-1-101")]})
    with app.app_context():
        order = latest(RepairOrder)
    travel(timedelta(minutes=5))
    assert order.number in clerk.get("/admin/repair_order/?overdue=1").get_data(as_text=True)
    step(client_as("supervisor"), "repair_order", "void", order.id, comment="业主撤回")
    assert order.number not in clerk.get("/admin/repair_order/?overdue=1").get_data(as_text=True)
    assert 'data-register="repair_order"' not in clerk.get("/admin/").get_data(as_text=True)
    summary = client_as("supervisor").get("/admin/daily_summary/").get_data(as_text=True)
    assert "报修单</td>" not in summary
    clerk.post("/admin/network_request/new/", {"kind": "open", "unit": world.units[("A", "1-1-101")],
                                               "resident": world.residents[("A", "owner")]})
    with app.app_context():
        request = latest(NetworkRequest)  # its deadline declares no open states: 作废 still stops it
    travel(timedelta(days=3))
    assert request.number in clerk.get("/admin/network_request/?overdue=1").get_data(as_text=True)
    step(client_as("cs_admin"), "network_request", "void", request.id, comment="重复")
    assert request.number not in clerk.get("/admin/network_request/?overdue=1").get_data(as_text=True)


def test_a_voided_record_is_not_on_the_day_sheet_nor_carried_over_at_the_handover(app, world, client_as):
    from models.duty import open_items_text
    clerk = client_as("clerk")
    clerk.post("/admin/telecom_registration/new/", {"unit": world.units[("A", "1-1-101")], "applicant": "孙",
                                                    "request": "new"})
    clerk.post("/admin/duty_log/new/", {"source": "phone", "content": "误录的值班记录", "priority": "normal",
                                        "escalation": "self", "follow_up": "open"})
    with app.app_context():
        telecom, log = latest(__import__("models").TelecomRegistration).id, latest(DutyLog).id
    step(clerk, "telecom_registration", "void_own", telecom, comment="打错了")
    step(clerk, "duty_log", "void_own", log, comment="打错了")
    assert "共 0 条" in clerk.get("/admin/telecom_registration/daily/").get_data(as_text=True)
    with app.app_context():
        assert "误录的值班记录" not in open_items_text(db.session, world.a)


def test_the_supervisor_no_longer_deletes_late_takeover_records(app, world, client_as):
    with app.app_context():
        rid = make(AttendanceException, world.a, staff_id=world.users["clerk"], day=today(), commit=True).id
    assert client_as("supervisor").post("/admin/attendance_exception/delete/", {"id": rid}).status_code == 403
    with app.app_context():
        assert reload(AttendanceException, rid) is not None


def test_master_data_is_switched_off_and_deleted_only_when_nothing_points_at_it(app, world, client_as):
    it = client_as("it")
    unit = world.units[("A", "1-1-101")]  # residents live there
    r = it.post("/admin/unit/delete/", {"id": unit}, follow_redirects=True)
    assert "请改为停用" in r.get_data(as_text=True)
    with app.app_context():
        assert reload(Unit, unit) is not None
        spare = make(Department, world.a, name="临时部门", kind="other", commit=True).id
        used = db.session.scalar(select(Department.id).where(Department.property_id == world.a,
                                                             Department.kind == "isp"))
        version = reload(Department, used).version
    assert it.post("/admin/department/delete/", {"id": spare}).status_code == 302
    with app.app_context():
        assert reload(Department, spare) is None  # nothing pointed at it
    it.post(f"/admin/department/edit/?id={used}", {"name": "网通公司", "kind": "isp", "row_version": version})
    with app.app_context():
        assert reload(Department, used).active is False
    form = client_as("clerk").get("/admin/phone_log/new/").get_data(as_text=True)
    assert f'value="{used}"' not in form  # a 停用 department is no longer offered


def test_sqlite_enforces_foreign_keys_like_postgresql(app, world):
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(delete(Unit).where(Unit.id == world.units[("A", "1-1-101")]))
            db.session.flush()
        db.session.rollback()


# ---------------------------------------------------------------- money

def fee(app, world, code):
    with app.app_context():
        return db.session.scalar(select(FeeItem).where(FeeItem.property_id == world.a, FeeItem.code == code))


def test_a_price_in_force_is_never_edited_or_deleted_a_change_is_a_new_row(app, world, client_as):
    it = client_as("it")
    item = fee(app, world, "worker_pass_deposit")
    form = {"code": item.code, "name": item.name, "unit_of_charge": item.unit_of_charge,
            "effective_from": item.effective_from.isoformat(), "row_version": item.version}
    r = it.post(f"/admin/fee_item/edit/?id={item.id}", {**form, "amount": "150"})
    assert "已生效的价格不能修改" in r.get_data(as_text=True)
    assert "已生效过的价格不能删除" in it.post("/admin/fee_item/delete/", {"id": item.id},
                                         follow_redirects=True).get_data(as_text=True)
    end = today() + timedelta(days=10)
    assert it.post(f"/admin/fee_item/edit/?id={item.id}", {**form, "amount": "100", "effective_to": end.isoformat()}
                   ).status_code == 302
    assert it.post("/admin/fee_item/new/", {"code": item.code, "name": item.name, "unit_of_charge": "人",
                                            "amount": "150",
                                            "effective_from": (end + timedelta(days=1)).isoformat()}).status_code == 302
    with app.app_context():
        assert FeeItem.in_force(db.session, world.a, item.code).amount == Decimal("100.00")
        assert FeeItem.in_force(db.session, world.a, item.code, end + timedelta(days=2)).amount == Decimal("150.00")
        future = latest(FeeItem).id
    assert it.post("/admin/fee_item/delete/", {"id": future}).status_code == 302  # never in force: a typo, deletable


def test_payments_are_never_edited_a_correction_is_a_reversal(app, world, client_as):
    fin = client_as("finance")
    r = fin.post("/admin/payment/new/", {"receipt_no": "CW-9", "kind": "fee", "payer": "王", "quantity": "1",
                                         "amount": "80", "paid_at": now().strftime("%Y-%m-%d %H:%M:%S")})
    assert r.status_code == 302
    with app.app_context():
        pay = latest(Payment)
    assert fin.get(f"/admin/payment/edit/?id={pay.id}").status_code == 403
    assert fin.post(f"/admin/payment/edit/?id={pay.id}", {"amount": "8", "row_version": pay.version}).status_code == 403
    step(fin, "payment", "reverse", pay.id, comment="金额录错")
    with app.app_context():
        original, reversal = reload(Payment, pay.id), latest(Payment)
        assert original.amount == Decimal("80.00") and original.state == "reversed"
        assert reversal.kind == "reversal" and reversal.amount == Decimal("-80.00") and reversal.linked_id == pay.id
        assert sum(p.amount for p in db.session.scalars(select(Payment))) == 0


def test_the_desk_records_a_sale_as_a_payment_that_finance_confirms(app, world, client_as):
    clerk = client_as("clerk")
    clerk.post("/admin/function_card/new/", {"unit": world.units[("A", "1-1-101")],
                                             "resident": world.residents[("A", "owner")], "quantity": "2"})
    with app.app_context():
        card = latest(FunctionCard)
        pay = db.session.scalar(select(Payment).where(Payment.linked_register == "function_card",
                                                      Payment.linked_id == card.id))
        assert pay.amount == Decimal("40.00") and pay.state == "recorded"
    assert clerk.post("/admin/payment/transition/confirm/", {"id": pay.id}).status_code == 403
    fin = client_as("finance")
    assert "请先填写" in step(fin, "payment", "confirm", pay.id).get_data(as_text=True)
    step(fin, "payment", "confirm", pay.id, receipt_no="CW-77")
    with app.app_context():
        assert reload(Payment, pay.id).state == "confirmed"


def test_finance_no_longer_extends_a_renovation(app, world, client_as):
    from models.permits import RenovationExtension
    with app.app_context():
        rid = make(RenovationExtension, world.a, state="approved", commit=True).id
    assert client_as("finance").post("/admin/renovation_extension/transition/extend/", {"id": rid}).status_code == 403


# ---------------------------------------------------------------- records about oneself

def checks(**extra):
    return {**{f"ok_{c}": "y" for c in "abcdefghij"}, **extra}


def test_a_checks_kind_follows_the_inspector_and_nobody_checks_or_corrects_themself(app, world, client_as):
    cs = client_as("cs_admin")
    assert cs.post("/admin/quality_check/new/", checks(kind="supervisor_spot",
                                                       staff_checked=world.users["clerk"])).status_code == 302
    with app.app_context():
        qc = latest(QualityCheck)
        assert qc.kind == "admin_daily" and qc.inspector_id == world.users["cs_admin"]
    r = cs.post("/admin/quality_check/new/", checks(staff_checked=world.users["cs_admin"]))
    assert "不能检查自己" in r.get_data(as_text=True)
    sup = client_as("supervisor")
    sup.post("/admin/quality_check/new/", checks(staff_checked=world.users["cs_admin"]))
    with app.app_context():
        about_cs = latest(QualityCheck)
    r = cs.post(f"/admin/quality_check/edit/?id={about_cs.id}",
                checks(ok_a="", nonconformities="无", corrective_action="无", row_version=about_cs.version))
    assert r.status_code in (302, 403)
    with app.app_context():
        assert reload(QualityCheck, about_cs.id).ok_a is True  # unchanged
    assert cs.post("/admin/quality_check/ajax/update/", {"list_form_pk": f"{about_cs.id}.{about_cs.version}"}
                   ).status_code in (403, 404)
    r = client_as("manager").get(f"/admin/quality_check/edit/?id={about_cs.id}", follow_redirects=True)
    assert "只有检查人本人" in r.get_data(as_text=True)
    assert "与您本人有关" in step(cs, "quality_check", "void_own", about_cs.id, comment="x").get_data(as_text=True)


def test_nobody_edits_an_attendance_record_about_themself(app, world, client_as):
    with app.app_context():
        rec = make(AttendanceException, world.a, staff_id=world.users["supervisor"], day=today(), kind="late",
                   created_by_id=world.users["cs_admin"], commit=True)
        rid, version = rec.id, rec.version
    r = client_as("supervisor").post(f"/admin/attendance_exception/edit/?id={rid}",
                                     {"day": today().isoformat(), "kind": "missed", "row_version": version})
    assert r.status_code in (302, 403)
    with app.app_context():
        assert reload(AttendanceException, rid).kind == "late"


def test_a_clerk_sees_and_edits_only_their_own_leave_requests(app, world, client_as):
    day = (today() + timedelta(days=3)).isoformat()
    client_as("clerk").post("/admin/leave_request/new/", {"kind": "leave", "day": day, "reason": "看病"})
    client_as("clerk2").post("/admin/leave_request/new/", {"kind": "leave", "day": day, "reason": "体检复查",
                                                           "staff": world.users["clerk"]})
    with app.app_context():
        mine, theirs = db.session.scalars(select(LeaveRequest).order_by(LeaveRequest.id)).all()
        assert theirs.staff_id == world.users["clerk2"]  # applied for themself whatever the form said
    clerk = client_as("clerk")
    page = clerk.get("/admin/leave_request/").get_data(as_text=True)
    assert "看病" in page and "体检复查" not in page
    assert clerk.get(f"/admin/leave_request/details/?id={theirs.id}").status_code == 404
    assert clerk.get(f"/admin/leave_request/edit/?id={theirs.id}").status_code == 404
    assert "体检复查" in client_as("supervisor").get("/admin/leave_request/").get_data(as_text=True)


def test_the_duty_log_is_not_rewritten_after_the_shift(app, world, client_as):
    travel_to(datetime.combine(today(), time(9, 0)))
    clerk = client_as("clerk")
    clerk.post("/admin/duty_log/new/", {"source": "phone", "content": "3栋停电", "priority": "high",
                                        "escalation": "self", "follow_up": "open"})
    with app.app_context():
        log = latest(DutyLog)
    form = {"source": "phone", "content": "3栋停电", "priority": "high", "escalation": "self", "follow_up": "open"}
    assert clerk.post(f"/admin/duty_log/edit/?id={log.id}", {**form, "content": "3栋停电(已报修)",
                                                            "row_version": log.version}).status_code == 302
    travel_to(datetime.combine(today(), time(21, 0)))  # every shift ends by 20:00
    with app.app_context():
        log = reload(DutyLog, log.id)
    r = clerk.post(f"/admin/duty_log/edit/?id={log.id}", {**form, "content": "改写", "row_version": log.version})
    assert "交班后不能改写值班记录" in r.get_data(as_text=True)
    r = clerk.post(f"/admin/duty_log/edit/?id={log.id}", {**form, "content": log.content, "handling": "已修复",
                                                          "follow_up": "done", "row_version": log.version})
    assert r.status_code == 302
    with app.app_context():
        log = reload(DutyLog, log.id)
        assert log.handling == "已修复" and log.content == "3栋停电(已报修)"
    r = clerk.post(f"/admin/duty_log/edit/?id={log.id}", {**form, "content": log.content, "handling": "改",
                                                          "follow_up": "done", "row_version": log.version})
    assert "已完成跟进" in r.get_data(as_text=True)


def test_a_roster_changed_after_the_review_goes_back_to_draft(app, world, client_as):
    month = (today().replace(day=1) + timedelta(days=32)).replace(day=1)
    cs = client_as("cs_admin")
    cs.post("/admin/roster/new/", {"month": month.isoformat()})
    with app.app_context():
        rid = latest(Roster).id
        shift = db.session.scalar(select(__import__("models").Shift.id).where(
            __import__("models").Shift.property_id == world.a))
    step(cs, "roster", "submit", rid)
    step(client_as("supervisor"), "roster", "review", rid)
    assert reload_state(app, Roster, rid) == "reviewed"
    cs.post(f"/admin/roster/grid/?id={rid}", {f"c_{world.users['clerk']}_{month}": shift})
    assert reload_state(app, Roster, rid) == "draft"
    assert "排班人员" not in step(client_as("manager"), "roster", "file", rid).get_data(as_text=True)
    assert reload_state(app, Roster, rid) == "draft"  # filing needs a new review first


# ---------------------------------------------------------------- oversight and the other duties

def test_regional_sees_totals_and_deadlines_per_property_not_the_records(app, world, client_as):
    with app.app_context():
        make(RepairOrder, world.a, received_at=now() - timedelta(hours=1), commit=True)
        make(RepairOrder, world.b, commit=True)
    regional = client_as("regional")
    page = regional.get("/admin/overview/").get_data(as_text=True)
    assert "翠湖花园" in page and "云顶华庭" in page and "报修单" in page and 'class="text-danger">1<' in page
    regional.post("/property", {"property_id": "all"})
    for register in ("resident", "goods_pass", "worker_pass", "repair_order", "audit_log"):
        assert regional.get(f"/admin/{register}/").status_code == 403, register
        assert regional.get(f"/admin/{register}/export/csv/").status_code == 403, register


def test_the_demo_regional_manager_is_not_an_approver(tmp_path):
    from app.config import TestConfig
    from app.factory import create_app
    from seeds.demo import load_demo
    demo = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.db'}")
    with demo.app_context():
        db.create_all()
        load_demo()
        regional = db.session.scalar(select(StaffUser).where(StaffUser.username == "regional"))
        assert {m.role.code for m in regional.memberships} == {"regional"}
        db.engine.dispose()


def test_engineering_reads_no_resident_file_and_cs_admin_closes_no_major_incident(app, world, client_as):
    assert client_as("engineering").get("/admin/resident/").status_code == 403
    with app.app_context():
        rid = make(Incident, world.a, reported_at=now(), departments_notified="工程部", commit=True).id
    cs = client_as("cs_admin")
    assert cs.post("/admin/incident/transition/close/", {"id": rid}).status_code == 403
    sup = client_as("supervisor")
    step(sup, "incident", "record_handling", rid, handling="已关阀抢修")
    step(sup, "incident", "close", rid)
    assert reload_state(app, Incident, rid) == "closed"


def test_the_manager_replies_to_and_closes_an_escalated_complaint(app, world, client_as):
    from models.desk import Complaint
    with app.app_context():
        rid = make(Complaint, world.a, commit=True).id
    mgr = client_as("manager")
    step(mgr, "complaint", "give_reply", rid, reply="经理已致电业主致歉")
    step(mgr, "complaint", "close", rid)
    assert reload_state(app, Complaint, rid) == "closed"


def test_finance_sees_the_network_requests_with_a_fee_due_only(app, world, client_as):
    with app.app_context():
        due = make(NetworkRequest, world.a, kind="reactivate", amount=Decimal("20"), commit=True).number
        free = make(NetworkRequest, world.a, kind="pause", amount=None, commit=True)
        free_id, free = free.id, free.number
    page = client_as("finance").get("/admin/network_request/").get_data(as_text=True)
    assert due in page and free not in page
    assert client_as("finance").get(f"/admin/network_request/details/?id={free_id}").status_code == 404


def test_the_lobby_sees_handed_over_applications_and_confirms_the_letter(app, world, client_as):
    with app.app_context():
        handed = make(StairElevatorUse, world.a, state="handed_over", commit=True)
        handed_id, handed = handed.id, handed.number
        pending = make(StairElevatorUse, world.a, state="submitted", commit=True).number
    guard = client_as("guard")
    page = guard.get("/admin/stair_elevator_use/").get_data(as_text=True)
    assert handed in page and pending not in page
    assert "请先上传“承诺书(签字)”" in step(guard, "stair_elevator_use", "confirm_letter", handed_id).get_data(
        as_text=True
    )
    step(guard, "stair_elevator_use", "confirm_letter", handed_id, doc_commitment_letter=upload("letter.jpg"))
    with app.app_context():
        s = reload(StairElevatorUse, handed_id)
        assert s.state == "letter_received" and s.letter_received_at is not None


def test_the_supervisor_approves_a_fire_elevator_use_the_cs_admin_entered(app, world, client_as):
    with app.app_context():
        rid = make(StairElevatorUse, world.a, kind="fire_elevator", state="reviewed",
                   created_by_id=world.users["cs_admin"], commit=True).id
    assert "自己创建的记录" in step(client_as("cs_admin"), "stair_elevator_use", "approve", rid).get_data(as_text=True)
    step(client_as("supervisor"), "stair_elevator_use", "approve", rid)
    assert reload_state(app, StairElevatorUse, rid) == "approved"


def test_a_move_in_marks_the_unit_occupied(app, world, client_as):
    uid = world.units[("A", "1-1-101")]
    with app.app_context():
        u = reload(Unit, uid)
        u.status = "vacant"
        db.session.commit()
    client_as("clerk").post("/admin/move_in/new/", {"unit": uid, "resident": world.residents[("A", "owner")],
                                                    "documents_checked": "y", "keys_handed": "2"})
    with app.app_context():
        assert reload(Unit, uid).status == "occupied"


def test_a_refused_cross_property_attempt_is_shown_to_the_targeted_propertys_supervisor(app, world, client_as):
    with app.app_context():
        other = make(PhoneLog, world.b, commit=True).id
    client_as("cs_admin").post("/admin/phone_log/action/", {"action": "void", "rowid": other})
    client_as("clerk").post("/admin/phone_log/new/", {"caller": "x", "content": "y",
                                                      "department": str(db_department(app, world.b))})
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "denied")).all()
        assert rows and all(r.property_id == world.b for r in rows)
    page = client_as("supervisor_b").get("/admin/audit_log/?search=denied").get_data(as_text=True)
    assert "拒绝访问" in page
    assert "拒绝访问" not in client_as("supervisor").get("/admin/audit_log/?search=denied").get_data(as_text=True)


def db_department(app, pid):
    with app.app_context():
        return db.session.scalar(select(Department.id).where(Department.property_id == pid))


def test_a_past_date_helper_is_a_date():  # keeps the imports honest for ruff
    assert isinstance(date.today(), date)
