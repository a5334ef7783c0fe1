"""Issue 17, the desk's hands: one's own password, data entry at the desk, the roster grid."""
import calendar
import json
import re
from datetime import timedelta

import pytest

from kernel.clock import today
from kernel.db import db
from kernel.identity import StaffUser
from kernel.register import model_for
from kernel.saved_views import SavedView
from models import GoodsPass, RepairOrder
from models.duty import Roster, RosterAssignment
from seeds.demo import DEMO_USERS
from tests.helpers import latest, step
from tests.test_desk import new_repair
from tests.test_duty import next_month, shifts
from tests.test_permits import new_goods_pass


def change(c, old="demo1234", new="Desk-2026x", again=None):
    return c.post("/password", {"password": old, "new_password": new,
                                "new_password_again": new if again is None else again})


# ---------------------------------------------------------------- self-service password change

@pytest.mark.parametrize("username", [u for u, _, _ in DEMO_USERS])
def test_every_role_finds_the_password_change_in_its_menu(world, client_as, username):
    page = client_as(username).get("/admin/").get_data(as_text=True)
    assert 'id="fd-password"' in page and 'href="/password"' in page


@pytest.mark.parametrize("new, why", [
    ("short7x", "至少8位"), ("1380013800", "不能全是数字"), ("Clerk", "至少8位"), ("clerk123", None)])
def test_a_weak_new_password_is_refused_with_the_rule_in_chinese(world, client_as, new, why):
    c = client_as("clerk")
    r = change(c, new=new)
    if why is None:
        assert r.status_code == 302
        return
    assert r.status_code == 400 and why in r.get_data(as_text=True)
    assert client_as().login("clerk", "demo1234").status_code == 302  # unchanged


def test_the_username_is_not_a_password(app, world, client_as):
    with app.app_context():
        u = db.session.get(StaffUser, world.users["clerk2"])
        u.username = "deskclerk"
        db.session.commit()
    c = client_as("deskclerk")
    r = change(c, new="DeskClerk")
    assert r.status_code == 400 and "不能与用户名相同" in r.get_data(as_text=True)


def test_the_old_password_and_the_new_one_twice_are_asked(world, client_as):
    c = client_as("clerk")
    page = c.get("/password").get_data(as_text=True)
    for name in ("password", "new_password", "new_password_again"):
        assert f'name="{name}"' in page
    assert "不能全是数字" in page  # the rule is said before it refuses
    r = change(c, old="wrong-one")
    assert r.status_code == 400 and "当前密码不正确" in r.get_data(as_text=True)
    r = change(c, again="Desk-2026y")
    assert r.status_code == 400 and "两次输入的新密码不一致" in r.get_data(as_text=True)


