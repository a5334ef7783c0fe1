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
    import_through_the_screens(admin, "resident", [["导入业主", "业主", "9-1-101", "13800138000", None, None, "否", None],
                                                   ["导入租户", "租户", "9-1-101", "13900139000", None, None, "是", None]],
                               "新增 2 条")
    admin.go("/admin/resident/?search=导入")
    assert "导入租户" in admin.text("table.model-list")
    admin.check_clean()


def test_staff_and_prices_from_the_templates(person):
    it = person("it")
    import_through_the_screens(it, "staff_user", [["newguard", "新保安", "13800138000", "保安"]], "新增 1 条")
    import_through_the_screens(it, "fee_item", [["parking", "临时停车", "小时", "5", "2027-01-01", None]],
                               "新增 1 条")
    it.check_clean()
