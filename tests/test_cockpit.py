"""Issue 17: each role's home is its work queue; counts link to exactly their rows; state tabs; exports kept."""
import re
from datetime import timedelta

from kernel.clock import travel
from kernel.db import db
from models.desk import RepairOrder
from models.permits import GoodsPass, HotWorkPermit
from tests.factories import make
from tests.helpers import attach, latest, step


def dashboard_row(page, register):
    table = page.split('id="fd-dashboard"')[1].split("</table>")[0]
    if f'data-register="{register}"' not in table:
        return None
    return table.split(f'data-register="{register}"')[1].split("</tr>")[0]


def pending_link(page, register):
    row = dashboard_row(page, register)
    m = re.search(r'<td class="pending"><a class="fd-mine font-weight-bold" href="([^"]+)">(\d+)</a>', row or "")
    return (m.group(1).replace("&amp;", "&"), int(m.group(2))) if m else (None, 0)


def listed(c, url):
    """The ids of the list page at `url` (the checkboxes a bulk action would select)."""
    page = c.get(url).get_data(as_text=True)
    return {int(i) for i in re.findall(r'name="rowid" class="action-checkbox" value="(\d+)"', page)}, page


def passes(app, world, *states, by="clerk"):
    ids = []
    with app.app_context():
        for state in states:
            ids.append(make(GoodsPass, world.a, unit_id=world.units[("A", "1-1-101")], state=state,
                            created_by_id=world.users[by], commit=True).id)
    return ids


def hot_work(app, world, state="submitted"):
    with app.app_context():
        return make(HotWorkPermit, world.a, unit_id=world.units[("A", "1-1-101")], state=state,
                    created_by_id=world.users["clerk"], commit=True).id


def test_manager_queue_counts_only_records_with_a_manager_step_now(app, world, client_as):
    signed = passes(app, world, "signed", "signed")
    passes(app, world, "issued", "exited", "draft")          # finished or not yet signed: not the manager's
    passes(app, world, "signed", by="manager")               # their own: another manager stamps it
    hot_work(app, world, "submitted")                        # awaits engineering and safety, not the manager
    reviewed = hot_work(app, world, "reviewed")
    m = client_as("manager")
    page = m.get("/admin/").get_data(as_text=True)
    url, count = pending_link(page, "goods_pass")
    assert count == 2 and "mine=1" in url
    ids, _ = listed(m, url)
    assert ids == set(signed)  # the bulk stamp from here selects exactly those
    url, count = pending_link(page, "hot_work_permit")
    assert count == 1 and listed(m, url)[0] == {reviewed}
    queue = page.split('id="fd-queue"')[1]
    assert f'/admin/goods_pass/details/?id={signed[0]}#step-stamp' in queue
    assert f'/admin/hot_work_permit/details/?id={reviewed}#step-approve' in queue
    assert "盖章" in queue and "主任审批" in queue


def test_bulk_stamp_from_the_queue_link_takes_only_the_queued_rows(app, world, client_as):
    signed = passes(app, world, "signed", "signed")
    passes(app, world, "issued")
    m = client_as("manager")
    url, _ = pending_link(m.get("/admin/").get_data(as_text=True), "goods_pass")
    ids, _ = listed(m, url)
    r = m.post("/admin/goods_pass/action/", {"action": "stamp", "rowid": sorted(ids), "url": url})
    assert r.status_code == 302
    with app.app_context():
        states = dict(db.session.execute(db.select(GoodsPass.id, GoodsPass.state)).all())
    assert [states[i] for i in signed] == ["issued", "issued"]
    assert dashboard_row(m.get("/admin/").get_data(as_text=True), "goods_pass") is None


def test_parallel_review_leaves_the_queue_of_whoever_signed_it(app, world, client_as):
    from tests.test_permits import hot_work as hot_work_by_form
    _, hid = hot_work_by_form(app, world, client_as)
    eng, safety = client_as("engineering"), client_as("safety")
    assert pending_link(eng.get("/admin/").get_data(as_text=True), "hot_work_permit")[1] == 1
    step(eng, "hot_work_permit", "review_engineering", hid)
    assert pending_link(eng.get("/admin/").get_data(as_text=True), "hot_work_permit")[1] == 0
    assert listed(eng, "/admin/hot_work_permit/?mine=1")[0] == set()
    assert pending_link(safety.get("/admin/").get_data(as_text=True), "hot_work_permit")[1] == 1


