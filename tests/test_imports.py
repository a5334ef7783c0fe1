"""Import from a spreadsheet with a preview (issue 18): units and residents first, then the bad inputs.

Every test goes through the browser-like client: upload -> preview (nothing written) -> confirm (all or nothing).
"""
import io
import re
import zipfile
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select, text

from kernel import imports, pii
from kernel.audit import AuditLog
from kernel.db import db
from kernel.validators import check_character
from models.master import Department, FeeItem, Resident, Unit

UNIT_HEAD = ["房号", "楼栋", "单元", "房间", "建筑面积(㎡)", "状态"]


def ident(n: int, born: str = "19800101") -> str:
    body = f"440305{born}{n:03d}"
    return body + check_character(body)


def xlsx(rows) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows, encoding="utf-8", bom=False) -> bytes:
    text = "\r\n".join(",".join(str(c) for c in r) for r in rows) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


@pytest.fixture(autouse=True)
def store(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORTS_DIR", str(tmp_path / "imports"))
    return tmp_path / "imports"


def preview(c, register, data, name="file.xlsx"):
    return c.post(f"/admin/{register}/import/", {"file": (io.BytesIO(data), name)},
                  follow_redirects=True)


def counts(page: str) -> dict:
    return {k: int(v) for k, v in re.findall(r'data-status="(\w+)">[^<]*?(\d+)</span>', page)}


def token(page: str) -> str:
    return re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)


def confirm(c, register, page):
    return c.post(f"/admin/{register}/import/confirm/", {"token": token(page)}, follow_redirects=True)


def count(model, **where):
    q = select(func.count()).select_from(model)
    for k, v in where.items():
        q = q.where(getattr(model, k) == v)
    return scalar(q)


def scalar(q):
    with APP[0].app_context():
        return db.session.scalar(q)


def scalars(q):
    with APP[0].app_context():
        return db.session.scalars(q).all()


APP = []


@pytest.fixture(autouse=True)
def remember_app(app):
    APP[:] = [app]


def units_file():
    return xlsx([UNIT_HEAD, ["5-1-101", "5", "1", "101", 88.5, "空置"], ["5-1-102", "5", "1", "102", "90", "已入住"],
                 ["1-1-101", "1", "1", "101", None, "装修中"]])


# ---------------------------------------------------------------- units
def test_units_preview_writes_nothing_then_confirm_writes_all_and_audits(client_as, world):
    c = client_as("cs_admin")
    before = count(Unit, property_id=world.a)
    r = preview(c, "unit", units_file(), "房屋台账.xlsx")
    page = r.get_data(as_text=True)
    assert r.status_code == 200, page[:500]
    assert counts(page) == {"new": 2, "changed": 1, "unchanged": 0, "error": 0}
    assert "已入住 → 装修中" in page
    assert count(Unit, property_id=world.a) == before  # nothing until confirm
    r = confirm(c, "unit", page)
    assert "新增 2 条，修改 1 条" in r.get_data(as_text=True)
    assert count(Unit, property_id=world.a) == before + 2
    assert count(Unit, property_id=world.b) == 3  # the other property untouched
    assert scalar(select(Unit.status).where(Unit.property_id == world.a, Unit.code == "1-1-101")) == "renovating"
    [one] = scalars(select(AuditLog).where(AuditLog.action == "import_file"))
    assert one.user_id == world.users["cs_admin"] and one.property_id == world.a and one.register == "unit"
    assert one.changes["file"][1] == "房屋台账.xlsx" and len(one.changes["sha256"][1]) == 64
    assert one.changes["new"][1] == 2 and one.changes["changed"][1] == 1
    rows = scalars(select(AuditLog).where(AuditLog.action == "import", AuditLog.register == "unit"))
    assert len(rows) == 3
    assert any(r.changes.get("status") == ["occupied", "renovating"] for r in rows)


