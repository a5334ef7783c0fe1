"""Issue 13 without a browser: filters by label, error pages, login messages, history for people, final vs locked."""
import json
import re

from flask_admin.contrib.sqla.filters import FilterEqual, FilterInList
from sqlalchemy import select

from kernel.db import db
from models.desk import RepairOrder
from models.duty import Handover
from tests.factories import make
from tests.helpers import latest, step
from tests.test_permission_matrix import registers


def filter_groups(page):
    return json.loads(re.search(r'id="filter-groups-data" class="d-none">(.*?)</div>', page, re.S).group(1))


def arg(app, register, column, operation):
    with app.test_request_context():
        return registers(app)[register].filter_arg(column, operation)


def test_state_filters_by_a_dropdown_of_chinese_labels(app, world, client_as):
    with app.app_context():
        make(RepairOrder, world.a, state="registered", content="登记中的报修", commit=True)
        make(RepairOrder, world.a, state="dispatched", content="已派工的报修", commit=True)
    sup = client_as("supervisor")
    groups = filter_groups(sup.get("/admin/repair_order/").get_data(as_text=True))
    state = groups["状态"]
    assert [f["operation"] for f in state] == ["等于", "属于其中之一"]
    assert ["registered", "已登记"] in state[0]["options"] and state[1]["type"] == "select2-tags"
    page = sup.get(f"/admin/repair_order/?{arg(app, 'repair_order', 'state', FilterEqual)}=registered")
    assert "登记中的报修" in page.get_data(as_text=True) and "已派工的报修" not in page.get_data(as_text=True)
    both = sup.get(f"/admin/repair_order/?{arg(app, 'repair_order', 'state', FilterInList)}=registered,dispatched")
    assert "登记中的报修" in both.get_data(as_text=True) and "已派工的报修" in both.get_data(as_text=True)
    # a label or a code that is not a choice is refused with a message, never matched as text
    refused = sup.get(f"/admin/repair_order/?{arg(app, 'repair_order', 'state', FilterEqual)}=已登记")
    assert "已派工的报修" in refused.get_data(as_text=True) and "登记中的报修" in refused.get_data(as_text=True)
    for group in groups.values():  # every choice column offers its labels, no free text of codes
        for f in group:
            assert f["type"] != "select2-tags" or f["options"], group


def test_every_choice_column_filters_by_its_labels(app, world, client_as):
    it = client_as("supervisor")
    cases = (("repair_order", "来源", "phone", "电话"), ("complaint", "类别", "suggestion", "建议"),
             ("duty_log", "轻重缓急", "high", None))
    for register, label, code, text in cases:
        groups = filter_groups(it.get(f"/admin/{register}/").get_data(as_text=True))
        options = dict(map(tuple, groups[label][0]["options"]))
        assert code in options and (text is None or options[code] == text), (register, options)


def test_department_filter_offers_this_propertys_departments_by_name(app, world, client_as):
    sup = client_as("supervisor")
    groups = filter_groups(sup.get("/admin/repair_order/").get_data(as_text=True))
    assert "接单部门" in groups and not any("/" in k for k in groups)
    names = [n for _, n in groups["接单部门"][0]["options"]]
    assert names == sorted(["工程部", "网通公司（网络运营商）"])  # the kind tells two departments apart
    with app.app_context():
        from models.master import Department
        ids_b = set(db.session.scalars(select(Department.id).where(Department.property_id == world.b)))
    assert not ids_b & {i for i, _ in groups["接单部门"][0]["options"]}
    audit = filter_groups(sup.get("/admin/audit_log/").get_data(as_text=True))
    assert "用户" in audit and "登记簿" in audit and ["repair_order", "报修单"] in audit["登记簿"][0]["options"]


