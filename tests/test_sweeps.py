"""Generated sweeps over every register (issue #11), run on SQLite and PostgreSQL alike:

- scope: every dropdown of every create form and every step form offers only the current property's records,
  and a hand-made POST naming another property's record changes nothing (steps: and is audited as denied);
- hostile input: every field of every create, edit and step form, every list URL argument (filters, paging,
  sorting, search), every lookup, every daily sheet and every export, fed values out of range or of the wrong
  kind: never an answer >= 500, and nothing half saved.
"""
from html.parser import HTMLParser

import pytest
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String, Text, Time, inspect, select

from kernel import permissions
from kernel.audit import AuditLog
from kernel.db import db
from kernel.identity import StaffUser
from tests.factories import make
from tests.helpers import reload
from tests.test_permission_matrix import REGISTERS, registers

HOSTILE = {
    Integer: ["99999999999999999999999999999", "-99999999999999999999", "1e400", "NaN"],
    Numeric: ["NaN", "Infinity", "-Infinity", "1e400", "123456789012345678901234567890"],
    DateTime: ["0001-01-01 00:00:00", "9999-12-31 23:59:59", "2026-02-30 25:61:00"],
    Date: ["0001-01-01", "9999-12-31", "2026-13-45"],
    Time: ["25:00", "99:99:99"],
    Boolean: ["maybe"],
    String: ["x" * 5000, "<script>alert(1)</script>", "=1+1"],
    Text: ["<script>alert(1)</script>", "=1+1"],
}
ID_HOSTILE = ["99999999999999999999999", "abc", "-1", "1.5"]
URL_HOSTILE = ["99999999999999999999999", "-1", "9999-12-31", "0001-01-01", "NaN", "%", "x" * 300]
MUST_REFUSE = (Integer, Numeric, Date, DateTime)  # an out-of-range value of these must leave the record as it was
SEEN = {"requests": 0, "5xx": 0}


def _kind(column):
    for kind in HOSTILE:
        if isinstance(column.type, kind):
            return kind
    return None


def _user_with(register, operation):
    """A demo user holding, at property A, a role that may do `operation` on `register`."""
    for role in permissions.ROLES:
        if permissions.allowed({role}, register, operation):
            return "regional" if role == "regional" else role
    return None


def _step_user(t):
    return next((r for r in t.roles if r in permissions.ROLES and r != "regional"), None)


