"""make bench: fill a database with synthetic repair orders and measure the pages a clerk uses, in process.

BENCH_ROWS (default 1,000,000) repair orders for property A, 10,000 for property B (the small-register
reference), 5,000 units with residents, 1,000 goods passes awaiting the manager's stamp. SQLite at
bench/bench.db by default; DATABASE_URL selects PostgreSQL (its database name must contain "bench": the
benchmark drops and refills it). A filled database is reused when its row count and data stamp match.

From BENCH_ROWS=10,000,000 on (or with BENCH_PROPERTIES=50) the rows are a company's: BENCH_ROWS in total over
50 properties, property A (the big one, where the clerk and the manager work) holds a tenth of them, B keeps its
10,000, the other 48 share the rest (~184,000 each at 10M). The pages then measure property A's share (1,000,000
orders at 10M, as many as A has in the 1M run) inside a table ten times larger: what the indexes must keep flat.

PostgreSQL fills set-based (sql_orders: one INSERT ... SELECT over generate_series, indexes built afterwards;
10M rows in minutes); SQLite keeps the Python generator (python_orders), whose data is what bench-v2 made.

Prints a table (per page: p50, p95 and least of the whole request, the SQL time inside the same requests, "the rest" =
Python + template, the process CPU time, and the target) and, as the last line, one JSON object with the figures.
Wall times on a shared machine include waiting for a core; the CPU column is the process's own time, the steadier
figure when other work runs (the note in README says which machine state a table was made in).
`make bench-load` (bench/load.py) is the throughput mode: gunicorn, PostgreSQL, 16 concurrent clients.
"""
from __future__ import annotations

import json
import os
import random
import re
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, insert, select, text  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
SMALL = 10_000
UNITS = 5_000
PASSES = 1_000
REPEAT = int(os.environ.get("BENCH_REPEAT", "20"))  # BENCH_EXPORTS=0 skips the (minutes-long) full exports
URL = os.environ.get("DATABASE_URL") or f"sqlite:///{ROOT / 'bench' / 'bench.db'}"
# bump when the generated data changes, so a stale filled database is refilled; PostgreSQL's stamp also names its
# set-based generator and the number of properties (data_stamp), so SQLite's bench-v2 databases stay reusable
DATA_VERSION = "bench-v2"
# 50 properties from ten million rows on (a company, not one estate); BENCH_PROPERTIES overrides
PROPERTIES = int(os.environ.get("BENCH_PROPERTIES", "50" if ROWS >= 10_000_000 else "2"))
CONTENTS = ["厨房漏水", "灯不亮", "门锁坏了", "下水道堵塞", "空调不制冷"]
LOAD_CONTACT = "压测"  # the contact of the orders bench.load registers
STATES = [("closed", 800), ("visited", 60), ("completed", 40), ("on_site", 10), ("dispatched", 30),
          ("registered", 30), ("cancelled", 30)]  # the last 30 days; older orders are closed, visited or cancelled


def rss_peak_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def schema_stamp() -> str:
    """A short hash of every table's columns and indexes as the models declare them."""
    import hashlib

    from kernel.db import db
    parts = sorted(f"{t.name}.{c.name}" for t in db.metadata.tables.values() for c in t.columns)
    parts += sorted(f"{t.name}:{i.name}" for t in db.metadata.tables.values() for i in t.indexes)
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:10]


def build_app():
    from app.config import Config
    from app.factory import create_app
    return create_app(Config, SQLALCHEMY_DATABASE_URI=URL, RATELIMIT_ENABLED=False,
                      PASSWORD_HASH_METHOD="pbkdf2:sha256:1")