def test_step_after_ones_own_earlier_step_is_not_in_the_queue(app, world, client_as):
    """A manager who signed the pass as duty supervisor may not stamp it (distinct_from): not theirs to do."""
    from models import Membership, Role
    [pid] = passes(app, world, "draft")
    with app.app_context():
        attach(db.session.get(GoodsPass, pid), "id_copy")
        sup = db.session.scalar(db.select(Role).where(Role.code == "supervisor"))
        db.session.add(Membership(user_id=world.users["manager"], property_id=world.a, role_id=sup.id))
        db.session.commit()
    m = client_as("manager")
    assert listed(m, "/admin/goods_pass/?mine=1")[0] == {pid}
    step(m, "goods_pass", "sign", pid)
    assert listed(m, "/admin/goods_pass/?mine=1")[0] == set()
    assert listed(client_as("manager2"), "/admin/goods_pass/?mine=1")[0] == {pid}


def test_clerk_queue_overdue_first_then_oldest_with_unit_and_wait(app, world, client_as):
    c = client_as("clerk")
    data = {"unit": world.units[("A", "3-2-1501")], "contact": "王先生", "phone": "13800138000",
            "content": "厨房漏水", "source": "phone"}
    c.post("/admin/repair_order/new/", data)
    with app.app_context():
        old = latest(RepairOrder)
        dept = db.session.scalar(db.select(__import__("models").Department.id).where(
            __import__("models").Department.property_id == world.a).limit(1))
    step(c, "repair_order", "dispatch", old.id, department=dept)  # in time: now it waits for 到场, not late
    travel(timedelta(minutes=2))  # the clock's offset from the start
    c.post("/admin/repair_order/new/", data | {"urgent": "y"})
    with app.app_context():
        new = latest(RepairOrder)
    travel(timedelta(minutes=9))  # new: 7 minutes undispatched (late); old has waited longer, but is not late
    page = c.get("/admin/").get_data(as_text=True)
    queue = page.split('id="fd-queue"')[1].split("</table>")[0]
    rows = re.findall(r'data-queue="repair_order" data-id="(\d+)" class="fd-queue-row( table-danger)?"', queue)
    assert [int(r[0]) for r in rows] == [new.id, old.id] and rows[0][1]  # the late one first
    first = queue.split(f'data-id="{new.id}"')[1].split("</tr>")[0]
    assert new.number in first and "3-2-1501" in first and "派工" in first and "3分钟内派工" in first
    assert "7分钟" in first
    assert "到场" in queue.split(f'data-id="{old.id}"')[1].split("</tr>")[0]


def test_every_count_links_to_exactly_the_rows_it_counts(app, world, client_as):
    c = client_as("clerk")
    data = {"unit": world.units[("A", "3-2-1501")], "contact": "王先生", "phone": "13800138000",
            "content": "厨房漏水", "source": "phone"}
    for _ in range(3):
        c.post("/admin/repair_order/new/", data)
    travel(timedelta(minutes=5))
    c.post("/admin/repair_order/new/", data)
    with app.app_context():  # finished: neither waiting nor late, but in the whole list
        make(RepairOrder, world.a, unit_id=world.units[("A", "1-1-101")], state="closed", commit=True)
    page = c.get("/admin/").get_data(as_text=True)
    row = dashboard_row(page, "repair_order")
    for cls, arg in (("pending", "mine=1"), ("overdue", "overdue=1")):
        m = re.search(rf'<td class="{cls}"><a [^>]*href="([^"]+)">(\d+)</a>', row)
        assert arg in m.group(1)
        ids, listing = listed(c, m.group(1).replace("&amp;", "&"))
        assert len(ids) == int(m.group(2)) and f"共 {len(ids)} 条" in listing
    assert pending_link(page, "repair_order")[1] == 4


def test_guard_home_puts_the_verify_box_first(app, world, client_as):
    page = client_as("guard").get("/admin/").get_data(as_text=True)
    assert 'id="fd-verify-first"' in page
    assert page.index('id="fd-verify-first"') < page.index('id="fd-dashboard"')
    assert 'id="fd-verify-first"' not in client_as("clerk").get("/admin/").get_data(as_text=True)


def test_quick_create_buttons_rank_what_i_enter_most(app, world, client_as):
    c = client_as("clerk")
    quick = c.get("/admin/").get_data(as_text=True).split('id="fd-quick"')[1].split("</div>")[0]
    assert "/admin/phone_log/new/" in quick and "新建电话记录" in quick
    for _ in range(2):
        c.post("/admin/mail_item/new/", {"unit": world.units[("A", "1-1-101")], "addressee": "业主A",
                                          "kind": "registered"})
    quick = c.get("/admin/").get_data(as_text=True).split('id="fd-quick"')[1].split("</div>")[0]
    buttons = re.findall(r'data-new="(\w+)"', quick)
    assert buttons[0] == "mail_item", buttons
    assert 'id="fd-quick"' not in client_as("regional").get("/admin/").get_data(as_text=True)