def test_same_file_twice_changes_nothing(client_as, world):
    c = client_as("cs_admin")
    confirm(c, "unit", preview(c, "unit", units_file()).get_data(as_text=True))
    audit_rows = count(AuditLog)
    page = preview(c, "unit", units_file()).get_data(as_text=True)
    assert counts(page) == {"new": 0, "changed": 0, "unchanged": 3, "error": 0}
    assert 'name="token"' not in page and "没有需要导入的变化" in page
    assert count(AuditLog) == audit_rows


def test_headers_any_order_english_extra_columns_fullwidth(client_as, world):
    c = client_as("it")
    data = xlsx([["房屋台账（翠湖花园）"],  # a merged title row above the header
                 ["Status", "备注", "Room", "Building", "Entrance", "code"],
                 ["空置", "x", "１０１", "６", "１", "６－１－１０１".replace("－", "-")],
                 ["vacant", "y", "102", " 6 ", "1", "6-1-102"]])
    page = preview(c, "unit", data).get_data(as_text=True)
    assert counts(page)["new"] == 2, page[:3000]
    assert "已忽略的列：备注" in page
    confirm(c, "unit", page)
    [u] = scalars(select(Unit).where(Unit.code == "6-1-101"))
    assert (u.building, u.room) == ("6", "101")


def test_merged_title_and_header_cells_are_tolerated(client_as, world):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["翠湖花园 房屋台账 2026年12月"])
    ws.merge_cells("A1:G1")                      # a merged title over the table
    ws.append(["房号", "位置", None, None, "建筑面积(㎡)", "状态", "备注"])
    ws.merge_cells("B2:D2")                      # a merged header over three columns
    ws.append(["7-1-101", "7", "1", "101", 80, "空置", "x"])
    buf = io.BytesIO()
    wb.save(buf)
    page = preview(client_as("cs_admin"), "unit", buf.getvalue()).get_data(as_text=True)
    # the merged "位置" names no column: reported, and the required 楼栋/单元/房间 are missing
    assert "缺少必需的列：楼栋、单元、房间" in page
    ws.unmerge_cells("B2:D2")
    for col, name in zip("BCD", ("楼栋", "单元", "房间"), strict=True):
        ws[f"{col}2"] = name
    buf = io.BytesIO()
    wb.save(buf)
    page = preview(client_as("cs_admin"), "unit", buf.getvalue()).get_data(as_text=True)
    assert counts(page)["new"] == 1 and "已忽略的列：备注" in page


def test_template_has_chinese_headers_sample_validation_and_notes(client_as):
    c = client_as("cs_admin")
    r = c.get("/admin/resident/import/template/")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    ws = wb.worksheets[0]
    head = [c.value for c in ws[1]]
    assert head[:4] == ["姓名", "类别", "房号", "电话"]
    assert ws.cell(row=2, column=1).value == "张三"
    lists = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert '"业主,租户"' in lists and '"是,否"' in lists
    notes = wb["填写说明"]
    assert [c.value for c in notes[1]][:3] == ["列名", "English", "必填"]
    assert any("身份证" in str(row[0].value) for row in notes.iter_rows(min_row=2))


@pytest.mark.parametrize("register,user", [("unit", "cs_admin"), ("resident", "cs_admin"), ("department", "it"),
                                           ("fee_item", "it"), ("staff_user", "it")])
def test_every_template_imports_its_own_sample(client_as, world, register, user):
    c = client_as(user)
    r = c.get(f"/admin/{register}/import/template/")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    page = preview(c, register, r.data, "t.xlsx").get_data(as_text=True)
    assert sum(counts(page).values()) == 1 and counts(page)["error"] == 0, page[-3000:]


def test_importable_registers_are_declared():
    from kernel.register import registers
    importable = sorted(n for n, m in registers().items() if m.importable)
    assert importable == ["department", "fee_item", "resident", "staff_user", "unit"]


# ---------------------------------------------------------------- residents
def residents(*rows):
    return xlsx([["姓名", "类别", "房号", "电话", "身份证号", "入住日期", "业主委托书已备案"], *rows])


