"""Issue 14: the list's rows come from a renderer compiled once per page (app/admin/listing.py). It must show the
same rows, the same texts and the same links as Flask-Admin's stock per-cell template (whose cells are the
register's Display, as on the details page), for every register and the role that lists it; void rows struck
through, ID numbers masked, and the page's one delete form deletes the row whose button was pressed."""
import re
from contextlib import contextmanager
from html.parser import HTMLParser

import pytest

from kernel.db import db
from models.desk import RepairOrder
from models.master import Department
from tests.factories import make
from tests.helpers import reload
from tests.test_permission_matrix import REGISTERS, registers
from tests.test_sweeps import _user_with

STOCK = "admin/model/list.html"


class Rows(HTMLParser):
    """The rows of table.model-list: per row its cells (class, text), links, checkbox values and delete ids."""

    def __init__(self, html):
        super().__init__()
        self.rows, self.depth, self.cell, self.in_table = [], 0, None, False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "model-list" in (a.get("class") or ""):
            self.in_table = True
        if not self.in_table:
            return
        if tag == "tr":
            self.rows.append({"cells": [], "links": [], "ids": [], "delete": [], "del": 0})
        elif tag == "td" and self.rows:
            self.cell = [a.get("class") or "", ""]
        elif tag == "a" and self.rows and a.get("href"):
            self.rows[-1]["links"].append(a["href"])
        elif tag == "input" and self.rows and a.get("name") == "rowid":
            self.rows[-1]["ids"].append(a.get("value"))
        elif tag == "input" and self.rows and a.get("name") == "id":  # the stock per-row delete form
            self.rows[-1]["delete"].append(a.get("value"))
        elif tag == "button" and self.rows and "fd-delete" in (a.get("class") or ""):
            self.rows[-1]["delete"].append(a.get("data-id"))
        elif tag == "del" and self.rows:
            self.rows[-1]["del"] += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = False
        if tag == "td" and self.cell is not None:
            self.rows[-1]["cells"].append((self.cell[0], " ".join(self.cell[1].split())))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[1] += data


class Cells(HTMLParser):
    """Every table cell's text of a page (the details page)."""

    def __init__(self, html):
        super().__init__()
        self.texts, self.cell = set(), None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "td":
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.texts.add(" ".join(self.cell.split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


@contextmanager
def list_template_as(view, template):
    """The view's list drawn with `template` for a while, then with its own again (the class's, or the one its
    declaration chose: a register with inline edits has register_list_inline.html of its own)."""
    own, before = "list_template" in vars(view), view.list_template
    view.list_template = template
    try:
        yield
    finally:
        if own:
            view.list_template = before
        else:
            del view.list_template


def both(app, client, url, register):
    """The page as the compiled renderer makes it, and as Flask-Admin's stock template makes it."""
    view = registers(app)[register]
    fast = client.get(url)
    assert fast.status_code == 200, (url, fast.status_code)
    with list_template_as(view, STOCK):
        stock = client.get(url)
    assert stock.status_code == 200, (url, stock.status_code)
    return Rows(fast.get_data(as_text=True)).rows, Rows(stock.get_data(as_text=True)).rows, fast.get_data(as_text=True)


@pytest.mark.parametrize("register", REGISTERS)
def test_the_compiled_list_shows_what_the_stock_list_shows(app, world, client_as, register):
    user = _user_with(register, "list")
    if user is None:
        pytest.skip("no role lists this register")
    with app.app_context():
        model = registers(app)[register].model
        make(model, world.a, user_id=world.users["it"], commit=True)
    fast, stock, _ = both(app, client_as(user), f"/admin/{register}/", register)
    assert len(fast) >= 2 and any(r["cells"] for r in fast) and fast == stock


def test_void_overdue_linked_and_masked_cells_match_the_details_page(app, world, client_as):
    with app.app_context():
        void = make(RepairOrder, world.a, state="void", content="作废的报修 <b>x</b>", commit=True).id
        make(RepairOrder, world.a, state="registered", content="=1+1 待派工", commit=True)
    clerk = client_as("clerk")
    fast, stock, html = both(app, clerk, "/admin/repair_order/?overdue=0", "repair_order")
    assert fast == stock and len(fast) == 3  # header + two rows
    row = next(r for r in fast if any("作废的报修" in t for _, t in r["cells"]))
    assert row["del"] == len([c for c in row["cells"] if c[0].startswith("col-")])  # every cell struck through
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html  # text is escaped, never markup
    details = clerk.get(f"/admin/repair_order/details/?id={void}").get_data(as_text=True)
    shown = Cells(details).texts
    for cls, text in row["cells"]:
        if cls.startswith("col-") and text:  # each list text is what the details page shows in a cell
            assert text in shown, (cls, text, shown)
    # the row's links carry its id and the list's return URL, like url_for makes them
    assert any(re.search(rf"/admin/repair_order/details/\?id={void}&(amp;)?url=", link) for link in row["links"])


def test_the_page_has_one_delete_form_and_it_deletes_the_pressed_row(app, world, client_as):
    with app.app_context():
        spare = Department(property_id=world.a, name="待删部门", kind="engineering")
        db.session.add(spare)
        db.session.commit()
        spare_id = spare.id
    it = client_as("it")
    html = it.get("/admin/department/").get_data(as_text=True)
    assert html.count("<form") - html.count('id="fd-delete-form"') < 10  # no form per row
    assert html.count('id="fd-delete-form"') == 1
    rows = Rows(html).rows
    assert any(r["delete"] == [str(spare_id)] for r in rows)
    form = re.search(r'<form id="fd-delete-form" method="POST" action="([^"]+)".*?</form>', html, re.S)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(0)))
    fields["id"] = str(spare_id)  # what the page's script does with the pressed button's data-id
    r = it.post(form.group(1).replace("&amp;", "&"), fields, csrf=False)
    assert r.status_code == 302
    with app.app_context():
        assert reload(Department, spare_id) is None