# ---------------------------------------------------------------- state tabs
def tabs_of(page):
    bar = page.split('id="fd-state-tabs"')[1].split("</ul>")[0]
    return {
        state: (url.replace("&amp;", "&"), count, "active" in cls)
        for cls, state, url, count in re.findall(
            r'<a class="nav-link( active)?" data-state="(\w*)" href="([^"]+)">[^<]*'
            r'<span class="badge badge-light fd-count">'
            r"([\d+]+)</span>",
            bar,
        )
    }


def test_state_tabs_count_the_declared_states_and_link_to_exactly_those_rows(app, world, client_as):
    ids = passes(app, world, "draft", "signed", "signed", "issued", "exited")
    with app.app_context():  # another property's pass counts nowhere here
        make(GoodsPass, world.b, unit_id=world.units[("B", "1-1-101")], state="signed", commit=True)
    m = client_as("manager")
    page = m.get("/admin/goods_pass/").get_data(as_text=True)
    tabs = tabs_of(page)
    assert list(tabs) == ["", "draft", "signed", "issued", "exited", "void"]
    assert {k: v[1] for k, v in tabs.items()} == {"": "5", "draft": "1", "signed": "2", "issued": "1", "exited": "1",
                                                  "void": "0"}
    assert tabs[""][2] and not tabs["signed"][2]
    assert "全部" in page and "值班主任已签字" in page
    for state, (url, count, _) in tabs.items():
        listed_ids, listing = listed(m, url)
        assert len(listed_ids) == int(count)
        if state:
            assert tabs_of(listing)[state][2]  # the tab opened is the one shown active
    assert listed(m, tabs["signed"][0])[0] == set(ids[1:3])


def test_state_tabs_count_the_same_with_the_rows_or_on_their_own(app, world, client_as):
    """The tabs count the whole list of the property whatever narrows the page below them (a search that finds
    nothing, a page past the end, another page size, a sort)."""
    passes(app, world, "draft", "signed", "signed", "issued", "exited", "exited", "exited")
    m = client_as("manager")
    counts = {k: v[1] for k, v in tabs_of(m.get("/admin/goods_pass/").get_data(as_text=True)).items()}
    assert counts == {"": "7", "draft": "1", "signed": "2", "issued": "1", "exited": "3", "void": "0"}
    for url in ("/admin/goods_pass/?search=不存在的编号", "/admin/goods_pass/?page=9", "/admin/goods_pass/?page=1",
                "/admin/goods_pass/?page_size=50", "/admin/goods_pass/?sort=0"):
        page = m.get(url).get_data(as_text=True)
        assert {k: v[1] for k, v in tabs_of(page).items()} == counts, url


def test_state_tabs_are_capped_like_the_list_count(app, world, client_as):
    passes(app, world, "signed", "signed", "signed", "draft")
    app.config["LIST_COUNT_CAP"] = 2
    try:
        tabs = tabs_of(client_as("manager").get("/admin/goods_pass/").get_data(as_text=True))
    finally:
        app.config["LIST_COUNT_CAP"] = 10000
    assert tabs["signed"][1] == "2+" and tabs["draft"][1] == "1" and tabs[""][1] == "2+"


def test_no_state_tabs_on_a_register_without_a_workflow(app, world, client_as):
    assert 'id="fd-state-tabs"' not in client_as("clerk").get("/admin/phone_log/").get_data(as_text=True)


# ---------------------------------------------------------------- exports people keep
def saved_name(response):
    from urllib.parse import unquote
    header = response.headers["Content-Disposition"]
    assert header.startswith("attachment; filename=\"") and "filename*=UTF-8''" in header
    return unquote(header.split("filename*=UTF-8''")[1]), header.split('filename="')[1].split('"')[0]


def test_export_file_names_say_register_property_and_day(app, world, client_as):
    from kernel.clock import today
    day = f"{today():%Y%m%d}"
    c = client_as("clerk")
    name, ascii_name = saved_name(c.get("/admin/repair_order/export/xlsx/"))
    assert name == f"报修单_翠湖花园_{day}.xlsx" and ascii_name == f"repair_order_A_{day}.xlsx"
    assert saved_name(c.get("/admin/phone_log/export/csv/"))[0] == f"电话记录_翠湖花园_{day}.csv"
    c.get("/language/en")
    assert saved_name(c.get("/admin/phone_log/export/csv/"))[0] == f"Phone log_翠湖花园_{day}.csv"