def test_residents_errors_in_chinese_per_row(client_as, world):
    c = client_as("cs_admin")
    bad_check = ident(7)[:-1] + ("0" if ident(7)[-1] != "0" else "1")
    data = residents(["王五", "业主", "3-2-1501", "13800138001", ident(1), "2026-01-05", "否"],
                     ["赵六", "业主", "3-2-1501", "13800138002", bad_check, None, None],
                     ["钱七", "业主", "9-9-999", "13800138003", ident(3), None, None],
                     ["孙八", "业主", "1-1-201", "12345", ident(4), None, None],
                     ["王五二", "业主", "3-2-1501", "13800138004", ident(1), None, None],
                     ["周九", "租户", "1-1-201", "13800138005", ident(5), None, None],
                     ["吴十", "业主", "1-1-201", "13800138006", ident(6), "下周", None])
    page = preview(c, "resident", data).get_data(as_text=True)
    assert counts(page) == {"new": 1, "changed": 0, "unchanged": 0, "error": 6}, page[:3000]
    assert "身份证号码无效" in page
    assert "房号：“9-9-999”不存在" in page
    assert "电话应为手机号或固定电话" in page
    assert "与第 2 行重复" in page
    assert "租户所在房号没有业主档案" in page
    assert "入住日期：“下周”不是日期" in page
    assert 'name="token"' not in page  # nothing to confirm while a row is wrong


def test_residents_new_changed_masked_and_tenant_with_owner_in_file(client_as, world):
    c = client_as("cs_admin")
    data = residents(["业主A", "业主", "1-1-101", "13700137000", None, None, None],  # name + unit: the owner on file
                     ["新业主", "业主", "1-1-201", "13800138001", ident(11), "2026/1/5", "否"],
                     ["新租户", "租户", "1-1-201", "13800138002", ident(12), "2026年2月1日", "是"])
    page = preview(c, "resident", data).get_data(as_text=True)
    assert counts(page) == {"new": 2, "changed": 1, "unchanged": 0, "error": 0}, page[:3000]
    assert "13800138000 → 13700137000" in page
    assert ident(11) not in page and ident(11)[-4:] in page  # masked in the preview, like everywhere
    confirm(c, "resident", page)
    [t] = scalars(select(Resident).where(Resident.name == "新租户"))
    assert (t.kind, t.id_number, t.move_in_date, t.owner_authorisation, t.state) == (
        "tenant", ident(12), date(2026, 2, 1), True, "active")
    [audit_row] = scalars(select(AuditLog).where(AuditLog.action == "import", AuditLog.record_id == t.id,
                                                 AuditLog.register == "resident"))
    assert ident(12) not in str(audit_row.changes)  # the audit log keeps the number masked
    # by ID number: a second file with another name for the same number changes that record, adds none
    page = preview(c, "resident", residents(["新租户改名", "租户", "1-1-201", None, ident(12), None, None])).get_data(
        as_text=True)
    assert counts(page) == {"new": 0, "changed": 1, "unchanged": 0, "error": 0}


def test_gbk_and_bom_csv(client_as, world):
    c = client_as("cs_admin")
    rows = [["姓名", "房号", "类别", "电话"], ["陈一", "1-1-201", "业主", "１３８００１３８００９"]]
    for data in (csv_bytes(rows, "gbk"), csv_bytes(rows, bom=True), csv_bytes(rows)):
        page = preview(c, "resident", data, "业主.csv").get_data(as_text=True)
        assert counts(page) == {"new": 1, "changed": 0, "unchanged": 0, "error": 0}, page[:2000]
    confirm(c, "resident", page)
    assert scalars(select(Resident.phone).where(Resident.name == "陈一")) == ["13800138009"]


