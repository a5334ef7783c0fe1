"""Walks 1-6 of the desk in a real browser against the live server (tests/browser.py), with a screenshot per step.

Every step goes through the same forms a person uses: step forms carry the row version, lists post actions with
the CSRF token, the clock is moved by the app's own test control, never by sleeping.
"""
from datetime import timedelta

from kernel.clock import today
from seeds.samples import image
from tests.browser import clock, first_row, open_details, pick, save, step_form, take_step

PHONE = {"width": 390, "height": 844}


def owner_of(app, unit_code):
    from sqlalchemy import select

    from kernel.db import db
    from models.master import Resident, Unit
    with app.app_context():
        return db.session.scalar(select(Resident.name).join(Unit, Resident.unit_id == Unit.id).where(
            Unit.code == unit_code, Resident.kind == "owner").order_by(Resident.property_id).limit(1))


def overlaps(a, b):
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_repair_order_walk_with_overdue_badge(person):
    clerk = person("clerk")
    clerk.go("/admin/repair_order/new/")
    assert clerk.page.locator("form.admin-form[novalidate]").count() == 1  # the server's messages, no bubbles
    pick(clerk, "unit", "1-1-101", search="1-1-101")
    clerk.page.fill("#contact", "王先生")
    clerk.page.fill("#phone", "13800138000")
    clerk.page.fill("#content", "厨房水管漏水（浏览器走查）")
    clerk.page.click("#received_at")  # the picker speaks Chinese and never covers 保存
    picker = clerk.page.locator(".daterangepicker").filter(has=clerk.page.locator(".applyBtn")).locator("visible=true")
    text = picker.first.inner_text()
    assert "确定" in text and "取消" in text and "月" in text and "Apply" not in text, text
    assert not overlaps(picker.first.bounding_box(),
                        clerk.page.locator("input[type=submit][value='保存']").bounding_box())
    clerk.shot("picker in Chinese, clear of 保存")
    clerk.page.locator(".daterangepicker .cancelBtn").locator("visible=true").first.click()
    save(clerk)
    assert "/admin/repair_order/" in clerk.page.url
    number = first_row(clerk)
    clerk.shot("registered")

    clock(clerk, 5)  # past the 3-minute dispatch deadline
    clerk.go("/admin/repair_order/?overdue=1")
    row = clerk.page.locator("table.model-list tbody tr", has_text=number)
    assert "3分钟内派工" in row.inner_text()
    clerk.shot("overdue badge")

    open_details(clerk, "repair_order", number)
    assert "已超时" in clerk.text()
    assert "已派工" in take_step(clerk, "dispatch", department="工程部（刘强）")
    clerk.shot("dispatched")

    eng = person("engineering")
    open_details(eng, "repair_order", number)
    assert "已到场" in take_step(eng, "arrive", engineer="刘师傅")
    assert "完工" in take_step(eng, "complete", result="更换水管接头")
    eng.shot("completed")

    open_details(clerk, "repair_order", number)
    assert "回访" in take_step(clerk, "call_back", comment="业主满意", callback_outcome="满意")
    details = clerk.text("#fd-details")
    assert "已回访" in details or "回访" in details
    history = clerk.text("#fd-history")
    assert "派工" in history and "transition" not in history and "工程部" in history
    clerk.shot("called back, history in words")
    clerk.check_clean()
    eng.check_clean()