def test_changing_ends_the_other_sessions_and_keeps_this_one(world, client_as):
    elsewhere = client_as("clerk")
    here = client_as("clerk")
    assert elsewhere.get("/admin/").status_code == 200
    r = change(here)
    assert r.status_code == 302
    assert here.get("/admin/").status_code == 200  # this browser goes on
    r = elsewhere.get("/admin/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]  # the other one is over
    assert client_as().login("clerk", "demo1234").status_code == 401
    assert client_as().login("clerk", "Desk-2026x").status_code == 302


# ---------------------------------------------------------------- data entry at the desk

def created_flash(page):
    start = page.find('id="fd-created"')
    return page[start:page.find("</div>", start)] if start >= 0 else ""


def test_the_flash_after_saving_names_the_new_number_with_print_and_go_on_links(app, world, client_as):
    c = client_as("clerk")
    r = new_goods_pass(c, world)
    assert r.status_code == 302
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        gp = latest(GoodsPass)
    flash = created_flash(page)
    assert gp.number in flash
    assert f'href="/admin/goods_pass/print/?id={gp.id}"' in flash and "打印" in flash
    assert f'href="/admin/goods_pass/details/?id={gp.id}"' in flash and "继续办理" in flash
    assert "successfully" not in page and "成功创建" not in page  # one message, not two


def test_a_register_that_does_not_print_offers_no_print_link(app, world, client_as):
    c = client_as("clerk")
    page = c.get(new_repair(c, world).headers["Location"]).get_data(as_text=True)
    with app.app_context():
        order = latest(RepairOrder)
    flash = created_flash(page)
    assert order.number in flash and "继续办理" in flash and "打印" not in flash


def test_save_and_add_another_keeps_the_unit_and_applicant_of_the_household(app, world, client_as):
    c = client_as("clerk")
    r = new_goods_pass(c, world, _add_another="1")
    unit, owner = world.units[("A", "1-1-101")], world.residents[("A", "owner")]
    assert r.status_code == 302 and "/admin/goods_pass/new/" in r.headers["Location"]
    assert f"unit={unit}" in r.headers["Location"] and f"applicant={owner}" in r.headers["Location"]
    form = c.get(r.headers["Location"]).get_data(as_text=True)
    assert re.search(rf'<input[^>]*id="unit"[^>]*value="{unit}"', form)
    assert re.search(rf'<input[^>]*id="applicant"[^>]*value="{owner}"', form)
    assert 'name="carrier_name" type="text" value=""' in form or 'value="搬家李"' not in form  # not the rest
    # an id from another property fills nothing: each value goes through the field's own scoped lookup
    other = c.get(f"/admin/goods_pass/new/?unit={world.units[('B', '1-1-101')]}"
                  f"&applicant={world.residents[('B', 'owner')]}").get_data(as_text=True)
    assert not re.search(rf'<input[^>]*id="unit"[^>]*value="{world.units[("B", "1-1-101")]}"', other)
    assert "业主B" not in other


def test_the_resident_lookup_offers_only_the_residents_of_the_chosen_unit(world, client_as):
    c = client_as("clerk")

    def names(unit):
        url = "/admin/goods_pass/ajax/lookup/?name=applicant&query=%E4%B8%9A&offset=0&limit=10"
        return " ".join(label for _, label in c.get(url + (f"&unit={unit}" if unit else "")).get_json())
    assert "业主A" in names(None)
    assert "业主A" in names(world.units[("A", "1-1-101")])
    assert "业主A" not in names(world.units[("A", "3-2-1501")])


def test_the_first_field_of_a_form_has_the_focus(world, client_as):
    page = client_as("clerk").get("/admin/repair_order/new/").get_data(as_text=True)
    first = re.search(r'<(input|select|textarea)[^>]*\bautofocus\b[^>]*>', page)
    assert first and 'name="unit"' in first.group(0)


def test_a_destructive_step_is_red_and_asks_first_and_a_refused_one_is_greyed_with_why(app, world, client_as):
    c = client_as("cs_admin")
    assert new_goods_pass(c, world).status_code == 302
    with app.app_context():
        gp = latest(GoodsPass)
    page = c.get(f"/admin/goods_pass/details/?id={gp.id}").get_data(as_text=True)
    void = re.search(r'<form[^>]*id="step-void_own"[^>]*>.*?</form>', page, re.S).group(0)
    assert "data-fd-destructive" in void and "confirm(" in void and "btn-danger" in void
    sign = re.search(r'<form[^>]*id="step-sign"[^>]*>.*?</form>', page, re.S).group(0)
    assert "confirm(" not in sign
    button = re.search(r"<button[^>]*>", sign).group(0)
    assert "disabled" in button and "btn-outline-secondary" in button and "自己创建" in button  # the why as tooltip
    page = client_as("supervisor").get(f"/admin/goods_pass/details/?id={gp.id}").get_data(as_text=True)
    sign = re.search(r'<form[^>]*id="step-sign"[^>]*>.*?</form>', page, re.S).group(0)
    assert "disabled" not in re.search(r"<button[^>]*>", sign).group(0)


def test_a_step_whose_own_form_fills_what_it_needs_is_not_greyed(app, world, client_as):
    # 派工 needs the department, entered on the step's own form: the button stays live; the server judges the post
    c = client_as("clerk")
    assert new_repair(c, world).status_code == 302
    with app.app_context():
        order = latest(RepairOrder)
        assert order.department_id is None
    page = c.get(f"/admin/repair_order/details/?id={order.id}").get_data(as_text=True)
    dispatch = re.search(r'<form[^>]*id="step-dispatch"[^>]*>.*?</form>', page, re.S).group(0)
    assert "disabled" not in re.search(r"<button[^>]*>", dispatch).group(0)
    r = step(c, "repair_order", "dispatch", order.id)
    # posted without the department: refused with what to do
    assert "请先填写“接单部门”再派工" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(RepairOrder, order.id).state == "registered"


def test_reject_and_cancel_are_declared_destructive():
    for register, name in (("repair_order", "cancel"), ("renovation_permit", "reject")):
        assert model_for(register).transitions[name].destructive, (register, name)


# ---------------------------------------------------------------- roster grid: pattern, copy, coverage

def new_roster(app, c, month):
    assert c.post("/admin/roster/new/", {"month": month.isoformat()}).status_code == 302
    with app.app_context():
        return latest(Roster).id


def chosen(page, sid, day):
    """The shift id selected in a person's cell of a day on the grid page ('' for none)."""
    box = re.search(rf'<select name="c_{sid}_{day.isoformat()}"[^>]*>(.*?)</select>', page, re.S).group(1)
    m = re.search(r'<option value="(\d+)" selected>', box)
    return int(m.group(1)) if m else ""


def coverage_cell(page, shift_id, day):
    row = re.search(rf'<tr class="fd-coverage" data-shift="{shift_id}">(.*?)</tr>', page, re.S).group(1)
    return re.search(rf'<td class="([^"]*)" data-day="{day.isoformat()}"[^>]*>(\d+)</td>', row).groups()


def month_days(month):
    return [month + timedelta(days=i) for i in range(calendar.monthrange(month.year, month.month)[1])]


def test_a_pattern_fills_a_persons_month_on_the_page_and_saving_keeps_it(app, world, client_as):
    cs, month = client_as("cs_admin"), next_month()
    rid = new_roster(app, cs, month)
    sh, clerk = shifts(app, world), world.users["clerk"]
    r = cs.post(f"/admin/roster/grid/?id={rid}", {"fill": "1", "fill_staff": clerk, "pattern": "早早中中晚晚休",
                                                 "fill_from": "2"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="fd-proposed"' in page
    days = month_days(month)
    expected = [sh["early"], sh["early"], sh["middle"], sh["middle"], sh["late"], sh["late"], ""]
    assert chosen(page, clerk, days[0]) == ""  # before the day it starts from
    for i, day in enumerate(days[1:]):
        assert chosen(page, clerk, day) == expected[i % 7], day
    assert chosen(page, world.users["clerk2"], days[1]) == ""  # only that person
    with app.app_context():
        assert db.session.query(RosterAssignment).filter_by(roster_id=rid).count() == 0  # filled, not saved
    # what the page holds is saved through the grid's one save path
    form = {f"c_{clerk}_{d.isoformat()}": chosen(page, clerk, d) for d in days}
    assert cs.post(f"/admin/roster/grid/?id={rid}", form).status_code == 302
    with app.app_context():
        saved = {a.day: a.shift_id for a in db.session.query(RosterAssignment).filter_by(roster_id=rid)}
    assert len(saved) == len([d for i, d in enumerate(days[1:]) if expected[i % 7]])


def test_a_pattern_naming_no_shift_is_refused_and_keeps_the_cells_on_the_page(app, world, client_as):
    cs, month = client_as("cs_admin"), next_month()
    rid = new_roster(app, cs, month)
    sh, clerk2 = shifts(app, world), world.users["clerk2"]
    r = cs.post(f"/admin/roster/grid/?id={rid}", {"fill": "1", "fill_staff": world.users["clerk"],
                                                 "pattern": "早夜休", f"c_{clerk2}_{month}": sh["late"]})
    page = r.get_data(as_text=True)
    assert "无法识别的字：夜" in page and chosen(page, clerk2, month) == sh["late"]
    r = cs.post(f"/admin/roster/grid/?id={rid}", {"fill": "1", "fill_staff": "", "pattern": "早"})
    assert "请选择要填充排班的人员" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(RosterAssignment).count() == 0


def test_copy_last_month_fills_the_same_days_unsaved(app, world, client_as):
    cs, month = client_as("cs_admin"), next_month()
    rid = new_roster(app, cs, month)
    r = cs.post(f"/admin/roster/grid/?id={rid}", {"copy": "1"})
    assert "没有排班表可复制" in r.get_data(as_text=True)
    last = today().replace(day=1)
    old = new_roster(app, cs, last)
    sh, clerk, clerk2 = shifts(app, world), world.users["clerk"], world.users["clerk2"]
    assert cs.post(f"/admin/roster/grid/?id={old}", {f"c_{clerk}_{last}": sh["early"],
                                                    f"c_{clerk2}_{last + timedelta(days=9)}": sh["late"]}
                   ).status_code == 302
    r = cs.post(f"/admin/roster/grid/?id={rid}", {"copy": "1", f"c_{clerk}_{month + timedelta(days=3)}": sh["middle"]})
    page = r.get_data(as_text=True)
    assert chosen(page, clerk, month) == sh["early"]
    assert chosen(page, clerk2, month + timedelta(days=9)) == sh["late"]
    assert chosen(page, clerk, month + timedelta(days=3)) == ""  # last month's grid, whole
    with app.app_context():
        assert db.session.query(RosterAssignment).filter_by(roster_id=rid).count() == 0


def test_each_days_coverage_per_shift_and_a_warning_for_an_unstaffed_shift(app, world, client_as):
    cs, month = client_as("cs_admin"), next_month()
    rid = new_roster(app, cs, month)
    sh = shifts(app, world)
    page = cs.get(f"/admin/roster/grid/?id={rid}").get_data(as_text=True)
    days = month_days(month)
    assert f"有{3 * len(days)}个班次无人值班" in page
    form = {f"c_{world.users['clerk']}_{d}": sh["early"] for d in days}
    form.update({f"c_{world.users['clerk2']}_{d}": sh["middle"] for d in days})
    form.update({f"c_{world.users['cs_admin']}_{d}": sh["late"] for d in days[1:]})
    form[f"c_{world.users['clerk2']}_{days[0]}"] = sh["early"]
    assert cs.post(f"/admin/roster/grid/?id={rid}", form).status_code == 302
    page = cs.get(f"/admin/roster/grid/?id={rid}").get_data(as_text=True)
    assert coverage_cell(page, sh["early"], days[0]) == ("text-center fd-cover ", "2")
    css, n = coverage_cell(page, sh["middle"], days[0])
    assert n == "0" and "table-danger" in css
    assert coverage_cell(page, sh["late"], days[1])[1] == "1"
    warning = re.search(r'<div class="alert alert-warning" id="fd-unstaffed">(.*?)</div>', page, re.S).group(1)
    assert "有2个班次无人值班" in warning and "1日中班" in warning and "1日晚班" in warning


# ---------------------------------------------------------------- chosen columns, kept in saved views

def header_style(page):
    m = re.search(r"<style[^>]*>(table\.model-list[^<]*)</style>", page)
    return m.group(1) if m else ""


def test_the_list_shows_the_chosen_columns_and_a_saved_view_keeps_them(app, world, client_as):
    c = client_as("clerk")
    new_repair(c, world)
    r = c.get("/admin/repair_order/views/columns/?query=search%3D%E6%BC%8F&col=number&col=state&col=nonsense")
    location = r.headers["Location"]
    assert r.status_code == 302 and re.search(r"cols=number(,|%2C)state", location) and "search=" in location
    page = c.get(location).get_data(as_text=True)
    hidden = header_style(page)
    assert ".col-unit{display:none}" in hidden and ".col-number{" not in hidden and ".col-state{" not in hidden
    assert re.search(r'<input type="checkbox"[^>]*name="col" value="number" checked', page)
    assert re.search(r'<input type="checkbox"[^>]*name="col" value="unit" >', page)
    assert header_style(c.get("/admin/repair_order/").get_data(as_text=True)) == ""  # none chosen: all shown
    # saved with the view, and opened again
    query = location.split("?", 1)[1]
    assert c.post("/admin/repair_order/views/save/", {"name": "两列", "query": query}).status_code == 302
    with app.app_context():
        view = db.session.scalars(db.select(SavedView)).one()
        assert json.loads(view.spec)["columns"] == ["number", "state"]
    r = c.get(f"/admin/repair_order/views/{view.id}/")
    assert re.search(r"cols=number(,|%2C)state", r.headers["Location"])
    assert ".col-unit{display:none}" in header_style(c.get(r.headers["Location"]).get_data(as_text=True))


def test_a_saved_view_whose_column_is_gone_shows_the_rest_and_says_so(app, world, client_as):
    with app.app_context():
        view = SavedView(property_id=world.a, register="repair_order", name="旧列",
                         spec=json.dumps({"filters": [], "columns": ["number", "gone_column"]}),
                         created_by_id=world.users["clerk"])
        db.session.add(view)
        db.session.commit()
        vid = view.id
    c = client_as("clerk")
    r = c.get(f"/admin/repair_order/views/{vid}/", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "已忽略：gone_column" in page
    assert ".col-state{display:none}" in header_style(page)