def test_xlsx_keeps_numbers_money_dates_widths_frozen_header_and_filter(app, world, client_as):
    import io
    import zipfile
    from datetime import datetime
    from decimal import Decimal

    from openpyxl import load_workbook

    from models.desk import FunctionCard
    with app.app_context():
        for amount in ("20.00", "1234.50"):
            make(FunctionCard, world.a, unit_id=world.units[("A", "3-2-1501")], amount=Decimal(amount),
                 unit_price=Decimal(amount), quantity=Decimal("1.00"), card_no="0012345",
                 sold_at=datetime(2026, 11, 28, 9, 5), commit=True)
    data = client_as("clerk").get("/admin/function_card/export/xlsx/").data
    book = load_workbook(io.BytesIO(data))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    amount, sold, card = header.index("金额(元)") + 1, header.index("办理时间") + 1, header.index("卡号") + 1
    assert {sheet.cell(2, amount).value, sheet.cell(3, amount).value} == {20, 1234.5}  # numbers, not text
    assert sheet.cell(2, amount).number_format == "0.00" == sheet.cell(3, amount).number_format
    assert sheet.cell(2, sold).value == datetime(2026, 11, 28, 9, 5)
    assert sheet.cell(2, card).value == "0012345"  # text stays text, leading zero and all
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{chr(64 + len(header))}3"
    assert sheet[1][0].font.b
    widths = {k: d.width for k, d in sheet.column_dimensions.items()}
    assert widths[chr(64 + sold)] >= 17 and widths["A"] >= 6
    with zipfile.ZipFile(io.BytesIO(data)) as z:  # the name Excel keeps for the filter (openpyxl drops it on load)
        workbook = z.read("xl/workbook.xml").decode()
    assert f"'功能卡发放'!$A$1:${chr(64 + len(header))}$3</definedName>" in workbook


def test_csv_keeps_digit_strings_as_text_for_excel(app, world, client_as):
    import csv
    import io
    c = client_as("clerk")
    c.post("/admin/phone_log/new/", {"caller": "王先生", "phone": "13800138000", "unit": world.units[("A", "3-2-1501")],
                                     "content": "-1 问询", "called_at": "2026-11-28 09:05:00"})
    text = c.get("/admin/phone_log/export/csv/").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    header, row = rows[0], rows[1]
    cells = dict(zip(header, row, strict=True))
    assert '="13800138000"' in row and '="3-2-1501"' in row
    assert "'-1 问询" in row  # a formula start is still neutralised, not wrapped
    assert "王先生" in row and any(v.startswith("2026-11-28") for v in cells.values())


# ---------------------------------------------------------------- saved views
def state_arg(app, register="repair_order"):
    from app.admin.filters import ChoiceEqual
    from tests.test_permission_matrix import registers
    with app.test_request_context():
        return registers(app)[register].filter_arg("state", ChoiceEqual)


def repairs(app, world, *states, prop="a"):
    with app.app_context():
        return [make(RepairOrder, getattr(world, prop), unit_id=world.units[(prop.upper(), "1-1-101")], state=s,
                     commit=True).id for s in states]


def audit_rows(app, action):
    from kernel.audit import AuditLog
    with app.app_context():
        return db.session.scalars(db.select(AuditLog).where(AuditLog.register == "saved_view",
                                                            AuditLog.action == action)).all()


def saved(app):
    from kernel.saved_views import SavedView
    with app.app_context():
        return db.session.scalars(db.select(SavedView).order_by(SavedView.id)).all()


