"""Issue 17, the desk's hands: one's own password, data entry at the desk, the roster grid."""
import pytest

from seeds.demo import DEMO_USERS


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
        from kernel.db import db
        from kernel.identity import StaffUser
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