def test_filters_follow_the_language(app, world, client_as):
    sup = client_as("supervisor")
    sup.get("/language/en")
    groups = filter_groups(sup.get("/admin/repair_order/").get_data(as_text=True))
    assert "State" in groups and ["registered", "Registered"] in groups["State"][0]["options"]
    assert [f["operation"] for f in groups["State"]] == ["equals", "is one of"]


def test_error_pages_are_chinese_in_the_apps_frame_with_a_way_home(app, world, client_as):
    guard = client_as("guard")
    for url, code in (("/admin/nope/", 404), ("/admin/audit_log/", 403)):
        r = guard.get(url)
        page = r.get_data(as_text=True)
        assert r.status_code == code and 'id="fd-error"' in page and 'id="fd-home"' in page
        assert "navbar" in page and "Not Found" not in page and "Forbidden" not in page
    r = guard.http.put("/login")
    assert r.status_code == 405 and "不支持的操作" in r.get_data(as_text=True)
    r = guard.post("/admin/repair_order/new/", {"contact": "x"}, csrf=False)
    assert r.status_code == 400 and "页面已过期" in r.get_data(as_text=True)


def test_error_page_shows_the_request_id_when_there_is_one(app, world):
    from flask import g

    from app.errors import page
    with app.test_request_context("/x"):
        g.request_id = "req-42"
        html, code = page(404)
    assert code == 404 and "req-42" in html