def test_goods_pass_to_the_guard_on_a_phone(app, person):
    clerk = person("clerk")
    clerk.go("/admin/goods_pass/new/")
    pick(clerk, "unit", "1-1-101", search="1-1-101")
    owner = owner_of(app, "1-1-101")
    pick(clerk, "applicant", owner, search=owner)
    clerk.page.fill("#carrier_name", "搬家公司王师傅")
    clerk.page.fill("#carrier_id_number", "11010519491231002X")
    clerk.page.fill("#items", "旧冰箱一台")
    clerk.page.check("#owner_signed")
    clerk.page.set_input_files("input[name='doc_id_copy']:not([capture])",  # a scan, as from the desk's scanner
                               files=[{"name": "carrier-id.png", "mimeType": "image/png", "buffer": image()}])
    save(clerk)
    number = first_row(clerk)
    clerk.shot("created")

    supervisor = person("supervisor")
    open_details(supervisor, "goods_pass", number)
    assert "值班主任签字" in take_step(supervisor, "sign") or True
    assert "值班主任已签字" in supervisor.text("#fd-details")
    assert supervisor.page.locator("#fd-attachments img.img-thumbnail").count() == 0  # an ID copy: no thumbnail
    assert "carrier-id.png" in supervisor.text("#fd-attachments")
    supervisor.shot("signed")

    manager = person("manager")
    open_details(manager, "goods_pass", number)
    take_step(manager, "stamp")
    assert "已盖章签发" in manager.text("#fd-details")
    assert manager.page.locator("#fd-final").count() == 0  # issued, but the guard's 放行 is still to come
    manager.shot("stamped")
    with manager.page.expect_popup() as popup:
        manager.page.click("a[href*='/print/']")
    printed = popup.value
    printed.wait_for_load_state()
    assert printed.locator(".qr svg").count() == 1
    verify_url = f"/verify/goods_pass/{number}"  # what the QR code encodes (tests/test_permits.py reads it)
    printed.screenshot(path=str(manager.folder / "print-with-qr.png"), full_page=True)

    guard = person("guard", viewport=PHONE)
    guard.go(verify_url)
    assert guard.page.locator("#verdict").get_attribute("data-verdict") == "valid"
    assert "有效" in guard.text("#verdict")
    guard.shot("scanned on a phone")
    with guard.page.expect_navigation():
        guard.page.click("button:has-text('确认放行')")
    assert "已放行" in guard.text()
    guard.go(f"/verify/goods_pass/{number}")
    assert guard.page.locator("#verdict").get_attribute("data-verdict") == "used"
    assert "已放行" in guard.text("#verdict")
    guard.shot("rescan says 已放行")
    for p in (clerk, supervisor, manager, guard):
        p.check_clean()


def test_manager_bulk_stamps_from_the_list_and_reads_the_report(person):
    clerk = person("clerk")
    supervisor = person("supervisor")
    # the demo has one draft and one signed pass at A; the supervisor signs one more
    supervisor.go("/admin/goods_pass/")
    manager = person("manager")
    manager.go("/admin/goods_pass/")
    rows = manager.page.locator("table.model-list tbody tr")
    assert rows.count() >= 2
    for i in range(rows.count()):
        rows.nth(i).locator("input.action-checkbox").check()
    manager.shot("rows selected")
    manager.page.click("a.dropdown-toggle:has-text('批量操作')")
    manager.page.once("dialog", lambda d: d.accept())
    with manager.page.expect_navigation():
        manager.page.click("a.dropdown-item:has-text('批量盖章')")
    report = manager.flashes()
    assert "完成 1 条" in report and "跳过" in report, report
    assert "草稿" in report or "只能" in report or "状态" in report, report
    manager.shot("per-row report")
    for p in (clerk, supervisor, manager):
        p.check_clean()


def test_worker_pass_reissue_and_the_old_number_verifies_superseded(person):
    clerk = person("clerk")
    clerk.go("/admin/worker_pass/")
    old = first_row(clerk)
    open_details(clerk, "worker_pass", old)
    assert clerk.page.locator("#fd-final").count() == 0 and clerk.page.locator("#fd-locked").count() == 1
    labels = step_form(clerk, "return_pass").inner_text()
    assert "退证原因" in labels and "换发原因" not in labels
    assert "换发" in take_step(clerk, "reissue", reissue_reason="工作证遗失")
    clerk.shot("reissued")
    assert "已换发" in clerk.text("#fd-details")
    assert clerk.page.locator("#fd-final").count() == 1  # superseded: nothing left to do
    new = clerk.page.locator("#fd-details td.col-superseded_by").inner_text().split()[0]
    assert new and new != old

    guard = person("guard", viewport=PHONE)
    guard.go(f"/verify/?number={old}")
    assert guard.page.locator("#verdict").get_attribute("data-verdict") == "superseded"
    body = guard.text()
    assert new in body and "有效" in body and "valid" not in body
    guard.shot("old number: superseded, with the new one")
    clerk.check_clean()
    guard.check_clean()


def test_handover_outgoing_then_incoming_signs_and_it_locks(person):
    clerk = person("clerk")
    clerk.go("/admin/handover/new/")
    pick(clerk, "to_shift", "晚班")
    save(clerk)
    number = first_row(clerk)
    open_details(clerk, "handover", number)
    clerk.page.locator("a.nav-link:has-text('编辑')").click()
    clerk.page.wait_for_load_state()
    clerk.page.check("#items_complete")
    clerk.page.check("#desk_checked")
    save(clerk)
    open_details(clerk, "handover", number)
    take_step(clerk, "sign_out")
    assert "待接班人签字" in clerk.text("#fd-details")
    assert clerk.page.locator("#fd-final").count() == 0  # locked against edits, yet the incoming has to sign
    clerk.shot("outgoing signed")

    incoming = person("cs_admin")
    open_details(incoming, "handover", number)
    take_step(incoming, "sign_in", incoming_read_log="y", incoming_desk_checked="y")
    assert "已交接(锁定)" in incoming.text("#fd-details")
    assert incoming.page.locator("#fd-final").count() == 1
    assert incoming.page.locator("a.nav-link:has-text('编辑')").count() == 0
    incoming.shot("incoming signed, locked")
    clerk.check_clean()
    incoming.check_clean()