def test_permission_import_is_an_operation(client_as):
    assert client_as("clerk").get("/admin/unit/import/").status_code == 403
    assert client_as("clerk").post("/admin/resident/import/confirm/", {"token": "0" * 32}).status_code == 403
    assert client_as("it").get("/admin/resident/import/").status_code == 403  # IT reads no personal data
    assert client_as("supervisor").get("/admin/fee_item/import/template/").status_code == 403
    assert client_as("cs_admin").get("/admin/unit/import/").status_code == 200
    assert client_as("it").get("/admin/fee_item/import/").status_code == 200
    assert client_as("cs_admin").get("/admin/repair_order/import/").status_code in (403, 404)  # not importable
    assert "fd-import-link" in client_as("cs_admin").get("/admin/unit/").get_data(as_text=True)
    assert "fd-import-link" not in client_as("clerk").get("/admin/unit/").get_data(as_text=True)


def test_confirm_trusts_only_the_servers_copy(client_as, world, store):
    c = client_as("cs_admin")
    page = preview(c, "unit", units_file()).get_data(as_text=True)
    # another user cannot confirm this preview
    r = client_as("it").post("/admin/unit/import/confirm/", {"token": token(page)}, follow_redirects=True)
    assert "预览已失效" in r.get_data(as_text=True)
    # the data changed since the preview: refused, nothing written
    with c.app.app_context():
        db.session.add(Unit(property_id=world.a, code="5-1-101", building="5", entrance="1", room="101"))
        db.session.commit()
    before = count(Unit)
    r = confirm(c, "unit", page)
    assert "预览之后数据已有变化" in r.get_data(as_text=True)
    assert count(Unit) == before


def test_confirm_revalidates_a_row_that_went_wrong_since_the_preview(client_as, world):
    c = client_as("cs_admin")
    with c.app.app_context():
        db.session.add(Unit(property_id=world.a, code="5-5-505", building="5", entrance="5", room="505"))
        db.session.commit()
    page = preview(c, "resident", residents(["孙十一", "业主", "5-5-505", None, None, None, None])).get_data(
        as_text=True
    )
    assert counts(page)["new"] == 1
    with c.app.app_context():
        db.session.execute(Unit.__table__.update().where(Unit.code == "5-5-505").values(active=False))
        db.session.commit()
    r = confirm(c, "resident", page).get_data(as_text=True)
    assert "文件中有错误的行，未导入任何数据" in r
    assert count(Resident, name="孙十一") == 0


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("data,message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "无法识别的文件"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "文件已加密或是旧版 .xls"),
    (b"PK\x03\x04garbage", "文件已损坏"),
    (b"", "文件是空的"),
    ("名字,地址\n甲,乙\n".encode(), "找不到表头"),
    ("楼栋,单元\n1,2\n".encode(), "缺少必需的列：房号"),
], ids=["png", "encrypted", "broken-zip", "empty", "no-header", "missing-column"])
def test_refused_files(client_as, data, message):
    page = preview(client_as("cs_admin"), "unit", data).get_data(as_text=True)
    assert message in page, page[:3000]
    assert 'name="token"' not in page


