"""Issue 14: the base layout (fd_master.html) keeps its header's right side and its scripts, rendered once per what
they show (app/templating.py kept_header, kept_part). What a person sees never lags behind: another language,
name, role, property or unread count shows on the very next page, and each page keeps its own CSRF token and way
back from the language link."""
import json
import re

from sqlalchemy import select

from app import templating
from kernel.db import db
from kernel.identity import Membership, Property, Role, StaffUser
from tests.test_request_setup import notify, switch_options


def header(page):
    """The header's right side: from the property switch to the sign-out button."""
    return page.split('class="form-inline fd-prop')[1].split("</nav>")[0]


def words(page):
    """The widgets' words (the JSON in fd_master.html's script)."""
    return json.loads(re.search(r"var L = (\{.*?\});", page).group(1))


def tokens(part):
    return re.findall(r'name="csrf_token" value="([^"]+)"', part)


def test_another_language_shows_in_the_header_and_the_scripts_at_once(app, world, client_as):
    c = client_as("clerk")
    zh = c.get("/admin/resident/").get_data(as_text=True)
    assert words(zh)["apply"] == "确定" and words(zh)["zh"] is True
    assert "修改密码" in header(zh) and "客服助理/前台值班员" in header(zh) and 'id="fd-lang" lang="en"' in header(zh)
    c.get("/language/en?next=/admin/")
    en = c.get("/admin/resident/").get_data(as_text=True)
    assert words(en)["zh"] is False and words(en)["apply"] != "确定"
    assert "修改密码" not in header(en) and "客服助理" not in header(en) and 'id="fd-lang" lang="zh-CN"' in header(en)
    c.get("/language/zh_Hans_CN?next=/admin/")
    back = c.get("/admin/resident/").get_data(as_text=True)
    assert words(back)["apply"] == "确定" and "修改密码" in header(back)


def test_the_language_link_leads_back_to_the_page_shown(app, world, client_as):
    c = client_as("clerk")
    for url, back in (("/admin/resident/", "next=/admin/resident/?"),
                      ("/admin/repair_order/?search=x&page=0", "next=/admin/repair_order/?search%3Dx%26page%3D0")):
        link = re.search(r'id="fd-lang" lang="en" href="([^"]+)"', c.get(url).get_data(as_text=True)).group(1)
        assert link == f"/language/en?{back}"


def test_a_name_a_role_and_a_property_changed_show_at_once(app, world, client_as):
    c = client_as("clerk")
    assert "clerk · 客服助理/前台值班员<" in header(c.get("/admin/").get_data(as_text=True))
    with app.app_context():
        db.session.get(StaffUser, world.users["clerk"]).full_name = "李晓梅"
        db.session.add(Membership(user_id=world.users["clerk"], property_id=world.a,
                                  role_id=db.session.scalar(select(Role.id).where(Role.code == "supervisor"))))
        db.session.get(Property, world.a).name = "翠湖花园一期"
        db.session.commit()
    page = c.get("/admin/").get_data(as_text=True)
    assert "李晓梅 · 客服助理/前台值班员、客户服务主管<" in header(page)
    assert switch_options(page) == [(str(world.a), "翠湖花园一期")]


def test_another_property_chosen_is_the_one_selected(app, world, client_as):
    c = client_as("manager_ab")
    selected = lambda: re.findall(r'<option value="(\d+)" selected>', c.get("/admin/").get_data(as_text=True))  # noqa: E731
    assert selected() == [str(world.a)]
    c.post("/property", {"property_id": world.b})
    assert selected() == [str(world.b)]


def test_the_bell_counts_on_every_page_though_the_header_is_kept(app, world, client_as):
    c = client_as("clerk")
    assert 'id="fd-unread"' not in c.get("/admin/").get_data(as_text=True)
    notify(app, world, "clerk", 3)
    assert 'id="fd-unread">3</span></a>' in c.get("/admin/").get_data(as_text=True)
    c.post("/admin/inbox/read/", {})
    assert 'id="fd-unread"' not in c.get("/admin/").get_data(as_text=True)


def test_two_people_sharing_a_kept_header_each_get_their_own_csrf_token(app, world, client_as):
    """clerk2 named like clerk: the same header is kept for both; each form still carries its session's token,
    and signing out with it works."""
    with app.app_context():
        db.session.get(StaffUser, world.users["clerk2"]).full_name = "clerk"
        db.session.commit()
    templating._parts.clear()
    first, second = client_as("clerk"), client_as("clerk2")
    one, two = (header(x.get("/admin/").get_data(as_text=True)) for x in (first, second))
    assert one.replace(tokens(one)[0], "T") == two.replace(tokens(two)[0], "T")  # the same header, kept once
    assert tokens(one)[0] != tokens(two)[0] and len(set(tokens(one))) == 1
    r = second.http.post("/logout", data={"csrf_token": tokens(two)[0]})
    assert r.status_code == 302
    assert first.get("/admin/").status_code == 200 and second.get("/admin/").status_code == 302
