"""Issue 14: the home page's and the lists' statements and the header's menu are built once per user, property
and roles and kept (app/admin/statements.py, app/templating.py). Nothing a person sees may lag behind:
a role given or taken, a new record, a deadline IT changes, all show on the very next page."""
import re
from datetime import timedelta

from sqlalchemy import delete, select

from kernel.clock import travel
from kernel.db import db
from models import DeadlineRule, Membership, Role
from models.permits import GoodsPass
from tests.factories import make


def counts_row(page, register):
    """(待我办理, 超时) of a register on the home page; None when the register has no row."""
    table = page.split('id="fd-dashboard"')[1].split("</table>")[0]
    if f'data-register="{register}"' not in table:
        return None
    row = table.split(f'data-register="{register}"')[1].split("</tr>")[0]
    found = [re.search(rf'<td class="{cls}">(?:<a [^>]*>)?(\d+)', row) for cls in ("pending", "overdue")]
    return tuple(int(m.group(1)) if m else 0 for m in found)


def tab_count(page, state):
    bar = page.split('id="fd-state-tabs"')[1].split("</ul>")[0]
    return re.search(rf'data-state="{state}" href="[^"]+">[^<]*<span class="badge badge-light fd-count">([\d+]+)',
                     bar).group(1)


def signed_pass(app, world, prop="A"):
    with app.app_context():
        return make(GoodsPass, getattr(world, prop.lower()), unit_id=world.units[(prop, "1-1-101")], state="signed",
                    created_by_id=world.users["clerk2"], commit=True).id


def grant(app, world, username, role, give=True, prop=None):
    with app.app_context():
        role_id = db.session.scalar(select(Role.id).where(Role.code == role))
        if give:
            db.session.add(Membership(user_id=world.users[username], property_id=prop or world.a, role_id=role_id))
        else:
            db.session.execute(delete(Membership).where(Membership.user_id == world.users[username],
                                                        Membership.role_id == role_id))
        db.session.commit()


def test_a_role_given_or_taken_shows_on_the_next_home_page_and_menu(app, world, client_as):
    signed_pass(app, world)  # waits for a manager's stamp, never for a clerk
    c = client_as("clerk")
    page = c.get("/admin/").get_data(as_text=True)
    assert counts_row(page, "goods_pass") is None and 'href="/admin/overview/"' not in page
    grant(app, world, "clerk", "manager")
    page = c.get("/admin/").get_data(as_text=True)
    assert counts_row(page, "goods_pass") == (1, 0)
    assert 'href="/admin/overview/"' in page  # the manager's overview entry in the menu
    grant(app, world, "clerk", "manager", give=False)
    page = c.get("/admin/").get_data(as_text=True)
    assert counts_row(page, "goods_pass") is None and 'href="/admin/overview/"' not in page


def test_a_new_record_changes_the_home_count_the_queue_and_the_state_tab_at_once(app, world, client_as):
    first = signed_pass(app, world)
    m = client_as("manager")
    assert counts_row(m.get("/admin/").get_data(as_text=True), "goods_pass") == (1, 0)
    assert tab_count(m.get("/admin/goods_pass/").get_data(as_text=True), "signed") == "1"
    second = signed_pass(app, world)
    page = m.get("/admin/").get_data(as_text=True)
    assert counts_row(page, "goods_pass") == (2, 0)
    queue = page.split('id="fd-queue"')[1]
    assert f"/admin/goods_pass/details/?id={first}#" in queue and f"/admin/goods_pass/details/?id={second}#" in queue
    assert tab_count(m.get("/admin/goods_pass/").get_data(as_text=True), "signed") == "2"


def test_the_overdue_count_follows_the_clock_and_the_minutes_it_sets(app, world, client_as):
    c = client_as("clerk")
    c.post("/admin/repair_order/new/", {"unit": world.units[("A", "3-2-1501")], "contact": "王先生",
                                        "phone": "13800138000", "content": "厨房漏水", "source": "phone"})
    assert counts_row(c.get("/admin/").get_data(as_text=True), "repair_order") == (1, 0)  # 3 minutes to dispatch
    travel(timedelta(minutes=4))
    page = c.get("/admin/").get_data(as_text=True)
    assert counts_row(page, "repair_order") == (1, 1)
    assert "table-danger" in page.split('id="fd-queue"')[1]  # the queue's row is late too
    with app.app_context():
        db.session.scalar(select(DeadlineRule).where(DeadlineRule.code == "repair.dispatch")).minutes = 10
        db.session.commit()
    page = c.get("/admin/").get_data(as_text=True)
    assert counts_row(page, "repair_order") == (1, 0)
    assert "table-danger" not in page.split('id="fd-queue"')[1]