class FormValues(HTMLParser):
    """The values a browser would post from the first form whose action contains `action`."""

    def __init__(self, html, action):
        super().__init__()
        self.values, self.inside, self.select, self.textarea, self.action = {}, False, None, None, action
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self.values and (self.action in (a.get("action") or "")
                                                   or "admin-form" in (a.get("class") or "")):
            self.inside = True
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.values[name] = a.get("value") or "y"
            else:
                self.values[name] = a.get("value") or ""
        elif tag == "select" and name:
            self.select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self.select and "selected" in a:
            self.values[self.select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self.textarea = name
            self.values[name] = ""

    def handle_data(self, data):
        if self.textarea:
            self.values[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        elif tag == "form" and self.inside:
            self.inside = False


def _count(response):
    SEEN["requests"] += 1
    if response.status_code >= 500:
        SEEN["5xx"] += 1
    return response


def _relationships(model):
    return {r.key: r for r in inspect(model).relationships
            if r.direction.name == "MANYTOONE" and r.key not in ("property", "created_by")}


def _columns(model):
    mapper = inspect(model)
    return {a.key: a.columns[0] for a in mapper.column_attrs}


# ---------------------------------------------------------------------------------------------- scope sweep
@pytest.mark.parametrize("register", REGISTERS)
def test_every_dropdown_and_step_form_is_scoped(app, world, client_as, register):
    view = registers(app)[register]
    model = view.model
    if not hasattr(model, "property_id"):
        pytest.skip("not property data")
    rels = _relationships(model)
    creator = _user_with(register, "create")
    checked = 0
    if creator:
        c = client_as(creator)
        form = c.get(f"/admin/{register}/new/").get_data(as_text=True)
        for name, rel in rels.items():
            target = rel.mapper.class_
            if f'name="{name}"' not in form or not (hasattr(target, "property_id") or target is StaffUser):
                continue
            with app.app_context():
                other = make(target, world.b, user_id=world.users["it"], commit=True).id
            if name not in view.form_ajax_refs:  # a dropdown; a lookup is a hidden input filled by search
                select_html = form.split(f'name="{name}"')[1].split("</select>")[0]
                assert f'value="{other}"' not in select_html, f"{register}.{name} offers a record of property B"
            else:
                found = _count(c.get(f"/admin/{register}/ajax/lookup/?name={name}&query=")).get_json() or []
                assert other not in [row[0] for row in found], f"{register}.{name} lookup finds property B"
            with app.app_context():
                before = db.session.query(model).count()
            _count(c.post(f"/admin/{register}/new/", {name: other}))
            with app.app_context():
                assert db.session.query(model).count() == before
            checked += 1
    for t in model.transitions.values():
        step_rels = [f for f in t.fields if f in rels]
        role = _step_user(t)
        if not step_rels or role is None:
            continue
        with app.app_context():
            record = make(model, world.a, user_id=world.users["it"], state=t.source[0],
                          created_by_id=world.users["it"], commit=True)
            rid, version, state = record.id, record.version, record.state
        c = client_as(role)
        for name in step_rels:
            target = rels[name].mapper.class_
            with app.app_context():
                other = make(target, world.b, user_id=world.users["it"], commit=True).id
            page = c.get(f"/admin/{register}/details/?id={rid}").get_data(as_text=True)
            if f"/transition/{t.name}/" in page:
                step_html = page.split(f"/transition/{t.name}/")[1].split("</form>")[0]
                box = step_html.split(f'name="{name}"', 1)[-1].split("</select>")[0]  # not the record's own id
                assert f'value="{other}"' not in box, f"{register}.{t.name}.{name} offers property B"
            _count(c.post(f"/admin/{register}/transition/{t.name}/", {"id": rid, "row_version": version, name: other}))
            with app.app_context():
                after = reload(model, rid)
                assert after.state == state and getattr(after, name + "_id", None) != other
                assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "denied",
                                                                   AuditLog.register == register))
            checked += 1
    if not checked:
        pytest.skip("no dropdown of another property's records")
    assert SEEN["5xx"] == 0


# ---------------------------------------------------------------------------------------------- hostile input
def _hostile_for(model, name):
    col = _columns(model).get(name)
    if col is not None and col.foreign_keys:
        return ID_HOSTILE
    if name in _relationships(model):
        return ID_HOSTILE
    kind = _kind(col) if col is not None else None
    return HOSTILE.get(kind, [])


