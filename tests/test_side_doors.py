"""Issue #11: no side doors. Each of the ten points, through the shared layer; the generated sweeps are in
tests/test_sweeps.py."""
import csv
import io
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from kernel.audit import AuditLog
from kernel.clock import today
from kernel.db import db
from kernel.identity import StaffUser
from models.desk import PhoneLog, RepairOrder
from models.duty import DutyLog, LeaveRequest
from models.master import Department, Unit
from tests.factories import make
from tests.helpers import latest, reload, step, version_of

ROOT = Path(__file__).resolve().parent.parent


# 1. step forms are scoped ----------------------------------------------------------------------------------
def test_a_step_form_offers_only_this_propertys_departments_and_refuses_another(app, world, client_as):
    with app.app_context():
        order = make(RepairOrder, world.a, unit_id=world.units[("A", "1-1-101")], commit=True)
        order_id = order.id
        dept_a = db.session.scalar(select(Department.id).where(Department.property_id == world.a).limit(1))
        dept_b = db.session.scalar(select(Department.id).where(Department.property_id == world.b).limit(1))
    clerk = client_as("clerk")
    page = clerk.get(f"/admin/repair_order/details/?id={order_id}").get_data(as_text=True)
    dispatch_form = page.split('/transition/dispatch/')[1].split("</form>")[0]
    assert f'value="{dept_a}"' in dispatch_form and f'value="{dept_b}"' not in dispatch_form
    r = step(clerk, "repair_order", "dispatch", order_id, department=dept_b)
    assert "不属于当前项目" in r.get_data(as_text=True)
    with app.app_context():
        assert reload(RepairOrder, order_id).state == "registered"
        denied = db.session.scalar(select(AuditLog).where(AuditLog.action == "denied",
                                                          AuditLog.register == "repair_order"))
        assert denied is not None and denied.property_id == world.b  # the property the attempt reached for
    step(clerk, "repair_order", "dispatch", order_id, department=dept_a)
    with app.app_context():
        assert reload(RepairOrder, order_id).department_id == dept_a


def test_a_substitute_must_be_desk_staff_of_that_property(app, world, client_as):
    with app.app_context():
        leave = make(LeaveRequest, world.a, staff_id=world.users["clerk"], day=today() + timedelta(days=3),
                     created_by_id=world.users["clerk"], commit=True).id
    sup = client_as("supervisor")
    page = sup.get(f"/admin/leave_request/details/?id={leave}").get_data(as_text=True)
    approve_form = page.split("/transition/approve/")[1].split("</form>")[0]
    assert f'value="{world.users["clerk2"]}"' in approve_form           # desk staff of A
    assert f'value="{world.users["clerk_b"]}"' not in approve_form      # another property's clerk
    assert f'value="{world.users["finance"]}"' not in approve_form      # not desk staff
    step(sup, "leave_request", "approve", leave, substitute=world.users["clerk_b"])
    with app.app_context():
        assert reload(LeaveRequest, leave).state == "submitted"


def test_two_departments_of_the_same_name_read_differently(app, world):
    with app.app_context():
        a = Department(property_id=world.a, name="维修班", kind="engineering", contact="张")
        b = Department(property_id=world.a, name="维修班", kind="cleaning", contact="李")
        db.session.add_all([a, b])
        db.session.commit()
        assert str(a) != str(b) and "维修班" in str(a)


# 2. audit and history show only what the register shows ----------------------------------------------------
def test_it_cannot_read_the_duty_log_through_the_audit_log(app, world, client_as):
    client_as("clerk").post("/admin/duty_log/new/", {"content": "机密：3栋业主纠纷", "source": "phone",
                                                     "priority": "normal", "escalation": "self", "follow_up": "open"})
    with app.app_context():
        assert db.session.query(DutyLog).count() == 1
    assert "机密" not in client_as("it").get("/admin/audit_log/?search=duty_log").get_data(as_text=True)
    assert "机密" in client_as("supervisor").get("/admin/audit_log/?search=duty_log").get_data(as_text=True)