def plan() -> list[tuple[str, str, int, int]]:
    """(code, name, repair orders, units) per property, in insertion order (property ids 1, 2, ...)."""
    if PROPERTIES <= 2:  # the 1M default: one big register and the small-register reference
        return [("A", "大型项目", ROWS, UNITS), ("B", "小型项目", SMALL, 200)]
    big = ROWS // 10
    others = PROPERTIES - 2
    rest = ROWS - big - SMALL
    out = [("A", "大型项目", big, UNITS), ("B", "小型项目", SMALL, 200)]
    for k in range(others):
        out.append((f"P{k + 3:02d}", f"项目{k + 3:02d}", rest // others + (k < rest % others), 1000))
    return out


def layout() -> str:
    props = plan()
    if len(props) == 2:
        return f"{ROWS:,} repair orders (+{SMALL:,} in a second property)"
    return (f"{sum(p[2] for p in props):,} repair orders in {len(props)} properties, {props[0][2]:,} of them in "
            f"property A (the clerk's)")


def data_stamp(dialect: str) -> str:
    """What the filled data is: generator version, generator (PostgreSQL: set-based SQL), properties, schema."""
    gen = f"-sql{PROPERTIES}p" if dialect == "postgresql" else ""
    return f"{DATA_VERSION}{gen}-{schema_stamp()}"  # a schema change (a new column) refills too


def python_orders(rng, now, plan_row, pid, unit_ids):
    """Repair orders of one property built in Python (the SQLite path; its data is what bench-v2 made)."""
    code, _, count, _ = plan_row
    weights = [w for _, w in STATES]
    names = [s for s, _ in STATES]
    start = now - timedelta(days=3 * 365)
    step = (now - start) / count
    seq = {}
    for i in range(count):
        received = start + step * i
        day = received.date()
        seq[day] = seq.get(day, 0) + 1
        # open orders are recent ones, as at a real desk: older than 30 days they are finished
        recent = received > now - timedelta(days=30)
        state = (
            rng.choices(names, weights)[0]
            if recent
            else rng.choices(["closed", "visited", "cancelled"], [93, 5, 2])[0]
        )
        yield dict(
            property_id=pid,
            number=f"{code}-BX-{day:%Y%m%d}-{seq[day]:04d}",
            unit_id=rng.choice(unit_ids),
            contact="业主",
            phone=f"1{rng.randint(3, 9)}{rng.randint(0, 999999999):09d}",
            content=rng.choice(CONTENTS),
            urgent=rng.random() < 0.05,
            source="phone",
            received_at=received,
            state=state,
            state_changed_at=received,
            created_at=received,
            created_by_id=1,
            version=1,
            department_id=pid if state != "registered" else None,
            dispatched_at=received + timedelta(minutes=2) if state not in ("registered", "cancelled") else None,
            completed_at=received + timedelta(hours=3) if state in ("completed", "visited", "closed") else None,
            visited_at=received + timedelta(hours=5) if state in ("visited", "closed") else None,
        )


def _weighted(r: str, choices) -> str:
    """CASE over one uniform draw `r` in [0, 1) picking a state with the given weights (as rng.choices does)."""
    total, acc, arms = sum(w for _, w in choices), 0, []
    for state, w in choices[:-1]:
        acc += w
        arms.append(f"WHEN {r} < {acc / total!r} THEN '{state}'")
    return f"CASE {' '.join(arms)} ELSE '{choices[-1][0]}' END"


def sql_orders(conn, now, props) -> None:
    """PostgreSQL: every property's repair orders in one INSERT ... SELECT over generate_series, with the
    distributions of python_orders: received evenly over three years, numbers "A-BX-YYYYMMDD-NNNN" counted per
    property per day, states weighted as STATES in the last 30 days (older: closed 93 / visited 5 / cancelled 2),
    the step timestamps that state implies, a random unit of the order's own property, a random mobile phone.
    Rows are inserted in received order across properties (ids interleave as at a real company, so one property's
    rows are spread over the whole table, not packed together)."""
    units = {pid: (lo, n, hi) for pid, lo, n, hi in conn.execute(
        text("select property_id, min(id), count(*), max(id) from unit group by property_id"))}
    depts = dict(conn.execute(text("select property_id, min(id) from department group by property_id")).all())
    conn.execute(text("create temp table bench_plan (pid int, code text, n int, unit_lo int, unit_n int, dept int)"
                      " on commit drop"))
    rows = []
    for pid, (code, _, count, _) in enumerate(props, start=1):
        lo, n, hi = units[pid]
        assert hi - lo + 1 == n, "units of a property must have consecutive ids"
        rows.append(dict(pid=pid, code=code, n=count, lo=lo, un=n, dept=depts[pid]))
    conn.execute(text("insert into bench_plan values (:pid, :code, :n, :lo, :un, :dept)"), rows)
    conn.execute(text("analyze bench_plan"))
    conn.execute(text("set local work_mem = '512MB'"))
    # generated ids come from the tables just read: skip the per-row FK triggers (checked in one pass below)
    conn.execute(text("set local session_replication_role = replica"))
    conn.execute(text("select setseed(0.7)"))
    recent = _weighted("r_state", STATES)
    old = _weighted("r_state", [("closed", 93), ("visited", 5), ("cancelled", 2)])
    contents = "ARRAY[" + ", ".join(f"'{c}'" for c in CONTENTS) + "]"
    start = now - timedelta(days=3 * 365)
    conn.execute(text(f"""
        INSERT INTO repair_order (property_id, number, unit_id, contact, phone, content, urgent, source, received_at,
            state, state_changed_at, created_at, created_by_id, version, department_id, dispatched_at, completed_at,
            visited_at)
        SELECT pid,
            code || '-BX-' || to_char(received, 'YYYYMMDD') || '-'
                || lpad(seq::text, greatest(4, length(seq::text)), '0'),
            unit_id, '业主', phone, content, urgent, 'phone', received, state, received, received, 1, 1,
            CASE WHEN state <> 'registered' THEN dept END,
            CASE WHEN state NOT IN ('registered', 'cancelled') THEN received + interval '2 minutes' END,
            CASE WHEN state IN ('completed', 'visited', 'closed') THEN received + interval '3 hours' END,
            CASE WHEN state IN ('visited', 'closed') THEN received + interval '5 hours' END
        FROM (
            SELECT d.*, row_number() OVER (PARTITION BY pid, received::date ORDER BY i) AS seq,
                CASE WHEN received > :recent THEN {recent} ELSE {old} END AS state
            FROM (
                SELECT p.pid, p.code, p.dept, g.i, :start + make_interval(secs => :span * g.i / p.n) AS received,
                    random() AS r_state, p.unit_lo + floor(random() * p.unit_n)::int AS unit_id,
                    '1' || (3 + floor(random() * 7))::int || lpad(floor(random() * 1e9)::bigint::text, 9, '0') AS phone,
                    ({contents})[1 + floor(random() * {len(CONTENTS)})::int] AS content,
                    random() < 0.05 AS urgent
                FROM bench_plan p CROSS JOIN LATERAL generate_series(0, p.n - 1) AS g(i)
            ) d
        ) o
        ORDER BY received, pid
    """), dict(start=start, span=(now - start).total_seconds(), recent=now - timedelta(days=30)))
    broken = conn.execute(text("""
        select count(*) from repair_order o
        where not exists (select 1 from unit u where u.id = o.unit_id and u.property_id = o.property_id)
           or (o.department_id is not null
               and not exists (select 1 from department d where d.id = o.department_id
                               and d.property_id = o.property_id))""")).scalar()
    assert broken == 0, f"{broken} generated repair orders point outside their property"


def fill(app):
    from kernel.db import db
    from kernel.identity import hash_password
    from models import Membership, Property, Role, StaffUser
    from models.desk import RepairOrder
    from models.master import Department, Resident, Unit
    from models.permits import GoodsPass
    from seeds.base import load_base
    props = plan()
    with app.app_context():
        engine = db.engine
        pg = engine.dialect.name == "postgresql"
        try:
            # orders bench.load registered (contact LOAD_CONTACT) do not make the generated data stale
            have = db.session.scalar(select(func.count()).select_from(RepairOrder).where(
                RepairOrder.property_id == 1, RepairOrder.contact != LOAD_CONTACT))
            version = db.session.scalar(select(Property.address).where(Property.code == "A"))
        except Exception:  # an empty or foreign database: fill it
            db.session.rollback()
            have, version = None, None
        stamp = data_stamp(engine.dialect.name)
        if have == props[0][2] and version == stamp:
            print(f"reusing the filled database ({ROWS:,} rows)", file=sys.stderr)
            sync_counters(db.session)  # a database filled before the counters were synced
            return
        db.session.rollback()  # the check's read locks would hold drop_all (another connection) forever on PostgreSQL
        t0 = time.perf_counter()
        db.drop_all()
        db.create_all()
        load_base()
        roles = {r.code: r for r in db.session.scalars(select(Role))}
        properties = [Property(code=code, name=name, address=stamp if i == 0 else None)
                      for i, (code, name, _, _) in enumerate(props)]
        db.session.add_all(properties)
        db.session.flush()
        assert [p.id for p in properties] == list(range(1, len(props) + 1))
        pw = hash_password("bench1234")
        for name, code, prop in (("clerk", "clerk", properties[0]), ("manager", "manager", properties[0]),
                                 ("clerk_b", "clerk", properties[1])):
            u = StaffUser(username=name, full_name=name, password_hash=pw)
            db.session.add(u)
            db.session.flush()
            db.session.add(Membership(user_id=u.id, property_id=prop.id, role_id=roles[code].id))
        for prop in properties:
            db.session.add(Department(property_id=prop.id, name="工程部", kind="engineering"))
        db.session.commit()
        rng = random.Random(7)
        conn = db.session.connection()
        units = []
        for pid, (_, _, _, unit_count) in enumerate(props, start=1):
            for i in range(unit_count):
                b, e, room = i // 500 + 1, (i // 250) % 2 + 1, f"{(i % 250) // 10 + 1}{i % 10 + 1:02d}"
                units.append(dict(property_id=pid, code=f"{b}-{e}-{room}", building=str(b), entrance=str(e), room=room,
                                  status="occupied", created_at=datetime(2024, 1, 1), version=1))
        conn.execute(insert(Unit.__table__), units)
        pids = range(1, len(props) + 1)
        unit_ids = {pid: conn.execute(select(Unit.id).where(Unit.property_id == pid).order_by(Unit.id))
                    .scalars().all() for pid in pids}
        residents = [dict(property_id=pid, unit_id=uid, kind="owner", name=f"业主{uid}",
                          phone=f"13{rng.randint(100000000, 999999999)}", created_at=datetime(2024, 1, 1), version=1,
                          owner_authorisation=False)
                     for pid in pids for uid in unit_ids[pid]]
        conn.execute(insert(Resident.__table__), residents)
        db.session.commit()
        now = datetime.now().replace(microsecond=0)
        conn = db.session.connection()
        if pg:
            # indexes are built once after the load (far cheaper than maintaining nine of them row by row)
            indexes = list(RepairOrder.__table__.indexes)
            for index in indexes:
                index.drop(conn)
            sql_orders(conn, now, props)
            db.session.commit()
            print(f"generated {sum(p[2] for p in props):,} repair orders in {len(props)} properties "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
            conn = db.session.connection()
            conn.execute(text("set local maintenance_work_mem = '1GB'"))
            for index in indexes:
                index.create(conn)
            db.session.commit()
            print(f"indexes built ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        else:
            for pid, row in enumerate(props, start=1):
                batch = []
                for order in python_orders(rng, now, row, pid, unit_ids[pid]):
                    batch.append(order)
                    if len(batch) == 20_000:
                        conn.execute(insert(RepairOrder.__table__), batch)
                        batch = []
                if batch:
                    conn.execute(insert(RepairOrder.__table__), batch)
                db.session.commit()
                conn = db.session.connection()
                print(f"filled {row[2]:,} repair orders for property {pid} ({time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr)
        conn = db.session.connection()
        conn.execute(insert(GoodsPass.__table__), [dict(
            property_id=1, number=f"A-FX-BENCH-{i:04d}", unit_id=rng.choice(unit_ids[1]), carrier_name="搬家",
            carrier_id_number="11010519491231002X", items="家具", owner_signed=True, owner_consent=False,
            state="signed", state_changed_at=now, created_at=now, created_by_id=1, version=1, valid_on=now.date())
            for i in range(PASSES)])
        db.session.commit()
        sync_counters(db.session)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE" if pg else "ANALYZE"))
        print(f"fill done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def sync_counters(session) -> None:
    """Number counters continue after the generated numbers, as after a data migration: without this an order
    registered today (bench.load's creates) draws "A-BX-<today>-0001", which the generated data already holds,
    and the save fails as a duplicate. Only recent days matter: the app numbers by today's date."""
    from sqlalchemy.dialects import postgresql, sqlite

    from kernel.numbering import NumberSequence
    table = NumberSequence.__table__
    last: dict[tuple[int, str, str], int] = {}
    rows = session.execute(text("select property_id, number from repair_order where received_at >= :since"),
                           {"since": datetime.now() - timedelta(days=3)})
    for pid, number in rows:
        _, prefix, day, seq = number.split("-")
        key = (pid, prefix, day)
        last[key] = max(last.get(key, 0), int(seq))
    upsert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for (pid, prefix, day), n in last.items():
        stmt = upsert(table).values(property_id=pid, prefix=prefix, day=datetime.strptime(day, "%Y%m%d").date(),
                                    last=n)
        session.execute(stmt.on_conflict_do_update(  # never lower a counter the app already moved on
            index_elements=[table.c.property_id, table.c.prefix, table.c.day], set_=dict(last=stmt.excluded.last),
            where=table.c.last < stmt.excluded.last))
    session.commit()


class SqlTimer:
    def __init__(self, engine):
        self.total = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, params, context, many):
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, params, context, many):
        self.total += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())


def ensure_supervisor(app) -> None:
    """A supervisor at property A (bench-load's four supervisors sign in as this user): added when missing, so a
    database filled before the supervisor's home was measured stays reusable."""
    from kernel.db import db
    from kernel.identity import hash_password
    from models import Membership, Role, StaffUser
    with app.app_context():
        s = db.session
        if s.scalar(text("select count(*) from staff_user where username = 'supervisor'")) == 0:
            u = StaffUser(username="supervisor", full_name="supervisor", password_hash=hash_password("bench1234"))
            s.add(u)
            s.flush()
            role = s.query(Role).filter_by(code="supervisor").one()
            s.add(Membership(user_id=u.id, property_id=1, role_id=role.id))
            s.commit()


def login(app, username, password="bench1234"):
    c = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 302, f"login {username}: {r.status_code}"
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    return c, token


def measure(client, url, timer, repeat=REPEAT):
    for _ in range(2):
        r = client.get(url)
        assert r.status_code == 200, f"{url}: {r.status_code}"
    wall, sql, rest, cpu = [], [], [], []
    for _ in range(repeat):
        timer.total = 0.0
        t, c = time.perf_counter(), time.process_time()
        r = client.get(url)
        r.get_data()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        sql.append(timer.total * 1000)
        rest.append(wall[-1] - sql[-1])
    q = statistics.quantiles(wall, n=20)
    # min: the request with the least waiting for a core, the figure to compare runs by on a shared machine
    return dict(p50=statistics.median(wall), p95=q[-1], min=min(wall), sql=statistics.median(sql),
                rest=statistics.median(rest), cpu=statistics.median(cpu))


# issue 14's targets, p50 ms at 1M rows: (SQLite, PostgreSQL)
TARGETS = {"page1": (8, 10), "status_filter": (8, 10), "deep_page": (8, 10), "home_clerk": (30, 30),
           "home_manager": (30, 30), "home_supervisor": (30, 30)}
XLSX_TARGET_S = 30


def main():
    if URL.startswith("postgresql") and "bench" not in URL.rsplit("/", 1)[-1]:
        sys.exit("refusing to refill a database whose name lacks 'bench': set DATABASE_URL=.../frontdesk_bench")
    (ROOT / "bench").mkdir(exist_ok=True)
    app = build_app()
    fill(app)
    from kernel.db import db
    from models.desk import RepairOrder
    from models.permits import GoodsPass
    with app.app_context():
        timer = SqlTimer(db.engine)
        mid = db.session.scalar(select(RepairOrder).where(RepairOrder.property_id == 1)
                                .order_by(RepairOrder.id).offset(plan()[0][2] // 2).limit(1))
        open_order = db.session.scalar(select(RepairOrder.id).where(RepairOrder.property_id == 1,
                                                                    RepairOrder.state == "registered").limit(1))
        number, phone = mid.number, mid.phone
        unit_code = db.session.scalar(text("select code from unit where id = :i"), {"i": mid.unit_id})
        view = next(v for v in app.extensions["frontdesk_admin"]._views if getattr(v, "register", "") == "repair_order")
    from flask_admin.contrib.sqla.filters import FilterEqual
    with app.test_request_context():
        state_arg = view.filter_arg("state", FilterEqual)
    ensure_supervisor(app)
    clerk, _ = login(app, "clerk")
    clerk_b, _ = login(app, "clerk_b")
    manager_home, _ = login(app, "manager")
    supervisor_home, _ = login(app, "supervisor")
    base = "/admin/repair_order/"
    pages = {
        "page1": base, "status_filter": f"{base}?{state_arg}=dispatched", "overdue_filter": f"{base}?overdue=1",
        "search_number": f"{base}?search={number}", "search_phone": f"{base}?search={phone}",
        "search_unit": f"{base}?search={unit_code}", "deep_page": f"{base}?page=500",
        "details": f"{base}details/?id={mid.id}", "edit_form": f"{base}edit/?id={open_order}",
    }
    results = {}
    # no app context held around the requests: each request gets its own, as under gunicorn (a held one would
    # keep `g` (the user, memberships, roles) from one request to the next and flatter the figures)
    for name, url in pages.items():
        results[name] = measure(clerk, url, timer)
    results["page1_10k"] = measure(clerk_b, base, timer)
    results["home_clerk"] = measure(clerk, "/admin/", timer)
    results["home_manager"] = measure(manager_home, "/admin/", timer)
    results["home_supervisor"] = measure(supervisor_home, "/admin/", timer)  # 回访 orders waiting to be closed
    # bulk approval of 1,000 goods passes by the manager (reset first, so reruns measure the same work)
    with app.app_context():
        db.session.execute(text("update goods_pass set state='signed', version=1 where number like 'A-FX-BENCH-%'"))
        db.session.execute(text("delete from sign_off where register='goods_pass'"))
        db.session.execute(text("delete from audit_log where register='goods_pass'"))
        db.session.commit()
        ids = db.session.scalars(select(GoodsPass.id).where(GoodsPass.number.like("A-FX-BENCH-%"))).all()
    manager, token = login(app, "manager")
    t = time.perf_counter()
    r = manager.post("/admin/goods_pass/action/", data={"action": "stamp", "rowid": ids, "csrf_token": token})
    bulk_s = time.perf_counter() - t
    with app.app_context():
        issued = db.session.scalar(select(func.count()).select_from(GoodsPass).where(GoodsPass.state == "issued"))
        audited = db.session.scalar(text("select count(*) from audit_log where action='transition:stamp'"))
    assert r.status_code == 302 and issued == PASSES and audited == PASSES, (r.status_code, issued, audited)
    exports = {k: dict(seconds=float("nan"), rss_growth_mib=float("nan"), mib=float("nan")) for k in ("csv", "xlsx")}
    for kind in (("csv", "xlsx") if os.environ.get("BENCH_EXPORTS", "1") == "1" else ()):
        reset_peak()
        before = rss_peak_kib()
        t = time.perf_counter()
        r = clerk.get(f"{base}export/{kind}/", buffered=False)
        size = sum(len(chunk) for chunk in r.response)
        exports[kind] = dict(seconds=time.perf_counter() - t, rss_growth_mib=(rss_peak_kib() - before) / 1024,
                             mib=size / 2**20)
        r.close()
    dialect = URL.split(":", 1)[0].split("+")[0]
    print(
        f"\nFrontDesk bench · {dialect} · {layout()}"
        f" · {REPEAT} requests each"
    )
    pg = dialect == "postgresql"
    print(f"{'page':<16}{'p50 ms':>9}{'p95 ms':>9}{'min ms':>9}{'SQL ms':>9}{'rest ms':>9}{'CPU ms':>9}{'target':>9}")
    for name, m in results.items():
        target = TARGETS.get(name, (None, None))[pg]
        mark = "" if target is None else f"{'≤' if m['p50'] <= target else '>'}{target}"
        print(f"{name:<16}{m['p50']:>9.1f}{m['p95']:>9.1f}{m['min']:>9.1f}{m['sql']:>9.1f}{m['rest']:>9.1f}"
              f"{m['cpu']:>9.1f}{mark:>9}")
    print(f"bulk approval of {PASSES:,} goods passes: {bulk_s:.2f} s ({audited} audit rows)")
    for kind, e in exports.items():
        target = f" (target ≤ {XLSX_TARGET_S} s)" if kind == "xlsx" else ""
        print(f"export {kind}: {e['seconds']:.1f} s, {e['mib']:.0f} MiB, peak RSS growth {e['rss_growth_mib']:.1f} MiB"
              f"{target}")
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    summary = dict(
        database=dialect,
        rows=ROWS,
        properties=len(plan()),
        rows_property_a=plan()[0][2],
        page1_p50_ms=round(results["page1"]["p50"], 2),
        page1_p50_ms_10k=round(results["page1_10k"]["p50"], 2),
        status_filter_p50_ms=round(results["status_filter"]["p50"], 2),
        overdue_filter_p50_ms=round(results["overdue_filter"]["p50"], 2),
        search_phone_p50_ms=round(results["search_phone"]["p50"], 2),
        search_unit_p50_ms=round(results["search_unit"]["p50"], 2),
        search_number_p50_ms=round(results["search_number"]["p50"], 2),
        deep_page_p50_ms=round(results["deep_page"]["p50"], 2),
        details_p50_ms=round(results["details"]["p50"], 2),
        edit_form_p50_ms=round(results["edit_form"]["p50"], 2),
        export_csv_s=round(exports["csv"]["seconds"], 1),
        export_csv_rss_growth_mib=round(exports["csv"]["rss_growth_mib"], 1),
        export_xlsx_s=round(exports["xlsx"]["seconds"], 1),
        export_xlsx_rss_growth_mib=round(exports["xlsx"]["rss_growth_mib"], 1),
        bulk_approve_1000_s=round(bulk_s, 3),
        home_clerk_p50_ms=round(results["home_clerk"]["p50"], 2),
        home_manager_p50_ms=round(results["home_manager"]["p50"], 2),
        home_supervisor_p50_ms=round(results["home_supervisor"]["p50"], 2),
        pages={name: {k: round(v, 2) for k, v in m.items()} for name, m in results.items()},
        load_average=os.getloadavg()[0],
    )
    print(json.dumps({k: (None if isinstance(v, float) and v != v else v) for k, v in summary.items()}))


if __name__ == "__main__":
    main()