def test_zip_bomb_refused_before_inflating(client_as, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\x00" * (20 * 1024 * 1024))  # ratio ~1000:1
    page = preview(client_as("cs_admin"), "unit", buf.getvalue()).get_data(as_text=True)
    assert "表格解压后过大" in page


def test_zip_bomb_by_total_size(client_as, monkeypatch):
    monkeypatch.setattr(imports, "MAX_UNCOMPRESSED", 1024)
    page = preview(client_as("cs_admin"), "unit", units_file()).get_data(as_text=True)
    assert "表格解压后过大" in page


def test_too_many_rows(client_as, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 5)
    rows = [UNIT_HEAD] + [[f"7-1-{i}", "7", "1", str(i), None, None] for i in range(10)]
    for data in (xlsx(rows), csv_bytes(rows)):
        page = preview(client_as("cs_admin"), "unit", data).get_data(as_text=True)
        assert "行数过多" in page and "上限 5 行" in page


def test_formulas_long_cells_and_text_in_numbers(client_as, world):
    data = xlsx([UNIT_HEAD, ["8-1-101", "8", "1", "101", "=1+1", None],
                 ["8-1-102", "8", "1", "x" * 100_000, None, None],
                 ["8-1-103", "8", "1", "103", "大约九十", None], ["8-1-104", "8", "1", "104", -5, None],
                 ["8-1-105", "8", "1", "105", None, "拆了"]])
    page = preview(client_as("cs_admin"), "unit", data).get_data(as_text=True)
    assert counts(page) == {"new": 0, "changed": 0, "unchanged": 0, "error": 5}, page[:3000]
    assert "是公式" in page and "内容过长" in page and "不是数字" in page
    assert "必须大于零" in page and "不是可选值" in page


def test_database_refusal_at_confirm_names_the_row_and_writes_nothing(client_as, world):
    """A constraint only the database knows (a unique index the checks do not see) rolls back whole."""
    c = client_as("it")
    data = xlsx([["名称", "类别", "电话"], ["保安部", "保安部", "0755-88886666"], ["新工程部", "工程部", None]])
    page = preview(c, "department", data).get_data(as_text=True)
    assert counts(page)["new"] == 2
    before = count(Department)
    with c.app.app_context():
        db.session.execute(text("CREATE UNIQUE INDEX ux_test_dept ON department (property_id, kind)"))
        db.session.commit()
    try:
        r = confirm(c, "department", page).get_data(as_text=True)
        assert "第 3 行被数据库拒绝" in r, r[:3000]
        assert count(Department) == before
        assert scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action.in_(("import", "import_file")))) == 0
    finally:
        with c.app.app_context():
            db.session.execute(text("DROP INDEX ux_test_dept"))
            db.session.commit()


def test_a_cell_of_100000_characters_in_csv(client_as):
    data = csv_bytes([UNIT_HEAD, ["8-1-101", "8", "1", "x" * 100_000, "", ""]])
    page = preview(client_as("cs_admin"), "unit", data, "u.csv").get_data(as_text=True)
    assert "内容过长（100000 个字，上限 2000）" in page and counts(page)["error"] == 1


def test_gbk_text_that_is_not_text(client_as):
    page = preview(client_as("cs_admin"), "unit", bytes(range(128, 256)) * 10, "x.csv").get_data(as_text=True)
    assert "无法识别文件编码" in page or "找不到表头" in page


# ---------------------------------------------------------------- other registers
def test_fee_items_and_departments(client_as, world):
    c = client_as("it")
    fees = xlsx([["代码", "名称", "计价单位", "金额(元)", "生效日期"],
                 ["worker_pass_deposit", "押金", "人", "150", "2026-01-01"],   # a price in force: never edited
                 ["worker_pass_deposit", "押金", "人", "150", "2027-01-01"]])  # a new price from a date
    page = preview(c, "fee_item", fees).get_data(as_text=True)
    assert counts(page)["error"] == 1 and "已生效的价格不能修改" in page
    fees = xlsx([["代码", "名称", "计价单位", "金额(元)", "生效日期", "失效日期"],
                 ["cleaning_hour", "保洁", "小时", "40", "2027-01-01", "2026-01-01"]])
    assert "失效日期不能早于生效日期" in preview(c, "fee_item", fees).get_data(as_text=True)
    deps = xlsx([["名称", "类别", "联系人", "电子邮箱"], ["工程部", "工程部", "李工", "eng@example.com"],
                 ["保安部", "security", None, "bad mail"]])
    page = preview(c, "department", deps).get_data(as_text=True)
    assert counts(page) == {"new": 0, "changed": 1, "unchanged": 0, "error": 1}
    assert FeeItem and Department