# 3. exports carry no live formulas -------------------------------------------------------------------------
def test_exports_neutralise_formulas_and_keep_numbers(app, world, client_as):
    evil = '=HYPERLINK("http://e.x/","点我")'  # within the caller's 40 characters
    with app.app_context():
        make(PhoneLog, world.a, caller=evil, content="+1 打电话", commit=True)
    c = client_as("clerk")
    rows = list(csv.reader(io.StringIO(c.get("/admin/phone_log/export/csv/").get_data(as_text=True).lstrip("\ufeff"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + evil in cells and "'+1 打电话" in cells and evil not in cells
    sheet = load_workbook(io.BytesIO(c.get("/admin/phone_log/export/xlsx/").data)).active
    values = [cell.value for row in sheet.iter_rows(min_row=2) for cell in row]
    assert "'" + evil in values and not any(isinstance(v, str) and v.startswith("=") for v in values)


def test_xlsx_export_of_a_register_whose_name_has_a_slash(app, world, client_as):
    r = client_as("clerk").get("/admin/stair_elevator_use/export/xlsx/")
    assert r.status_code == 200
    assert load_workbook(io.BytesIO(r.data)).active.title == "使用楼梯_电梯申请"


# 4. sessions can be revoked --------------------------------------------------------------------------------
def _cookie(client):
    return client.http.get_cookie("session").value


def test_a_copied_cookie_dies_with_logout(app, world, client_as):
    c = client_as("clerk")
    copied = _cookie(c)
    thief = client_as()
    thief.http.set_cookie("session", copied)
    assert thief.get("/admin/repair_order/").status_code == 200
    c.post("/logout")
    assert thief.get("/admin/repair_order/").status_code == 302  # sent to the login page


def test_a_password_reset_or_deactivation_ends_every_session_of_that_user(app, world, client_as):
    c1, c2 = client_as("clerk"), client_as("clerk")
    it = client_as("it")
    uid = world.users["clerk"]
    with app.app_context():
        v = version_of("staff_user", uid)
    r = it.post(f"/admin/staff_user/edit/?id={uid}", {"username": "clerk", "full_name": "clerk", "active": "y",
                                                       "new_password": "newpass123", "row_version": v})
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    assert c1.get("/admin/repair_order/").status_code == 302 and c2.get("/admin/repair_order/").status_code == 302
    c3 = client_as()
    assert c3.login("clerk", "newpass123").status_code == 302
    it.post("/admin/staff_user/action/", {"action": "end_sessions", "rowid": uid})
    assert c3.get("/admin/repair_order/").status_code == 302
    c4 = client_as()
    c4.login("clerk", "newpass123")
    with app.app_context():
        v = version_of("staff_user", uid)
    it.post(f"/admin/staff_user/edit/?id={uid}", {"username": "clerk", "full_name": "clerk", "row_version": v})
    with app.app_context():
        assert reload(StaffUser, uid).active is False
    assert c4.get("/admin/repair_order/").status_code == 302


def test_the_factory_refuses_a_default_secret_and_makes_one_per_install(tmp_path):
    code = ("from app.config import Config; from app.factory import create_app; "
            "create_app(Config, SQLALCHEMY_DATABASE_URI='sqlite://', SECRET_KEY={key!r}, SECRET_KEY_FILE={file!r})")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLASK_DEBUG": "0"}
    weak = subprocess.run([sys.executable, "-c", code.format(key="dev-only-not-secret", file=str(tmp_path / "k"))],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    assert weak.returncode != 0 and "refusing to start" in weak.stderr
    made = subprocess.run([sys.executable, "-c", code.format(key=None, file=str(tmp_path / "k"))],
                          cwd=ROOT, capture_output=True, text=True, env=env)
    assert made.returncode == 0, made.stderr
    secret = (tmp_path / "k").read_text()
    assert len(secret) >= 32 and oct((tmp_path / "k").stat().st_mode)[-3:] == "600"
    subprocess.run([sys.executable, "-c", code.format(key=None, file=str(tmp_path / "k"))], cwd=ROOT, env=env)
    assert (tmp_path / "k").read_text() == secret  # made once, kept


# 5. the stale-edit check cannot be skipped -----------------------------------------------------------------
def test_a_missing_or_malformed_row_version_is_refused_like_a_stale_one(app, world, client_as):
    uid = world.units[("A", "1-1-201")]
    c = client_as("cs_admin")
    form = {"building": "1", "entrance": "1", "room": "201", "status": "vacant"}
    for version in (None, "", "abc", "1.5"):
        data = form if version is None else {**form, "row_version": version}
        r = c.post(f"/admin/unit/edit/?id={uid}", data)
        assert "已被他人修改" in r.get_data(as_text=True)
        assert c.post("/admin/unit/ajax/update/", {"list_form_pk": f"{uid}.{version or ''}",
                                                   "status": "vacant"}).status_code == 400
    with app.app_context():
        assert reload(Unit, uid).status == "occupied"
        order = make(RepairOrder, world.a, unit_id=uid, commit=True).id
    r = client_as("clerk").post("/admin/repair_order/transition/tell_delay/", {"id": order},
                                follow_redirects=True)
    assert "已被他人修改" in r.get_data(as_text=True)
    with app.app_context():
        assert reload(RepairOrder, order).delay_told_at is None


# 6. the audit address does not trust X-Forwarded-For --------------------------------------------------------
def test_the_audit_address_ignores_a_forged_forwarded_header(app, world, client_as):
    c = client_as("clerk")
    c.post("/admin/phone_log/new/", {"caller": "王", "content": "问询"},
           headers={"X-Forwarded-For": "6.6.6.6, evil"}, environ_base={"REMOTE_ADDR": "10.0.0.7"})
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.register == "phone_log", AuditLog.action == "create"))
        assert row.address == "10.0.0.7"


def test_with_one_trusted_proxy_the_client_address_is_the_last_hop(tmp_path):
    code = """
from app.config import TestConfig
from app.factory import create_app
from kernel.db import db
from tests.world import build
from tests.conftest import Client
from kernel.audit import AuditLog
app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI='sqlite:///{db}', TRUSTED_PROXIES=1)
with app.app_context():
    db.create_all(); build()
c = Client(app, 'clerk')
c.post('/admin/phone_log/new/', {{'caller': 'x', 'content': 'y'}},
       headers={{'X-Forwarded-For': '6.6.6.6, 203.0.113.9'}}, environ_base={{'REMOTE_ADDR': '10.0.0.1'}})
with app.app_context():
    print(db.session.query(AuditLog).filter_by(register='phone_log').one().address)
""".format(db=tmp_path / "p.db")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.stdout.strip().splitlines()[-1] == "203.0.113.9", r.stderr[-2000:]


# 7. login throttling: no targeted lockout ------------------------------------------------------------------
def test_five_failures_lock_that_account_from_that_unknown_browser_only(app, world, client_as):
    c = client_as()
    for _ in range(5):
        assert c.login("clerk", "wrong").status_code == 401
    assert c.login("clerk", "demo1234").status_code == 429
    assert client_as().login("supervisor").status_code == 302


def test_failures_from_many_addresses_do_not_lock_out_the_users_own_browser(app, world, client_as):
    own = client_as("clerk")      # logged in before: this browser holds the device cookie for clerk
    own.post("/logout")
    for i in range(30):           # an attacker from 30 addresses, 1 try each
        attacker = client_as()
        r = attacker.http.post(
            "/login",
            data={"username": "clerk", "password": "guess", "csrf_token": attacker.token()},
            environ_base={"REMOTE_ADDR": f"198.51.100.{i}"},
        )
        assert r.status_code in (401, 429)
    stranger = client_as()
    assert stranger.login("clerk", "demo1234").status_code == 429   # unknown browsers: account limit reached
    assert own.login("clerk", "demo1234").status_code == 302        # the clerk's own browser still gets in


def test_login_counts_are_shared_by_workers_through_redis(tmp_path):
    """Two processes (two workers) on one Redis: three failures in one and two in the other lock the account."""
    import redis
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except Exception as ex:  # no Redis here
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis required (REQUIRE_REDIS=1) but unreachable: {ex}")
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379 ({ex})")
    # a prefix of this run's own: a process id can come back within the limit's 15 minutes (pid_max is 32768 here
    # and a suite's browsers spawn hundreds of processes), and counts an earlier run left under it would be added
    prefix = f"fdtest{uuid.uuid4().hex}"
    code = """
import sys
from app.config import TestConfig
from app.factory import create_app
from kernel.db import db
from tests.conftest import Client
from tests.world import build
app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI='sqlite:///{db}', RATELIMIT_STORAGE_URI='redis://127.0.0.1:6379/9',
                 RATELIMIT_KEY_PREFIX='{prefix}')
with app.app_context():
    db.create_all()
    if not db.session.query(__import__('kernel.identity', fromlist=['x']).StaffUser).count():
        build()
c = Client(app)
print([c.login('clerk', 'wrong').status_code for _ in range(int(sys.argv[1]))])
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(n):
        return subprocess.run([sys.executable, "-c", code.format(db=tmp_path / "r.db", prefix=prefix), str(n)],
                              cwd=ROOT, capture_output=True, text=True, env=env)

    first, second = run(3), run(3)
    assert first.stdout.strip().endswith("[401, 401, 401]"), (first.stdout[-300:], first.stderr[-1500:])
    assert second.stdout.strip().endswith("[401, 401, 429]"), (second.stdout[-300:], second.stderr[-1500:])


# 8. security headers ---------------------------------------------------------------------------------------
def test_pages_carry_anti_framing_and_a_content_security_policy(client_as):
    r = client_as("clerk").get("/admin/repair_order/")
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "same-origin"
    https = client_as().http.post("/login", base_url="https://localhost", data={"username": "x"})
    assert "Strict-Transport-Security" in https.headers


def test_cookies_are_secure_over_https(app, world, client_as):
    c = client_as()
    token = c.token()
    r = c.http.post("/login", base_url="https://localhost",
                    data={"username": "clerk", "password": "demo1234", "csrf_token": token})
    assert all("Secure" in h for h in r.headers.getlist("Set-Cookie"))


# 9. odd input never answers 500 (the generated sweep is tests/test_sweeps.py) --------------------------------
def test_a_date_in_year_9999_is_refused_and_lists_keep_working(app, world, client_as):
    c = client_as("clerk")
    r = c.post("/admin/phone_log/new/", {"caller": "王", "content": "x", "called_at": "9999-12-31 23:59:59"})
    assert r.status_code == 200 and "2000-01-01" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(PhoneLog).count() == 0
        from models.desk import NetworkRequest
        make(NetworkRequest, world.a, received_at=__import__("datetime").datetime(9999, 12, 31), commit=True)
    assert c.get("/admin/network_request/").status_code == 200
    assert c.get("/admin/network_request/?overdue=1").status_code == 200
    assert c.get("/admin/").status_code == 200


# 10. a clerk filing a leave request for someone else --------------------------------------------------------
def test_a_clerk_filing_leave_for_someone_else_files_it_for_themself(app, world, client_as):
    day = (today() + timedelta(days=3)).isoformat()
    r = client_as("clerk_b").post("/admin/leave_request/new/", {"staff": world.users["clerk_b"], "kind": "leave",
                                                                "day": day, "reason": "事假"})
    assert r.status_code == 302
    r = client_as("clerk").post("/admin/leave_request/new/", {"staff": world.users["clerk2"], "kind": "leave",
                                                              "day": day, "reason": "事假"})
    assert r.status_code == 302
    with app.app_context():
        assert latest(LeaveRequest).staff_id == world.users["clerk"]
        assert db.session.scalar(select(func.count()).select_from(LeaveRequest)) == 2