def test_roster_month_grid_is_edited_and_saved(person):
    admin = person("cs_admin")
    month = (today().replace(day=1) + timedelta(days=32)).replace(day=1)
    admin.go("/admin/roster/new/")
    admin.page.fill("#month", month.isoformat())
    admin.page.dispatch_event("#month", "keyup")  # the picker reads what was typed
    admin.shot("new roster")
    admin.page.mouse.click(1200, 700)  # a click outside closes the picker
    save(admin)
    admin.shot("saved")
    admin.go("/admin/roster/")
    with admin.page.expect_navigation():
        admin.page.locator("table.model-list tbody tr", has_text=f"{month:%Y-%m}").locator(
            "a[href*='/details/']").first.click()
    with admin.page.expect_navigation():
        admin.page.click("a:has-text('按月查看/编辑排班')")
    cells = admin.page.locator("#fd-roster select")
    assert cells.count() > 28
    cells.nth(0).select_option(label="早")
    cells.nth(1).select_option(label="晚")
    admin.shot("grid edited")
    with admin.page.expect_navigation():
        admin.page.click("button:has-text('保存排班')")
    assert "排班已保存" in admin.flashes()
    cells = admin.page.locator("#fd-roster select")
    assert cells.nth(0).evaluate("e => e.selectedOptions[0].text") == "早"
    assert cells.nth(1).evaluate("e => e.selectedOptions[0].text") == "晚"
    admin.shot("grid saved")
    admin.check_clean()


def test_supervisor_filters_by_state_and_department_from_dropdowns(person):
    sup = person("supervisor")
    sup.go("/admin/repair_order/")
    sup.page.click("a.nav-link:has-text('添加筛选器')")
    sup.page.click("a.dropdown-item.filter:has-text('状态')")
    row = sup.page.locator("table.filters tr").last
    assert row.locator("select.filter-val, input.filter-val").count() == 1
    assert "已登记" in row.inner_text() or row.locator("option", has_text="已登记").count() == 1
    pick_in_filter(sup, row, "已登记")
    sup.shot("state filter: 等于 已登记")
    with sup.page.expect_navigation():
        sup.page.click("#filter_form button[type=submit]")
    states = sup.page.locator("table.model-list tbody td.col-state").all_inner_texts()
    assert states and set(states) == {"已登记"}, states
    sup.page.click("a.nav-link:has-text('添加筛选器')")
    sup.page.click("a.dropdown-item.filter:has-text('接单部门')")
    row = sup.page.locator("table.filters tr").last
    text = row.inner_text()
    assert "/" not in text and "Name" not in text
    assert row.locator("option", has_text="工程部").count() == 1
    sup.shot("department filter by name")
    sup.check_clean()


def pick_in_filter(p, row, label):
    """A filter's value box is a select2 over the offered labels: open it and click the label."""
    row.locator(".select2-choice").last.click()
    p.page.locator(".select2-drop-active .select2-result-label", has_text=label).first.click()


def test_the_applicant_lookup_offers_only_residents_of_the_chosen_unit(app, person):
    """The form's unit goes with the lookup's request (app/templates/admin/fd_entry.html): an owner of
    another unit is not offered; the first field has the focus."""
    clerk = person("clerk")
    clerk.go("/admin/goods_pass/new/")
    assert clerk.page.evaluate("document.activeElement.closest('#s2id_unit') !== null "
                               "|| document.activeElement.id === 'unit'")
    owner = owner_of(app, "1-1-101")
    pick(clerk, "unit", "3-2-1501", search="3-2-1501")
    clerk.page.click("#s2id_applicant .select2-choice")
    with clerk.page.expect_response(lambda r: "/ajax/lookup/" in r.url and "unit=" in r.url):
        clerk.page.keyboard.type(owner)
    assert clerk.page.locator(".select2-drop-active .select2-result-label", has_text=owner).count() == 0
    clerk.page.keyboard.press("Escape")
    pick(clerk, "unit", "1-1-101", search="1-1-101")
    pick(clerk, "applicant", owner, search=owner)
    clerk.check_clean()