def test_the_menu_follows_the_language_and_the_page_shown(app, world, client_as):
    c = client_as("clerk")
    zh = c.get("/admin/repair_order/").get_data(as_text=True)
    c.get("/language/en?next=/admin/")
    en = c.get("/admin/repair_order/").get_data(as_text=True)
    menu = en.split('<ul class="nav navbar-nav mr-auto">')[1].split("</ul>\n")[0]
    assert "报修" not in menu and "报修" in zh.split('<ul class="nav navbar-nav mr-auto">')[1]
    c.get("/language/zh_Hans_CN?next=/admin/")
    for url in ("/admin/repair_order/", "/admin/phone_log/", "/admin/repair_order/"):
        page = c.get(url).get_data(as_text=True)
        menu = page.split('<ul class="nav navbar-nav mr-auto">')[1].split("</ul>\n")[0]
        assert re.findall(r'class="dropdown-item active[^"]*" href="([^"]+)"', menu) == [url]


def test_the_rows_a_role_sees_follow_a_role_given_at_once(app, world, client_as):
    from models.duty import LeaveRequest
    with app.app_context():  # the desk sees its own requests only; a supervisor sees everyone's
        for username in ("clerk", "clerk2"):
            make(LeaveRequest, world.a, staff_id=world.users[username], state="submitted", commit=True)
    c = client_as("clerk")
    assert tab_count(c.get("/admin/leave_request/").get_data(as_text=True), "submitted") == "1"
    grant(app, world, "clerk", "supervisor")
    assert tab_count(c.get("/admin/leave_request/").get_data(as_text=True), "submitted") == "2"
    grant(app, world, "clerk", "supervisor", give=False)
    assert tab_count(c.get("/admin/leave_request/").get_data(as_text=True), "submitted") == "1"


def test_remembered_links_follow_the_prefix_the_app_is_served_at(app, world, client_as):
    c = client_as("clerk")
    plain = c.get("/admin/repair_order/").get_data(as_text=True)
    assert 'href="/admin/repair_order/?sort=' in plain
    prefixed = c.http.get("/admin/repair_order/", base_url="http://localhost/desk/").get_data(as_text=True)
    assert 'href="/desk/admin/repair_order/?sort=' in prefixed and 'href="/admin/repair_order/?sort=' not in prefixed
    assert 'data-state="registered" href="/desk/admin/repair_order/?flt' in prefixed  # the state tabs' links


def test_another_property_chosen_counts_that_propertys_records(app, world, client_as):
    signed_pass(app, world, "B")
    signed_pass(app, world, "B")
    signed_pass(app, world, "A")
    grant(app, world, "manager", "manager", prop=world.b)  # the same roles at both properties
    m = client_as("manager")
    assert counts_row(m.get("/admin/").get_data(as_text=True), "goods_pass") == (1, 0)
    assert tab_count(m.get("/admin/goods_pass/").get_data(as_text=True), "signed") == "1"
    m.post("/property", {"property_id": world.b})
    assert counts_row(m.get("/admin/").get_data(as_text=True), "goods_pass") == (2, 0)
    assert tab_count(m.get("/admin/goods_pass/").get_data(as_text=True), "signed") == "2"
    other = client_as("manager2")  # another user with the same roles shares the statement, not the counts
    assert counts_row(other.get("/admin/").get_data(as_text=True), "goods_pass") == (1, 0)


def test_new_buttons_rank_by_exact_counts_when_two_registers_pass_the_cap(app, world, client_as, monkeypatch):
    import app.dashboard as dashboard
    from models.desk import MailItem, PhoneLog
    monkeypatch.setattr(dashboard, "QUICK_CAP", 1)  # the 30-day counts stop past 1
    c = client_as("clerk")

    def buttons():
        quick = c.get("/admin/").get_data(as_text=True).split('id="fd-quick"')[1].split("</div>")[0]
        return re.findall(r'data-new="(\w+)"', quick)

    menu = [getattr(v, "register", None) for v in app.extensions["frontdesk_admin"]._views]
    first, then = sorted(("phone_log", "mail_item"), key=menu.index)  # a tie keeps the menu's order
    models = {"phone_log": PhoneLog, "mail_item": MailItem}
    with app.app_context():  # both past the cap: the one entered more goes first though it comes later in the menu
        for register, n in ((first, 2), (then, 3)):
            for _ in range(n):
                make(models[register], world.a, created_by_id=world.users["clerk"], commit=True)
    assert buttons()[:2] == [then, first]