# ---------------------------------------------------------------- staff accounts with their roles
def test_staff_accounts_with_roles_at_the_property(client_as, world):
    from kernel.identity import Membership, MembershipGrant, Role, StaffUser
    c = client_as("it")
    data = xlsx(
        [
            ["用户名", "姓名", "电话", "角色"],
            ["guard9", "门岗九", "13800138009", "保安"],  # no four eyes: a membership
            ["zhang3", "张三", None, "客服助理、财务"],  # four eyes: grants a manager confirms
            ["clerk", "clerk", None, "客服管理员"],  # an account here: a role added
            ["clerk_b", "B 的助理", None, "客服助理"],  # another property's account
            ["it", "it", None, "IT"],  # IT's own account
            ["li4", "李四", None, "经理助理"],
        ]
    )  # no such role
    page = preview(c, "staff_user", data).get_data(as_text=True)
    assert counts(page) == {"new": 2, "changed": 1, "unchanged": 0, "error": 3}, page[-4000:]
    assert (
        "该用户名已被其他项目的员工使用" in page
        and "不能通过导入修改自己的账号" in page
        and "“经理助理”不是角色" in page
    )
    assert "客服助理 → 客服助理、客服管理员" in page or "客服助理/前台值班员 → " in page
    # fix the file: only the good rows
    good = xlsx([["用户名", "姓名", "电话", "角色"], ["guard9", "门岗九", "13800138009", "保安"],
                 ["zhang3", "张三", None, "客服助理、财务"], ["clerk", "clerk", None, "客服管理员"]])
    page = preview(c, "staff_user", good).get_data(as_text=True)
    r = confirm(c, "staff_user", page).get_data(as_text=True)
    assert "新增 2 条，修改 1 条" in r, r[-3000:]
    with c.app.app_context():
        z = db.session.scalars(select(StaffUser).where(StaffUser.username == "zhang3")).one()
        assert z.must_change_password and z.password_hash
        pending = db.session.execute(select(Role.code).join(MembershipGrant, MembershipGrant.role_id == Role.id).where(
            MembershipGrant.user_id == z.id, MembershipGrant.state == "pending")).scalars().all()
        assert sorted(pending) == ["clerk", "finance"] and not z.memberships
        g9 = db.session.scalars(select(StaffUser).where(StaffUser.username == "guard9")).one()
        assert [(m.property_id, m.role.code) for m in g9.memberships] == [(world.a, "guard")]
        assert db.session.scalar(select(func.count()).select_from(Membership)) > 0
    # the same file again changes nothing (pending grants count as there)
    page = preview(c, "staff_user", good).get_data(as_text=True)
    assert counts(page) == {"new": 0, "changed": 0, "unchanged": 3, "error": 0}


# ---------------------------------------------------------------- a month's roster grid
def _roster(app, world, state="draft"):
    from models.duty import Roster
    with app.app_context():
        r = Roster(property_id=world.a, month=date(2026, 12, 1), state=state)
        db.session.add(r)
        db.session.commit()
        return r.id


def _grid(app, rid):
    from models.duty import RosterAssignment
    from models.master import Shift
    with app.app_context():
        return {(a.staff.username, a.day.day): db.session.get(Shift, a.shift_id).code for a in db.session.scalars(
            select(RosterAssignment).where(RosterAssignment.roster_id == rid))}


