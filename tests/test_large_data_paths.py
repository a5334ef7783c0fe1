"""The fast paths of issue #7, tested for correctness (their speed is measured by `make bench`, not here)."""
import io

from openpyxl import load_workbook
from sqlalchemy import select

from kernel.db import db
from models import AuditLog, SignOff
from models.desk import RepairOrder
from models.permits import GoodsPass
from tests.factories import make


def test_csv_export_streams_every_row_of_the_filtered_list(app, world, client_as):
    with app.app_context():
        for i in range(1203):
            make(RepairOrder, world.a, phone=f"1390000{i:04d}")
        make(RepairOrder, world.b)
        db.session.commit()
    c = client_as("clerk")
    r = c.get("/admin/repair_order/export/csv/", buffered=False)
    assert r.is_streamed
    body = b"".join(r.response).decode("utf-8-sig")
    r.close()
    lines = body.strip().splitlines()
    assert len(lines) == 1 + 1203 and "B-BX" not in body  # header + every row of A, none of B
    assert lines[0].startswith("编号,状态")
    filtered = c.get("/admin/repair_order/export/csv/?search=139000001").get_data(as_text=True)
    assert len(filtered.strip().splitlines()) == 1 + 100  # 13900000100..13900000199


def test_xlsx_export_opens_and_holds_the_rows(app, world, client_as):
    with app.app_context():
        for _ in range(30):
            make(RepairOrder, world.a)
        db.session.commit()
    r = client_as("clerk").get("/admin/repair_order/export/xlsx/")
    sheet = load_workbook(io.BytesIO(r.data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "编号" and len(rows) == 31 and rows[1][1] == "已登记"


def test_export_is_in_the_audit_log(app, world, client_as):
    client_as("supervisor").get("/admin/repair_order/export/csv/").get_data()
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "export"))
        assert row.register == "repair_order" and row.user_id == world.users["supervisor"]


def test_bulk_approval_as_one_update_writes_sign_offs_and_audit_rows(app, world, client_as):
    with app.app_context():
        ids = [make(GoodsPass, world.a, unit_id=world.units[("A", "1-1-101")], state="signed",
                    created_by_id=world.users["clerk"]).id for _ in range(50)]
        db.session.commit()
    assert GoodsPass.transitions["stamp"].state_only and not RepairOrder.transitions["dispatch"].state_only
    r = client_as("manager").post("/admin/goods_pass/action/", {"action": "stamp", "rowid": ids}, follow_redirects=True)
    assert "完成 50 条，跳过 0 条" in r.get_data(as_text=True)
    with app.app_context():
        assert {g.state for g in db.session.scalars(select(GoodsPass))} == {"issued"}
        signs = db.session.scalars(select(SignOff).where(SignOff.transition == "stamp")).all()
        assert (
            len(signs) == 50
            and {s.role for s in signs} == {"manager"}
            and {s.user_id for s in signs} == {world.users["manager"]}
        )
        audits = db.session.scalars(select(AuditLog).where(AuditLog.action == "transition:stamp")).all()
        assert len(audits) == 50 and audits[0].changes == {"state": ["signed", "issued"]}
        assert {g.version for g in db.session.scalars(select(GoodsPass))} == {2}  # a stale form is refused afterwards


def test_bulk_approval_skips_a_pass_already_stamped(app, world, client_as):
    with app.app_context():
        done = make(GoodsPass, world.a, unit_id=world.units[("A", "1-1-101")], state="issued").id
        todo = make(GoodsPass, world.a, unit_id=world.units[("A", "1-1-101")], state="signed").id
        db.session.commit()
    r = client_as("manager").post("/admin/goods_pass/action/", {"action": "stamp", "rowid": [done, todo]},
                                  follow_redirects=True)
    assert "完成 1 条，跳过 1 条" in r.get_data(as_text=True)


def test_foreign_keys_in_forms_are_lookups_not_a_select_of_every_unit(app, world, client_as):
    page = client_as("clerk").get("/admin/repair_order/new/").get_data(as_text=True)
    assert 'data-role="select2-ajax"' in page and "3-2-1501" not in page


def test_overdue_list_filter_and_count_agree(app, world, client_as):
    from datetime import timedelta

    from kernel.clock import now
    with app.app_context():
        for minutes in (1, 5, 10):
            make(RepairOrder, world.a, received_at=now() - timedelta(minutes=minutes))
        db.session.commit()
    page = client_as("clerk").get("/admin/repair_order/?overdue=1").get_data(as_text=True)
    assert "共 2 条" in page


