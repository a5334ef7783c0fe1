"""Issue 17, the desk's hands: one's own password, data entry at the desk, the roster grid."""
import re

import pytest

from kernel.db import db
from kernel.identity import StaffUser
from kernel.register import model_for
from models import GoodsPass, RepairOrder
from seeds.demo import DEMO_USERS
from tests.helpers import latest
from tests.test_desk import new_repair
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


def test_reject_and_cancel_are_declared_destructive():
    for register, step in (("repair_order", "cancel"), ("renovation_permit", "reject")):
        assert model_for(register).transitions[step].destructive, (register, step)