def test_roster_grid_template_preview_confirm_and_again(app, client_as, world):
    rid = _roster(app, world)
    c = client_as("cs_admin")
    r = c.get(f"/admin/roster/grid/template/?id={rid}")
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    ws = wb.worksheets[0]
    assert [x.value for x in ws[1]][:4] == ["用户名", "姓名", 1, 2] and ws.max_column == 33
    assert {row[0].value for row in ws.iter_rows(min_row=2)} >= {"clerk", "cs_admin", "clerk2"}
    head = ["用户名", "姓名"] + [f"{d}日" for d in range(1, 32)]
    bad = xlsx([head, ["clerk", "clerk", "早班", "中", "休", "夜班"], ["guard", "guard", "早班"],
                ["clerk", "clerk", "早班"]])
    page = c.post(f"/admin/roster/grid/import/?id={rid}", {"file": (io.BytesIO(bad), "排班.xlsx")},
                  follow_redirects=True).get_data(as_text=True)
    assert counts(page)["error"] == 3, page[-3000:]
    assert "4日：“夜班”不是班次" in page and "“guard”不是本项目的前台值班人员" in page and "与第 2 行是同一人" in page
    good = xlsx([head, ["clerk", "clerk", "早班", "中", "休", "late"], ["clerk2", None, None, "晚班"]])
    page = c.post(f"/admin/roster/grid/import/?id={rid}", {"file": (io.BytesIO(good), "排班.xlsx")},
                  follow_redirects=True).get_data(as_text=True)
    assert counts(page) == {"new": 2, "changed": 0, "unchanged": 0, "error": 0}, page[-3000:]
    assert _grid(app, rid) == {}  # nothing before the confirm
    r = c.post(f"/admin/roster/grid/import/confirm/?id={rid}", {"token": token(page)}, follow_redirects=True)
    assert "排班已导入" in r.get_data(as_text=True)
    assert _grid(app, rid) == {("clerk", 1): "early", ("clerk", 2): "middle", ("clerk", 4): "late",
                               ("clerk2", 2): "late"}
    assert count(AuditLog, action="import_file", register="roster") == 1
    page = c.post(f"/admin/roster/grid/import/?id={rid}", {"file": (io.BytesIO(good), "排班.xlsx")},
                  follow_redirects=True).get_data(as_text=True)
    assert counts(page) == {"new": 0, "changed": 0, "unchanged": 2, "error": 0}
    # a cell emptied in the file is emptied in the roster
    less = xlsx([head, ["clerk", "clerk", None, "中", "休", "late"]])
    page = c.post(f"/admin/roster/grid/import/?id={rid}", {"file": (io.BytesIO(less), "排班.xlsx")},
                  follow_redirects=True).get_data(as_text=True)
    assert counts(page)["changed"] == 1 and "1日：早班 → 休" in page
    c.post(f"/admin/roster/grid/import/confirm/?id={rid}", {"token": token(page)}, follow_redirects=True)
    assert ("clerk", 1) not in _grid(app, rid)


def test_roster_grid_import_needs_the_operation_and_an_open_roster(app, client_as, world):
    rid = _roster(app, world)
    assert client_as("clerk").get(f"/admin/roster/grid/import/?id={rid}").status_code == 403
    assert client_as("supervisor").get(f"/admin/roster/grid/template/?id={rid}").status_code == 403
    assert client_as("cs_admin").get(f"/admin/roster/grid/import/?id={rid}").status_code == 200
    with app.app_context():
        from models.duty import Roster
        db.session.get(Roster, rid).state = "filed"
        db.session.commit()
    r = client_as("cs_admin").get(f"/admin/roster/grid/import/?id={rid}", follow_redirects=True)
    assert "不能再导入" in r.get_data(as_text=True)


def test_roster_confirm_refused_when_the_roster_changed_since_the_preview(app, client_as, world):
    from models.duty import RosterAssignment
    from models.master import Shift
    rid = _roster(app, world)
    c = client_as("cs_admin")
    head = ["用户名"] + list(range(1, 32))
    data = xlsx([head, ["clerk", "早班"]])
    page = c.post(f"/admin/roster/grid/import/?id={rid}", {"file": (io.BytesIO(data), "g.xlsx")},
                  follow_redirects=True).get_data(as_text=True)
    assert counts(page)["new"] == 1
    with app.app_context():
        shift = db.session.scalars(select(Shift).where(Shift.property_id == world.a, Shift.code == "late")).first()
        db.session.add(RosterAssignment(roster_id=rid, property_id=world.a, staff_id=world.users["clerk"],
                                        day=date(2026, 12, 1), shift_id=shift.id))
        db.session.commit()
    r = c.post(f"/admin/roster/grid/import/confirm/?id={rid}", {"token": token(page)}, follow_redirects=True)
    assert "预览之后数据已有变化" in r.get_data(as_text=True)
    assert _grid(app, rid) == {("clerk", 1): "late"}


