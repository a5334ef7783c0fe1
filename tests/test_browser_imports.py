"""Issue 18 in a real browser: a property's units and residents set up from the downloaded templates alone."""
import io

import openpyxl

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def filled(template: bytes, rows: list[list]) -> bytes:
    """The template as a person fills it: the sample row replaced by theirs."""
    wb = openpyxl.load_workbook(io.BytesIO(template))
    ws = wb.worksheets[0]
    ws.delete_rows(2)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def import_through_the_screens(p, register: str, rows: list[list], expect: str) -> None:
    p.go(f"/admin/{register}/")
    with p.page.expect_navigation():
        p.page.click("#fd-import-link")
    with p.page.expect_download() as got:
        p.page.click("#fd-import-template")
    template = open(got.value.path(), "rb").read()
    p.page.set_input_files("#fd-import-upload input[type=file]",
                           files=[{"name": f"{register}.xlsx", "mimeType": XLSX, "buffer": filled(template, rows)}])
    with p.page.expect_navigation():
        p.page.click("#fd-import-upload button[type=submit]")
    p.shot(f"{register} preview")
    assert "错误 0" in p.text("#fd-import-counts"), p.text("#fd-import-rows")
    with p.page.expect_navigation():
        p.page.click("#fd-import-confirm button[type=submit]")
    assert expect in p.flashes(), p.flashes()
    p.shot(f"{register} imported")


def test_units_and_residents_from_the_templates(person):
    admin = person("cs_admin")
    import_through_the_screens(admin, "unit", [["9-1-101", "9", "1", "101", "88.5", "已入住"],
                                               ["9-1-102", "9", "1", "102", None, "空置"]], "新增 2 条")
    import_through_the_screens(
        admin,
        "resident",
        [
            ["导入业主", "业主", "9-1-101", "13800138000", None, None, "否", None],
            ["导入租户", "租户", "9-1-101", "13900139000", None, None, "是", None],
        ],
        "新增 2 条",
    )
    admin.go("/admin/resident/?search=导入")
    assert "导入租户" in admin.text("table.model-list")
    admin.check_clean()


def test_staff_and_prices_from_the_templates(person):
    it = person("it")
    import_through_the_screens(it, "staff_user", [["newguard", "新保安", "13800138000", "保安"]], "新增 1 条")
    import_through_the_screens(it, "fee_item", [["parking", "临时停车", "小时", "5", "2027-01-01", None]],
                               "新增 1 条")
    it.check_clean()


def test_next_months_roster_from_its_template(app, person):
    from datetime import date

    from sqlalchemy import select

    from kernel.db import db
    from kernel.identity import Property
    from models.duty import Roster
    with app.app_context():
        pid = db.session.scalars(select(Property.id).order_by(Property.id)).first()
        roster = Roster(property_id=pid, month=date(2031, 3, 1), state="draft")
        db.session.add(roster)
        db.session.commit()
        rid = roster.id
    admin = person("cs_admin")
    admin.go(f"/admin/roster/grid/?id={rid}")
    with admin.page.expect_navigation():
        admin.page.click("#fd-grid-import")
    with admin.page.expect_download() as got:
        admin.page.click("#fd-import-template")
    wb = openpyxl.load_workbook(io.BytesIO(open(got.value.path(), "rb").read()))
    ws = wb.worksheets[0]
    ws["C2"], ws["D2"] = "早班", "晚班"  # the first desk person: early on the 1st, late on the 2nd
    buf = io.BytesIO()
    wb.save(buf)
    admin.page.set_input_files("#fd-import-upload input[type=file]",
                               files=[{"name": "roster.xlsx", "mimeType": XLSX, "buffer": buf.getvalue()}])
    with admin.page.expect_navigation():
        admin.page.click("#fd-import-upload button[type=submit]")
    admin.shot("roster preview")
    assert "新增 1" in admin.text("#fd-import-counts")
    with admin.page.expect_navigation():
        admin.page.click("#fd-import-confirm button[type=submit]")
    assert "排班已导入" in admin.flashes()
    cells = admin.page.locator("#fd-roster select")
    assert cells.nth(0).evaluate("e => e.selectedOptions[0].text") == "早"
    assert cells.nth(1).evaluate("e => e.selectedOptions[0].text") == "晚"
    admin.shot("roster imported")
    admin.check_clean()
