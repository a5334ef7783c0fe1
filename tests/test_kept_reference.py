"""Issue 14: reference data kept per process (kernel/kept.py): the deadlines' minutes, the departments and the
saved views are read once and reused while the database's generation is unchanged, and a change through any
session, in this process or another, shows on the next request."""
import json
import re
from datetime import timedelta

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from kernel.clock import now, travel
from kernel.db import db
from kernel.kept import DataGeneration
from models import DeadlineRule, Department
from models.desk import RepairOrder
from tests.factories import make


def generation(app):
    with app.app_context():
        return db.session.scalar(select(DataGeneration.value))


def statements_of(app, client, url):
    seen = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        page = client.get(url).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return page, seen


def named(text):
    """`text` as the filters' JSON data writes it (non-ASCII escaped)."""
    return json.dumps(text)[1:-1]


def reads(seen, table):
    return [s for s in seen if re.search(rf"\bFROM {table}\b", s) and not s.lstrip().startswith(("INSERT", "UPDATE"))]


def test_a_write_to_a_kept_table_changes_the_generation_and_other_writes_do_not(app, world):
    first = generation(app)
    assert first is not None  # the world's departments were written through the session
    with app.app_context():
        make(RepairOrder, world.a, created_by_id=world.users["clerk"], commit=True)
    assert generation(app) == first
    with app.app_context():
        dept = db.session.scalar(select(Department).where(Department.property_id == world.a))
        dept.contact = "王工"
        dept_id = dept.id
        db.session.commit()
    second = generation(app)
    assert second not in (None, first)
    with app.app_context():  # an ORM bulk UPDATE is a write too
        db.session.execute(update(Department).where(Department.id == dept_id).values(contact="李工"))
        db.session.commit()
    third = generation(app)
    assert third not in (None, second)
    with app.app_context():  # a write rolled back leaves the generation as it was
        db.session.add(Department(property_id=world.a, name="保安部", kind="security"))
        db.session.flush()
        db.session.rollback()
    assert generation(app) == third


def test_a_list_reads_the_reference_data_once_then_from_the_process(app, world, client_as):
    with app.app_context():  # a row, so that its overdue badge asks for the minutes
        make(RepairOrder, world.a, created_by_id=world.users["clerk"], state="registered", received_at=now(),
             commit=True)
    c = client_as("clerk")
    _, first = statements_of(app, c, "/admin/repair_order/")
    assert reads(first, "deadline_rule") and reads(first, "department") and reads(first, "saved_view")
    page, again = statements_of(app, c, "/admin/repair_order/")
    assert not reads(again, "deadline_rule") and not reads(again, "department") and not reads(again, "saved_view")
    filters = page.split('id="filter-groups-data"')[1].split("</div>")[0]
    assert named("工程部") in filters


def test_a_change_in_another_process_shows_on_the_next_request(app, world, client_as):
    c = client_as("clerk")
    with app.app_context():
        make(RepairOrder, world.a, created_by_id=world.users["clerk"], state="registered", received_at=now(),
             commit=True)
    travel(timedelta(minutes=5))
    before = c.get("/admin/repair_order/?overdue=1").get_data(as_text=True)
    assert before.count('name="rowid" class="action-checkbox"') == 1  # 3 minutes to dispatch: late
    filters = c.get("/admin/repair_order/").get_data(as_text=True).split('id="filter-groups-data"')[1]
    assert named("后勤部") not in filters.split("</div>")[0]
    with app.app_context():  # another worker's session: same database, none of this process's request state
        with Session(db.engine) as other:
            other.execute(update(DeadlineRule).where(DeadlineRule.code == "repair.dispatch").values(minutes=60))
            other.add(Department(property_id=world.a, name="后勤部", kind="engineering"))
            other.commit()
    after = c.get("/admin/repair_order/?overdue=1").get_data(as_text=True)
    assert after.count('name="rowid" class="action-checkbox"') == 0  # 60 minutes now: not late
    filters = c.get("/admin/repair_order/").get_data(as_text=True).split('id="filter-groups-data"')[1]
    assert named("后勤部") in filters.split("</div>")[0]


def test_a_saved_view_shows_in_the_menu_on_the_next_page(app, world, client_as):
    c = client_as("clerk")
    c.get("/admin/repair_order/")  # the views menu kept, empty
    r = c.post("/admin/repair_order/views/save/", {"name": "我的待派工", "query": "mine=1"})
    assert r.status_code == 302
    page = c.get("/admin/repair_order/").get_data(as_text=True)
    assert "我的待派工" in page.split('class="dropdown-item fd-view"')[1]


def test_without_a_generation_nothing_is_kept(app, world, client_as):
    with app.app_context():
        make(RepairOrder, world.a, created_by_id=world.users["clerk"], state="registered", received_at=now())
        db.session.execute(DataGeneration.__table__.delete())
        db.session.commit()
    c = client_as("clerk")
    c.get("/admin/repair_order/")
    _, again = statements_of(app, c, "/admin/repair_order/")
    assert reads(again, "deadline_rule") and reads(again, "department")


def test_what_a_request_reads_after_writing_a_kept_table_is_not_kept(app, world):
    """Read after a write in the same transaction, the data is not yet committed (and may be rolled back): kept
    under the generation the request began with, it would show to every later request."""
    from kernel import kept
    names = lambda: sorted(db.session.scalars(select(Department.name)))  # noqa: E731
    with app.test_request_context("/admin/"):
        kept.read(generation(app))
        db.session.add(Department(property_id=world.a, name="临时部", kind="engineering"))
        db.session.flush()
        assert "临时部" in kept.kept(("test", "departments"), names)
        db.session.rollback()
    with app.test_request_context("/admin/"):
        kept.read(generation(app))
        assert "临时部" not in kept.kept(("test", "departments"), names)