def test_a_plan_with_errors_is_never_applied(app, world):
    from models.duty import GridPlan, Roster, apply_grid
    plan = imports.Plan("unit", [], [imports.Row(2, status="error", errors=["x"])], [],
                        {"new": 0, "changed": 0, "unchanged": 0, "error": 1})
    with app.test_request_context():
        with pytest.raises(ValueError):
            imports.apply(db.session, Unit, world.a, plan, "f.xlsx", "0" * 64)
        with pytest.raises(ValueError):
            apply_grid(Roster(property_id=world.a, month=date(2026, 12, 1)), db.session,
                       GridPlan([], {"new": 0, "changed": 0, "unchanged": 0, "error": 1}, []), "f", "0", None)


def test_the_kept_file_is_encrypted_checked_and_removed_after_the_confirm(client_as, world, store):
    c = client_as("cs_admin")
    data = csv_bytes([["姓名", "房号", "身份证号"], ["存档人", "1-1-201", ident(21)]])
    page = preview(c, "resident", data, "r.csv").get_data(as_text=True)
    kept = [p for p in store.iterdir() if not p.name.endswith(".json")]
    assert len(kept) == 1 and ident(21).encode() not in kept[0].read_bytes()  # encrypted at rest
    original = kept[0].read_bytes()
    kept[0].write_bytes(original[:-8] + b"AAAAAAAA")  # altered on disk: refused, nothing written
    assert "预览已失效" in confirm(c, "resident", page).get_data(as_text=True)
    other = csv_bytes([["姓名", "房号"], ["调包人", "1-1-201"]])
    kept[0].write_bytes(pii.encrypt_bytes(other))  # another file under this name: its hash tells
    assert "预览已失效" in confirm(c, "resident", page).get_data(as_text=True)
    assert count(Resident, name="存档人") == 0 and count(Resident, name="调包人") == 0
    kept[0].write_bytes(original)
    assert "新增 1 条" in confirm(c, "resident", page).get_data(as_text=True)
    assert list(store.iterdir()) == []  # the file and its ticket are gone


@pytest.mark.parametrize("tok", ["", "../../etc/passwd", "0" * 32, "g" * 32, "a" * 5000, "%00"])
def test_odd_tickets_answer_below_500_and_write_nothing(client_as, tok):
    c = client_as("cs_admin")
    before = count(Unit)
    r = c.post("/admin/unit/import/confirm/", {"token": tok}, follow_redirects=True)
    assert r.status_code == 200 and "预览已失效" in r.get_data(as_text=True)
    assert count(Unit) == before


def test_an_upload_without_a_file_or_with_a_huge_one(client_as, monkeypatch):
    c = client_as("cs_admin")
    r = c.post("/admin/unit/import/", {}, follow_redirects=True)
    assert r.status_code == 200 and "请选择要导入的文件" in r.get_data(as_text=True)
    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    page = preview(c, "unit", units_file()).get_data(as_text=True)
    assert "文件过大" in page


def test_all_properties_view_imports_nothing(client_as):
    """A company-wide role looking at all properties picks one first: an import belongs to one property."""
    c = client_as("it")
    c.post("/property", {"property_id": "all"})
    r = c.get("/admin/fee_item/import/", follow_redirects=True)
    assert "请先在页头选择一个项目" in r.get_data(as_text=True)
    before = count(FeeItem)
    fees = xlsx([["代码", "名称", "计价单位", "金额(元)", "生效日期"], ["x1", "某费", "次", "1", "2027-01-01"]])
    r = preview(c, "fee_item", fees)
    assert "请先在页头选择一个项目" in r.get_data(as_text=True) and count(FeeItem) == before