def test_a_deep_page_shows_exactly_that_page(app, world, client_as):
    with app.app_context():
        numbers = [make(RepairOrder, world.a).number for _ in range(600)]
        db.session.commit()
    newest_first = numbers[::-1]
    page = client_as("clerk").get("/admin/repair_order/?page=20").get_data(as_text=True)  # rows 501..525
    shown = [n for n in newest_first if f">{n}<" in page.replace("\n", "").replace(" ", "")]
    assert shown == newest_first[500:525]


def test_the_overdue_list_shows_the_same_rows_with_its_ids_found_first(app, world, client_as):
    """?overdue=1 finds the page's ids before joining units and departments (README "PostgreSQL at 1M and at 10M"):
    each page holds exactly its overdue orders, newest first, with their linked records, and the count is whole."""
    from datetime import timedelta

    from kernel.clock import now
    from models.master import Department
    with app.app_context():
        dept = db.session.scalar(select(Department).where(Department.property_id == world.a))
        late = [make(RepairOrder, world.a, received_at=now() - timedelta(minutes=10)).number for _ in range(27)]
        urgent = [make(RepairOrder, world.a, state="dispatched", urgent=True, department_id=dept.id,
                       received_at=now() - timedelta(minutes=30), dispatched_at=now() - timedelta(minutes=29)
                       ).number for _ in range(3)]  # late on the urgent deadline, shown with their department
        late += urgent  # the newest: ids give the order
        on_time = [make(RepairOrder, world.a, received_at=now() - timedelta(minutes=1)).number for _ in range(5)]
        make(RepairOrder, world.b, received_at=now() - timedelta(minutes=10))
        db.session.commit()
    c = client_as("clerk")
    newest_first = late[::-1]
    pages = [c.get(f"/admin/repair_order/?overdue=1&page={n}").get_data(as_text=True) for n in (0, 1)]
    flat = [p.replace("\n", "").replace(" ", "") for p in pages]
    shown = [sorted((page.index(f">{n}<"), n) for n in newest_first + on_time if f">{n}<" in page) for page in flat]
    assert [[n for _, n in rows] for rows in shown] == [newest_first[:25], newest_first[25:]]
    assert "B-BX" not in pages[0] and "共 30 条" in pages[0]
    rows = {n: row for row in flat[0].split("<tr")[1:] for n in newest_first if f">{n}<" in row}
    assert all("工程部" in rows[n] for n in urgent) and all("1-1-101" in rows[n] for n in newest_first[:25])


def test_an_export_gives_its_connection_back(app, world, client_as):
    """A streamed download ends its own transaction; before, PostgreSQL kept it 'idle in transaction'."""
    client_as("clerk").get("/admin/repair_order/export/csv/")
    client_as("clerk").get("/admin/repair_order/export/xlsx/")
    with app.app_context():
        assert db.engine.pool.checkedout() == 0


def test_export_rows_match_the_list(app, world, client_as):
    """Exports read plain column values; labels, related records and overdue text must still read as on screen."""
    from datetime import timedelta

    from kernel.clock import now
    from models.master import Department
    with app.app_context():
        dept = db.session.scalar(select(Department).where(Department.property_id == world.a))
        make(RepairOrder, world.a, received_at=now() - timedelta(minutes=20), urgent=True, contact="赵")
        make(RepairOrder, world.a, state="dispatched", department_id=dept.id, dispatched_at=now(), contact="钱")
        db.session.commit()
    body = client_as("clerk").get("/admin/repair_order/export/csv/").get_data(as_text=True)
    rows = {line.split(",")[4]: line.split(",") for line in body.strip().splitlines()[1:]}
    assert (
        rows["赵"][1] == "已登记" and rows["赵"][2] == "是" and rows["赵"][3] == '"=""1-1-101"""'
    )  # issue 17: kept as text
    assert rows["赵"][-1] == "3分钟内派工 紧急15分钟到场"
    assert rows["钱"][1] == "已派工" and rows["钱"][8] == "工程部" and rows["钱"][-1] == ""


