"""Issue 14: the page around a list's rows (Flask-Admin's menu bar, filter form, column headers, pager, scripts)
is written by app/admin/listing.py, with parts kept per register, roles, property, language and prefix.

The whole page must be what the Jinja template made before (tests/templates/admin/register_list_reference.html:
Flask-Admin's list.html with the app's blocks), for every register and its lister, with filters, search,
sorting, page size and switches; and nothing kept may lag behind a role given or taken, the language or the
prefix the app is served at."""
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import ChoiceLoader, FileSystemLoader

from app.admin.filters import ChoiceEqual
from models.desk import RepairOrder
from tests.factories import make
from tests.test_fast_list import list_template_as
from tests.test_kept import grant
from tests.test_permission_matrix import REGISTERS, registers
from tests.test_sweeps import _user_with

REFERENCE = "admin/register_list_reference.html"
REFERENCES = {"admin/register_list.html": REFERENCE,  # a screen's own list template on the reference
              "admin/register_list_inline.html": REFERENCE,
              "admin/duty_log_list.html": "admin/duty_log_list_reference.html"}


class Tokens(HTMLParser):
    """A page as tags (attributes sorted, whitespace folded) and texts; a CSRF token's value is left out (it
    carries the second it was signed: two requests a second apart differ), in a form or on an inline editor."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        kept = sorted((k, " ".join((v or "").split())) for k, v in attrs
                      if not (k == "value" and dict(attrs).get("name") == "csrf_token") and k != "data-csrf")
        self.out.append(f"<{tag} {kept}>")

    def handle_endtag(self, tag):
        self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if data.split():
            self.out.append(" ".join(data.split()))


@pytest.fixture
def reference(app):
    before = app.jinja_loader
    app.jinja_loader = ChoiceLoader([before, FileSystemLoader(str(Path(__file__).parent / "templates"))])
    app.jinja_env.cache.clear() if app.jinja_env.cache is not None else None
    yield
    app.jinja_loader = before


def both(app, client, url, register):
    view = registers(app)[register]
    fast = client.get(url)
    assert fast.status_code == 200, (url, fast.status_code)
    with list_template_as(view, REFERENCES[view.list_template]):
        ref = client.get(url)
    assert ref.status_code == 200, (url, ref.status_code)
    return Tokens(fast.get_data(as_text=True)).out, Tokens(ref.get_data(as_text=True)).out


def same(fast, ref):
    if fast != ref:  # the first difference, readable
        i = next((i for i, (a, b) in enumerate(zip(fast, ref, strict=False)) if a != b), min(len(fast), len(ref)))
        pytest.fail(f"differs at token {i}:\nfast: {fast[max(0, i - 3):i + 4]}\nref:  {ref[max(0, i - 3):i + 4]}")


@pytest.mark.parametrize("register", REGISTERS)
def test_every_list_page_is_the_page_jinja_made(app, world, client_as, reference, register):
    user = _user_with(register, "list")
    if user is None:
        pytest.skip("no role lists this register")
    with app.app_context():
        make(registers(app)[register].model, world.a, user_id=world.users["it"], commit=True)
    same(*both(app, client_as(user), f"/admin/{register}/", register))


@pytest.mark.parametrize("args", [
    "", "?search=3-2&sort=1&desc=1&page_size=50", "?flt0_0=registered&sort=0", "?overdue=1&mine=1",
    "?page=1&page_size=1", "?page=9&page_size=1", "?search=%3Cb%3E%22x&flt1_7=1", "?cols=number,state",
])
def test_the_clerks_repair_orders_with_filters_search_sorting_and_paging(app, world, client_as, reference, args):
    with app.app_context():
        for content in ("厨房漏水", "灯不亮 <b>"):
            make(RepairOrder, world.a, state="registered", content=content, commit=True)
    clerk = client_as("clerk")
    same(*both(app, clerk, f"/admin/repair_order/{args}", "repair_order"))
    clerk.get("/language/en?next=/admin/")
    same(*both(app, clerk, f"/admin/repair_order/{args}", "repair_order"))


def test_a_role_given_or_taken_changes_the_bulk_actions_and_the_import_link_at_once(app, world, client_as):
    def page():
        return client.get("/admin/goods_pass/").get_data(as_text=True)

    client = client_as("clerk")
    before = page()
    assert "modelActions.execute('stamp')" not in before
    grant(app, world, "clerk", "manager")
    assert "modelActions.execute('stamp')" in page()
    grant(app, world, "clerk", "manager", give=False)
    assert page() == before or "modelActions.execute('stamp')" not in page()
    it = client_as("it")
    assert 'id="fd-import-link"' in it.get("/admin/unit/").get_data(as_text=True)
    assert 'id="fd-import-link"' not in client.get("/admin/unit/").get_data(as_text=True)


def test_the_kept_parts_follow_the_language_and_the_prefix(app, world, client_as):
    c = client_as("clerk")
    zh = c.get("/admin/repair_order/").get_data(as_text=True)
    c.get("/language/en?next=/admin/")
    en = c.get("/admin/repair_order/").get_data(as_text=True)
    for text in ("添加筛选器", "批量操作", "创建新记录"):
        assert text in zh and text not in en
    assert "Add Filter" in en and "With selected" in en
    prefixed = c.http.get("/admin/repair_order/", base_url="http://localhost/desk/").get_data(as_text=True)
    scripts = re.findall(r'<script\s+src="([^"]+)"', prefixed)
    assert scripts and all(s.startswith("/desk/") for s in scripts)
    assert 'href="/desk/admin/repair_order/new/?url=' in prefixed


def test_saved_views_and_all_properties_on_the_page_jinja_made(app, world, client_as, reference):
    sup = client_as("supervisor")
    sup.post("/admin/repair_order/views/save/", {"name": "待派工 <i>", "query": "sort=0&desc=1&cols=number,state"})
    with app.app_context():
        from sqlalchemy import select

        from kernel.db import db
        from kernel.saved_views import SavedView
        vid = db.session.scalar(select(SavedView.id))
    sup.post("/admin/repair_order/views/share/", {"id": vid, "role": "clerk"})
    for client in (sup, client_as("clerk")):  # the owner (shares, deletes) and a clerk it is shared with
        for url in ("/admin/repair_order/", f"/admin/repair_order/?view={vid}&sort=0&desc=1&cols=number,state"):
            client.get("/admin/")  # shows (and so drops) the messages of the posts above
            same(*both(app, client, url, "repair_order"))
    it = client_as("it")
    it.post("/property", {"property_id": "all"})  # all properties: no view is saved there
    it.get("/admin/")
    page = it.get("/admin/unit/").get_data(as_text=True)
    assert 'id="fd-save-view"' not in page and 'id="fd-views"' in page
    same(*both(app, it, "/admin/unit/", "unit"))


def test_the_rows_and_their_count_come_in_one_statement_and_the_count_is_right_on_every_page(
        app, world, client_as, monkeypatch):
    from sqlalchemy import event

    from kernel.db import db
    with app.app_context():
        for i in range(5):
            make(RepairOrder, world.a, state="registered" if i < 3 else "closed", content=f"第{i}单", commit=True)
        make(RepairOrder, world.b, state="registered", commit=True)  # another property's: never counted
        engine = db.engine
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        clerk = client_as("clerk")

        def shown(url):
            statements.clear()
            page = clerk.get(url).get_data(as_text=True)
            rows = [s for s in statements if "FROM repair_order" in s and "count(" in s and "LIMIT" in s
                    and "fd_count" in s]
            count = re.search(r'nav-link disabled">([^<]+)</span>', page).group(1)
            return "".join(count.split()), len(rows)

        assert shown("/admin/repair_order/") == ("共5条", 1)
        assert shown("/admin/repair_order/?page=1&page_size=2") == ("共5条", 1)
        assert shown("/admin/repair_order/?page=7&page_size=2")[0] == "共5条"  # past the end: counted alone
        with app.test_request_context():
            state = registers(app)["repair_order"].filter_arg("state", ChoiceEqual)
        assert shown(f"/admin/repair_order/?{state}=registered")[0] == "共3条"
        assert shown("/admin/repair_order/?search=不存在的内容")[0] == "共0条"
        monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 2)
        assert shown("/admin/repair_order/")[0] == "超过2条"
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_the_pager_is_flask_admins_for_every_page_and_count(app):
    """pager_html against lib.html's pager and simple_pager macros, for every page of 0 to 14 pages (and past them)."""
    view = registers(app)["repair_order"]
    stock = app.jinja_env.from_string(
        "{% import 'admin/lib.html' as lib with context %}"
        "{% if pages is not none %}{{ lib.pager(page, pages, url) }}"
        "{% else %}{{ lib.simple_pager(page, data|length == page_size, url) }}{% endif %}")

    def url(p):
        return f"/admin/repair_order/?page={p}&x=<&y=\""
    with app.test_request_context("/admin/repair_order/"):
        cases = [dict(page=page, num_pages=pages, data=[]) for pages in range(15) for page in range(pages + 2)]
        cases += [dict(page=page, num_pages=None, data=[1] * n) for page in (0, 1, 7) for n in (0, 24, 25)]
        for case in cases:
            c = dict(case, pager_url=url, page_size=25)
            fast = Tokens(str(view.pager_html(c))).out
            ref = Tokens(stock.render(page=case["page"], pages=case["num_pages"], url=url, data=case["data"],
                                      page_size=25)).out
            assert fast == ref, case