def test_a_crash_is_a_styled_500_that_saved_nothing(app, world, client_as, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        from admin_views.desk import PhoneLogView
        monkeypatch.setattr(PhoneLogView, "get_list", lambda *a, **k: 1 / 0)
        r = client_as("clerk").get("/admin/phone_log/")
        assert r.status_code == 500 and "系统出错" in r.get_data(as_text=True) and "fd-home" in r.get_data(as_text=True)
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None


def test_logged_out_scan_asks_to_log_in_in_chinese(client_as):
    c = client_as()
    r = c.get("/verify/goods_pass/A-FX-1")
    assert r.status_code == 302
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "请先登录，再打开此页面。" in page and "Please log in" not in page


def test_the_clock_control_exists_only_when_testing(app, client_as):
    from app.config import Config
    from app.factory import create_app
    from kernel import pii
    prod = create_app(Config, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    pii.configure(app.config["PII_KEYS"], app.config["PII_INDEX_KEY"])  # the keys are process-wide: the tests' again
    assert "test_clock.move" not in prod.view_functions
    assert prod.test_client().post("/_test/clock", data={"minutes": "60"}).status_code == 404
    assert "test_clock.move" in app.view_functions
    from kernel.clock import offset
    assert client_as().post("/_test/clock", {"minutes": "90"}, csrf=False).status_code == 200
    assert offset().total_seconds() == 90 * 60
    assert client_as().post("/_test/clock", {"minutes": "x"}, csrf=False).status_code == 400


def test_history_of_a_new_record_leaves_out_system_columns_and_reads_as_words(app, world, client_as):
    c = client_as("clerk")
    c.post("/admin/repair_order/new/", {"unit": world.units[("A", "1-1-101")], "contact": "王", "phone": "13800138000",
                                        "content": "灯坏", "source": "phone", "urgent": "y"})
    with app.app_context():
        rid = latest(RepairOrder).id
    page = c.get(f"/admin/repair_order/details/?id={rid}").get_data(as_text=True)
    history = page.split('id="fd-history"')[1]
    assert "1-1-101" in history and "是" in history and "电话" in history
    for system in ("<b>id</b>", "<b>version</b>", "项目</b>", "创建时间</b>", "T0", "True"):
        assert system not in history, system
    assert "版本" not in page.split('id="fd-details"')[1].split("</table>")[0]  # no Version row


def test_a_refused_attempt_reads_in_words_in_the_audit_log(app, world, client_as):
    with app.app_context():
        other = make(RepairOrder, world.b, commit=True).id
    client_as("clerk").get(f"/admin/repair_order/details/?id={other}")
    page = client_as("supervisor_b").get("/admin/audit_log/").get_data(as_text=True)
    assert "记录属于其他项目" in page and "other property" not in page and "拒绝访问" in page
    assert "A-BX-" in page or "B-BX-" in page  # the record by its number, not its id


def test_read_only_final_only_when_no_step_is_left(app, world, client_as):
    from models.permits import WorkerPass
    with app.app_context():
        p = make(WorkerPass, world.a, state="issued", commit=True)  # issued: locked, the card still comes back
        pid = p.id
    page = client_as("clerk").get(f"/admin/worker_pass/details/?id={pid}").get_data(as_text=True)
    assert 'id="fd-locked"' in page and 'id="fd-final"' not in page and "退证" in page
    with app.app_context():
        db.session.get(WorkerPass, pid).state = "refunded"
        db.session.commit()
    page = client_as("clerk").get(f"/admin/worker_pass/details/?id={pid}").get_data(as_text=True)
    assert 'id="fd-final"' in page and "本记录已签发/已完结，只读。" in page


def test_a_handover_locks_only_when_both_have_signed(app, world, client_as):
    """Issue 12, rule 7 (4.3.4): after the outgoing signs, the incoming still records their own checks."""
    with app.app_context():
        shift = db.session.scalar(select(__import__("models.master", fromlist=["Shift"]).Shift.id).where(
            __import__("models.master", fromlist=["Shift"]).Shift.property_id == world.a))
        h = make(Handover, world.a, state="outgoing_signed", to_shift_id=shift, commit=True)
        hid = h.id
    page = client_as("cs_admin").get(f"/admin/handover/details/?id={hid}").get_data(as_text=True)
    assert 'id="fd-locked"' not in page and 'id="fd-final"' not in page and "接班人签字" in page
    assert "接班人已检查前台环境" in page
    with app.app_context():
        db.session.get(Handover, hid).state = "locked"
        db.session.commit()
    page = client_as("cs_admin").get(f"/admin/handover/details/?id={hid}").get_data(as_text=True)
    assert 'id="fd-final"' in page and "本记录已签发/已完结，只读。" in page


def test_the_return_step_asks_for_its_own_reason(app, world, client_as):
    from models.permits import WorkerPass
    from tests.test_permits import issued_worker_pass
    c, _, wid = issued_worker_pass(app, world, client_as)
    page = c.get(f"/admin/worker_pass/details/?id={wid}").get_data(as_text=True)
    form = page.split("/transition/return_pass/")[1].split("</form>")[0]
    assert "退证原因" in form and "换发原因" not in form
    step(c, "worker_pass", "return_pass", wid, return_reason="完工退场")
    with app.app_context():
        wp = db.session.get(WorkerPass, wid)
        assert wp.state == "returned" and wp.return_reason == "完工退场" and wp.reissue_reason is None


def test_page_size_menu_reads_items_per_page(app, world, client_as):
    page = client_as("clerk").get("/admin/repair_order/").get_data(as_text=True)
    assert "25 条/页" in page and "项目</a>" not in page and "25 项目" not in page


def test_values_entered_on_a_step_show_under_the_steps_name(app, world, client_as):
    from models.master import Department
    c = client_as("clerk")
    with app.app_context():
        rid = make(RepairOrder, world.a, state="registered", commit=True).id
        dept = db.session.scalar(select(Department.id).where(Department.property_id == world.a,
                                                             Department.name == "工程部"))
    step(c, "repair_order", "dispatch", rid, department=dept)
    history = c.get(f"/admin/repair_order/details/?id={rid}").get_data(as_text=True).split('id="fd-history"')[1]
    rows = history.split("<tr>")[1:]
    dispatch = [r for r in rows if "<td>派工</td>" in r]
    assert any("接单部门</b>: — → 工程部" in r for r in dispatch), rows[:3]
    assert not [r for r in rows if "<td>修改</td>" in r]