def test_an_export_reads_linked_records_a_batch_at_a_time(app, world, client_as):
    """Each row's unit is read with its batch's other units in one query, not one query per unit (at 1M orders
    over 5,000 units that was a quarter of the export); every row still shows its own unit, and times stay times."""
    import re
    from datetime import datetime

    from sqlalchemy import event

    from models.master import Unit
    codes = [f"9-1-{100 + i}" for i in range(12)]
    with app.app_context():
        for i, code in enumerate(codes):
            unit = Unit(property_id=world.a, code=code, building="9", entrance="1", room=str(100 + i),
                        status="occupied")
            db.session.add(unit)
            db.session.flush()
            make(RepairOrder, world.a, unit_id=unit.id, contact=f"住户{i}", received_at=datetime(2026, 11, 2, 9, i))
        db.session.commit()
        engine = db.engine
    selects: list[str] = []

    def seen(conn, cursor, statement, *args):
        if re.search(r"\bFROM unit\b", statement):
            selects.append(statement)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        body = client_as("clerk").get("/admin/repair_order/export/csv/").get_data(as_text=True)
        units_read = len(selects)
        selects.clear()
        data = client_as("clerk").get("/admin/repair_order/export/xlsx/").data
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert units_read == 1 and len(selects) == 1
    rows = {line.split(",")[4]: line.split(",") for line in body.strip().splitlines()[1:]}
    for i, code in enumerate(codes):
        assert rows[f"住户{i}"][3] == f'"=""{code}"""' and rows[f"住户{i}"][7] == f"2026-11-02 09:{i:02d}"
    sheet = {r[4]: r for r in load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True)}
    assert sheet["住户3"][3] == "9-1-103" and sheet["住户3"][7] == datetime(2026, 11, 2, 9, 3)


def test_a_page_past_the_count_cap_shows_more_than_the_cap_without_counting(app, world, client_as, monkeypatch):
    """Rows on a page that starts past the cap mean there are more than the cap: the page sends no count (at
    1M rows page 500 counted 10,001 index entries for nothing); past the end it counts, and says how many."""
    from sqlalchemy import event
    with app.app_context():
        for _ in range(60):
            make(RepairOrder, world.a)
        db.session.commit()
        engine = db.engine
    monkeypatch.setitem(app.config, "LIST_COUNT_CAP", 30)
    c = client_as("clerk")
    sent = []

    def listen(conn, cursor, statement, *args):
        sent.append(statement)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        before = c.get("/admin/repair_order/?page=1").get_data(as_text=True)  # rows 26-50, starts before the cap
        counted = [s for s in sent if "count(" in s and "FROM repair_order" in s]
        sent.clear()
        past = c.get("/admin/repair_order/?page=2").get_data(as_text=True)  # rows 51-60: past the cap
        listed = [s for s in sent if "FROM repair_order" in s]
        # the list's own count: labelled fd_count with the rows, or alone (the state tabs count each state)
        own_count = [s for s in listed if "fd_count" in s or (s.lstrip().startswith("SELECT count(")
                                                                 and "state = " not in s)]
        sent.clear()
        end = c.get("/admin/repair_order/?page=3").get_data(as_text=True)  # nothing there
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert counted and "超过 30 条" in before
    assert listed and not own_count and "超过 30 条" in past
    assert past.count('name="rowid" class="action-checkbox"') == 10
    assert "超过 30 条" in end


def test_a_record_page_reads_its_linked_records_with_it_and_its_files_once(app, world, client_as):
    """The unit, department and property shown on a record's page come with the record (not a statement each),
    and its files are read once for the files panel and the steps' uploads."""
    from sqlalchemy import event

    from models import Department
    with app.app_context():
        dept = db.session.scalar(select(Department.id).where(Department.property_id == world.a))
        rid = make(RepairOrder, world.a, unit_id=world.units[("A", "1-1-101")], department_id=dept,
                   state="dispatched", commit=True).id
        engine = db.engine
    c = client_as("clerk")
    c.get(f"/admin/repair_order/details/?id={rid}")
    sent = []

    def listen(conn, cursor, statement, *args):
        sent.append(" ".join(statement.split()))
    event.listen(engine, "before_cursor_execute", listen)
    try:
        page = c.get(f"/admin/repair_order/details/?id={rid}").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert "1-1-101" in page
    alone = [s for s in sent if s.startswith(("SELECT unit.", "SELECT property."))]
    assert not alone, alone
    assert len([s for s in sent if s.startswith("SELECT attachment.")]) == 1