@pytest.mark.parametrize("register", REGISTERS)
def test_hostile_input_everywhere_answers_below_500_and_saves_nothing(app, world, client_as, register):
    view = registers(app)[register]
    model = view.model
    columns = _columns(model)
    before_5xx = SEEN["5xx"]
    # create forms: every field alone, every hostile value of its kind
    creator = _user_with(register, "create")
    if creator and hasattr(model, "property_id") or creator and register in ("property", "staff_user"):
        c = client_as(creator)
        fields = FormValues(c.get(f"/admin/{register}/new/").get_data(as_text=True), "/new/").values
        for name in fields:
            col = columns[name] if name in columns else columns.get(name + "_id")
            refuse = col is not None and (col.foreign_keys or isinstance(col.type, MUST_REFUSE))
            for value in _hostile_for(model, name):
                with app.app_context():
                    before = db.session.query(model).count()
                r = _count(c.post(f"/admin/{register}/new/", {name: value}))
                assert r.status_code < 500, f"create {register}.{name}={value[:30]}: {r.status_code}"
                if refuse:  # text may be legitimate; an out-of-range number, date or link never is
                    with app.app_context():
                        assert db.session.query(model).count() == before, f"{register}.{name}={value} saved a row"
    # edit forms: a valid record, its own form posted back with one field hostile
    editor = _user_with(register, "edit")
    if editor:
        with app.app_context():
            rid = make(model, world.a, user_id=world.users["it"], commit=True).id
        c = client_as(editor)
        base = FormValues(c.get(f"/admin/{register}/edit/?id={rid}").get_data(as_text=True), "/edit/").values
        for name in list(base):
            col = columns.get(name) if name in columns else columns.get(name + "_id")
            for value in _hostile_for(model, name):
                with app.app_context():
                    old = reload(model, rid)
                    old_value, version = (getattr(old, col.key) if col is not None else None), old.version
                data = {**base, name: value, "row_version": version}
                r = _count(c.post(f"/admin/{register}/edit/?id={rid}", data))
                assert r.status_code < 500, f"edit {register}.{name}={value[:30]}: {r.status_code}"
                if col is not None and (col.foreign_keys or isinstance(col.type, MUST_REFUSE)):
                    with app.app_context():
                        assert getattr(reload(model, rid), col.key) == old_value, f"{register}.{name} saved {value}"
    # step forms
    for t in model.transitions.values():
        role = _step_user(t)
        if not t.fields or role is None or t.system:
            continue
        with app.app_context():
            record = make(model, world.a, user_id=world.users["it"], state=t.source[0],
                          created_by_id=world.users["it"], commit=True)
            rid, version, state = record.id, record.version, record.state
        c = client_as(role)
        for name in t.fields:
            for value in _hostile_for(model, name):
                r = _count(c.post(f"/admin/{register}/transition/{t.name}/",
                                  {"id": rid, "row_version": version, name: value}))
                assert r.status_code < 500, f"step {register}.{t.name}.{name}={value[:30]}: {r.status_code}"
                col = columns[name] if name in columns else columns.get(name + "_id")
                if col is not None and (col.foreign_keys or isinstance(col.type, MUST_REFUSE)):
                    with app.app_context():
                        after = reload(model, rid)
                        assert after.state == state, f"{register}.{t.name} moved on {name}={value}"
                        version = after.version
    # list URL arguments, lookups, daily sheet, exports
    reader = _user_with(register, "list")
    if reader:
        c = client_as(reader)
        with app.test_request_context():
            filters = len(view._filters or ())
        args = [f"page={v}" for v in URL_HOSTILE] + [f"sort={v}" for v in URL_HOSTILE] + \
               [f"page_size={v}" for v in URL_HOSTILE] + [f"search={v}" for v in URL_HOSTILE]
        args += [f"flt0_{i}={v}" for i in range(filters) for v in URL_HOSTILE]
        for arg in args:
            r = _count(c.get(f"/admin/{register}/?{arg}"))
            assert r.status_code < 500, f"list {register}?{arg[:60]}: {r.status_code}"
        if permissions.allowed({reader if reader != "regional" else "manager"}, register, "export"):
            for arg in [f"flt0_{i}={v}" for i in range(filters) for v in URL_HOSTILE[:4]]:
                r = _count(c.get(f"/admin/{register}/export/csv/?{arg}"))
                assert r.status_code < 500, f"export {register}?{arg[:60]}: {r.status_code}"
        if view.daily is not None:
            for v in URL_HOSTILE:
                r = _count(c.get(f"/admin/{register}/daily/?date={v}"))
                assert r.status_code < 500, f"daily {register}?date={v[:30]}: {r.status_code}"
    if creator:
        c = client_as(creator)
        for name in view.form_ajax_refs:
            for v in URL_HOSTILE + ["'", "\\"]:
                r = _count(c.get(f"/admin/{register}/ajax/lookup/?name={name}&query={v}"))
                assert r.status_code < 500, f"lookup {register}.{name}?query={v[:30]}: {r.status_code}"
    assert SEEN["5xx"] == before_5xx


def test_sweep_size_is_reported(capsys):
    """Prints the number of requests the two sweeps sent in this run (run after them; pytest keeps file order)."""
    with capsys.disabled():
        print(f"\nsweeps: {SEEN['requests']} requests, {SEEN['5xx']} answers >= 500")
    assert SEEN["5xx"] == 0