def test_supervisor_saves_a_view_shares_it_with_clerks_and_a_clerk_opens_it(app, world, client_as):
    registered = repairs(app, world, "registered", "registered", "dispatched", "closed")[:2]
    repairs(app, world, "registered", prop="b")
    arg = state_arg(app)
    sup = client_as("supervisor")
    query = f"{arg}=registered&sort=0&desc=1"
    r = sup.post("/admin/repair_order/views/save/", {"name": "待派工", "query": query})
    assert r.status_code == 302
    [view] = saved(app)
    assert view.name == "待派工" and view.property_id == world.a and view.created_by_id == world.users["supervisor"]
    assert '"state"' in view.spec and arg not in view.spec  # kept by meaning, not by the filter's position
    assert audit_rows(app, "create")
    clerk = client_as("clerk")
    assert "待派工" not in clerk.get("/admin/").get_data(as_text=True)  # not shared yet
    assert clerk.get(f"/admin/repair_order/views/{view.id}/").status_code == 404
    assert clerk.post("/admin/repair_order/views/share/", {"id": view.id, "role": "clerk"}).status_code == 403
    r = sup.post("/admin/repair_order/views/share/", {"id": view.id, "role": "clerk"})
    assert r.status_code == 302 and saved(app)[0].shared_role == "clerk"
    assert [a.changes.get("shared_role") for a in audit_rows(app, "update")] == [[None, "clerk"]]
    home = clerk.get("/admin/").get_data(as_text=True)
    link = f"/admin/repair_order/views/{view.id}/"
    assert f'href="{link}">↳ 待派工</a>' in home  # in the menu under 报修单
    r = clerk.get(link)
    assert r.status_code == 302 and f"{arg}=registered" in r.headers["Location"]
    ids, page = listed(clerk, r.headers["Location"])
    assert ids == set(registered) and 'id="fd-current-view"' in page and "待派工" in page
    assert 'id="fd-share-view"' not in page and 'id="fd-delete-view"' not in page  # a clerk neither shares nor deletes
    assert clerk.post("/admin/repair_order/views/delete/", {"id": view.id}).status_code == 403
    clerk.post("/admin/repair_order/views/save/", {"name": "我的", "query": ""})
    own = saved(app)[-1]
    assert clerk.post("/admin/repair_order/views/share/", {"id": own.id, "role": "clerk"}).status_code == 403
    assert client_as("supervisor_b").post("/admin/repair_order/views/share/",  # another property's supervisor
                                          {"id": view.id, "role": "engineering"}).status_code == 404
    assert saved(app)[0].shared_role == "clerk"
    clerk.post("/admin/repair_order/views/delete/", {"id": own.id})
    other = client_as("clerk_b")  # the other property's clerk neither sees nor opens it
    assert "待派工" not in other.get("/admin/").get_data(as_text=True)
    assert other.get(link).status_code == 404
    assert client_as("engineering").get(link).status_code == 404  # shared with clerks only
    sup.post("/admin/repair_order/views/delete/", {"id": view.id})
    assert saved(app) == [] and audit_rows(app, "delete")


def test_a_view_is_shared_only_with_a_role_that_may_list_the_register(app, world, client_as):
    sup = client_as("supervisor")
    sup.post("/admin/duty_log/views/save/", {"name": "紧急", "query": ""})
    [view] = saved(app)
    assert sup.post("/admin/duty_log/views/share/", {"id": view.id, "role": "guard"}).status_code == 400
    assert sup.post("/admin/duty_log/views/share/", {"id": view.id, "role": "nobody"}).status_code == 400
    assert saved(app)[0].shared_role is None


def test_a_view_whose_filter_or_column_is_gone_opens_without_it_and_says_so(app, world, client_as):
    import json

    from kernel.saved_views import SavedView
    registered = repairs(app, world, "registered", "dispatched")[:1]
    with app.app_context():
        spec = {"filters": [["state", "ChoiceEqual", "registered"], ["gone_column", "FilterEqual", "x"],
                            ["state", "ChoiceEqual", "no_such_state"], "garbage"], "sort": "gone", "mine": "1"}
        views = [SavedView(property_id=world.a, register="repair_order", name=n, spec=s,
                           created_by_id=world.users["clerk"])
                 for n, s in (("旧视图", json.dumps(spec)), ("坏视图", "{not json"), ("空", "[]"))]
        db.session.add_all(views)
        db.session.commit()
        ids = [v.id for v in views]
    clerk = client_as("clerk")
    r = clerk.get(f"/admin/repair_order/views/{ids[0]}/", follow_redirects=True)
    page = r.get_data(as_text=True)
    message = page.split("中的条件已不存在，已忽略：")[1].split("<")[0]
    # the gone column, the state value that is no longer a state, the malformed entry, the gone sort column
    assert r.status_code == 200 and set(message.strip().split("、")) == {"gone_column", "状态", "garbage", "gone"}
    ids_listed, _ = listed(clerk, clerk.get(f"/admin/repair_order/views/{ids[0]}/").headers["Location"])
    assert ids_listed == set(registered)  # what still exists still applies (state, and 待我办理)
    for vid in ids[1:]:
        assert clerk.get(f"/admin/repair_order/views/{vid}/", follow_redirects=True).status_code == 200