def test_a_kept_list_statement_shows_each_property_state_and_page_its_own_rows(app, world, client_as, monkeypatch):
    """A plain list page's statement is kept (listing._kept_page) with the property, the state tab chosen and the
    offset as parameters: the one statement must show each property's, each state's and each page's own rows, on
    near and deep pages alike, and a page past the end its count."""
    from app.admin import listing
    monkeypatch.setattr(listing, "DEEP_PAGE_ROWS", 4)  # pages from the fifth row on find their ids first
    view = registers(app)["repair_order"]
    monkeypatch.setattr(view, "page_size_options", (2, 25, 50, 100))
    from sqlalchemy import event

    from kernel.db import db
    with app.app_context():
        engine = db.engine
    kept, sent = [], []

    def seen(conn, cursor, statement, *args):
        sent.append(statement)
    real = listing.Listing._kept_page
    monkeypatch.setattr(listing.Listing, "_kept_page", lambda self, *a: kept.append(a) or real(self, *a))
    made = {}
    with app.app_context():
        for prop in (world.a, world.b):
            for i, state in enumerate(["registered"] * 5 + ["closed"] * 3):
                made.setdefault((prop, state), []).append(make(RepairOrder, prop, state=state, content=f"{i}",
                                                               commit=True).id)
    with app.test_request_context():
        arg = view.filter_arg("state", ChoiceEqual)
    manager = client_as("manager_ab")

    def shown(url):
        page = manager.get(url).get_data(as_text=True)
        count = "".join(re.search(r'nav-link disabled">([^<]+)</span>', page).group(1).split())
        return [int(x) for x in re.findall(r"details/\?id=(\d+)", page)], count
    for prop in (world.a, world.b):
        assert manager.post("/property", {"property_id": prop}).status_code == 302
        every = sorted(made[(prop, "registered")] + made[(prop, "closed")], reverse=True)
        for page in range(5):
            assert shown(f"/admin/repair_order/?page_size=2&page={page}") == (every[page * 2:page * 2 + 2], "共8条")
        for state, rows in (("registered", made[(prop, "registered")]), ("closed", made[(prop, "closed")])):
            rows = sorted(rows, reverse=True)
            for page in range(3):
                assert shown(f"/admin/repair_order/?{arg}={state}&page_size=2&page={page}") == \
                    (rows[page * 2:page * 2 + 2], f"共{len(rows)}条")
        # the state tabs' counts came with the rows: one statement for the whole list, tabs included
        sent.clear()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            page = manager.get("/admin/repair_order/?page_size=2&page=1").get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert len([s for s in sent if "FROM repair_order" in s]) == 1
        tabs = dict(re.findall(r'data-state="([^"]*)" href="[^"]*">[^<]*<span class="badge badge-light fd-count">'
                               r"([^<]+)</span>", page))
        assert (tabs[""], tabs["registered"], tabs["closed"]) == ("8", "5", "3")
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 5)  # a page from the sixth row on reads no count
    every = sorted(made[(world.b, "registered")] + made[(world.b, "closed")], reverse=True)
    assert shown("/admin/repair_order/?page_size=2&page=1") == (every[2:4], "超过5条")
    assert shown("/admin/repair_order/?page_size=2&page=3") == (every[6:8], "超过5条")
    assert shown("/admin/repair_order/?page_size=2&page=4") == ([], "超过5条")
    assert len(kept) == 2 * (5 + 3 + 3 + 1) + 3  # every page above came by the kept statement


def test_a_register_with_inline_edits_modals_or_extra_row_actions_keeps_flask_admins_list(app):
    """Those come from list.html's macros, which register_list.html (the layout alone) does not import."""
    from flask_admin.model.template import LinkRowAction

    from admin_views.master import UnitView
    from app.admin.listing import FAST_LIST, INLINE_LIST
    from models.master import Unit
    assert registers(app)["unit"].list_template == INLINE_LIST  # its status is edited in the list
    assert registers(app)["repair_order"].list_template == FAST_LIST
    with app.app_context():
        for option in (dict(details_modal=True), dict(create_modal=True),
                       dict(column_extra_row_actions=[LinkRowAction("fa fa-link", "/x/{row_id}")])):
            plain = type("PlainUnits", (UnitView,), dict(column_editable_list=None, **option))
            assert plain(Unit).list_template == INLINE_LIST, option
        assert type("PlainUnits", (UnitView,), dict(column_editable_list=None))(Unit).list_template == FAST_LIST
