"""make bench-load: a busy desk on gunicorn (2 workers) and PostgreSQL, 16 concurrent clients for 60 s.

Needs the database `make bench` filled (DATABASE_URL=postgresql+psycopg://.../<name with "bench">). Starts
gunicorn on a free port of 127.0.0.1, logs in 12 clerks and 4 supervisors, and runs a bounded mixed workload:
clerks open the list, filter by state, search by phone and by number, page, open details, register repair
orders and dispatch them; supervisors open the home page, the lists, the overdue switch and details. Each client
sends its next request when the last one is answered (closed loop). Prints requests/s, p50, p95, errors (any
answer other than the expected one, or no answer), the CPU time per request of the gunicorn workers, of
PostgreSQL's backends and of this client (where the time goes, and how much of the machine the run got), and the
same as one JSON line. Orders it registers have the contact LOAD_CONTACT, which bench.run's reuse check ignores.

    BENCH_LOAD_CLIENTS=16 BENCH_LOAD_SECONDS=60 BENCH_LOAD_WORKERS=2
    GUNICORN_WORKER_CLASS=gthread GUNICORN_THREADS=4 (deploy/gunicorn.conf.py reads them) to compare worker types
"""
from __future__ import annotations

import http.client
import json
import os
import random
import re
import runpy
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.run import LOAD_CONTACT  # noqa: E402

URL = os.environ.get("DATABASE_URL", "")
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "16"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "2"))
SUPERVISORS = max(1, CLIENTS // 4)
# the worker settings gunicorn will use: deploy/gunicorn.conf.py under this environment (GUNICORN_WORKER_CLASS ...)
GUNICORN = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
WORKER_CLASS = f"{GUNICORN['worker_class']}" + (f" ×{GUNICORN['threads']} threads" if GUNICORN.get("threads", 1) > 1
                                                  else "")
PASSWORD = "bench1234"
TARGET = dict(rps=100, p95_ms=250)


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (0 when it is gone), from /proc."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def backends(engine) -> list[int]:
    """The PostgreSQL server processes serving this database (the app's pools)."""
    with engine.connect() as c:
        return list(c.scalars(text("select pid from pg_stat_activity where datname = current_database() "
                                   "and pid <> pg_backend_pid()")))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare() -> dict:
    """The bench's users (a supervisor is added if missing) and the ids the workload needs."""
    from app.config import Config
    from app.factory import create_app
    from bench.run import ensure_supervisor, sync_counters
    from kernel.db import db
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=URL, PASSWORD_HASH_METHOD="pbkdf2:sha256:1")
    ensure_supervisor(app)
    with app.app_context():
        s = db.session
        sync_counters(s)  # today's numbers continue after the generated ones (else every create is a duplicate)
        sample = s.execute(text("select id, number, phone, unit_id from repair_order where property_id = 1 "
                                "order by id desc limit 2000")).all()
        units = [r[0] for r in s.execute(text("select id from unit where property_id = 1 limit 500"))]
        department = s.scalar(text("select id from department where property_id = 1 limit 1"))
        view = next(v for v in app.extensions["frontdesk_admin"]._views if getattr(v, "register", "") == "repair_order")
        from flask_admin.contrib.sqla.filters import FilterEqual
        with app.test_request_context():
            state_arg = view.filter_arg("state", FilterEqual)
    return dict(sample=[tuple(r) for r in sample], units=units, department=department, state_arg=state_arg)


class Client:
    """One person at a desk: a keep-alive connection, the session cookie, the CSRF token of the page."""

    def __init__(self, port: int, username: str):
        self.port, self.username = port, username
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.token = ""

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str, dict]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                text_ = r.read().decode("utf-8", "replace")
                break
            except (http.client.HTTPException, OSError):  # the sync worker closed the kept-alive connection
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        for value in r.headers.get_all("Set-Cookie") or ():
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        m = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text_)
        if m:
            self.token = m.group(1)
        return r.status, text_, dict(r.headers)

    def login(self) -> None:
        self.request("GET", "/login")
        status, _, _ = self.request("POST", "/login", {"username": self.username, "password": PASSWORD,
                                                        "csrf_token": self.token})
        assert status == 302, f"login {self.username}: {status}"
        self.request("GET", "/login")  # a page with the session's CSRF token


def workload(client: Client, data: dict, rng: random.Random, clerk: bool) -> tuple[str, str, str, dict | None, tuple]:
    """The next request: (name, method, path, form, accepted statuses)."""
    base = "/admin/repair_order/"
    rid, number, phone, _ = rng.choice(data["sample"])
    roll = rng.random()
    if clerk:
        if roll < 0.22:
            return "list", "GET", base, None, (200,)
        if roll < 0.34:
            return "status_filter", "GET", f"{base}?{data['state_arg']}=dispatched", None, (200,)
        if roll < 0.46:
            return "search_phone", "GET", f"{base}?search={phone}", None, (200,)
        if roll < 0.54:
            return "search_number", "GET", f"{base}?search={number}", None, (200,)
        if roll < 0.60:
            return "page", "GET", f"{base}?page={rng.randint(1, 40)}", None, (200,)
        if roll < 0.80:
            return "details", "GET", f"{base}details/?id={rid}", None, (200,)
        if roll < 0.92:
            form = {"unit": rng.choice(data["units"]), "contact": LOAD_CONTACT, "source": "phone", "content": "灯不亮",
                    "phone": f"139{rng.randint(0, 99999999):08d}", "csrf_token": client.token}
            return "create", "POST", f"{base}new/", form, (302,)
        return "dispatch", "POST", "", None, (302,)  # filled in by run(): the order this client registered
    if roll < 0.25:
        return "home", "GET", "/admin/", None, (200,)
    if roll < 0.50:
        return "list", "GET", base, None, (200,)
    if roll < 0.65:
        return "overdue", "GET", f"{base}?overdue=1", None, (200,)
    if roll < 0.80:
        return "status_filter", "GET", f"{base}?{data['state_arg']}=registered", None, (200,)
    return "details", "GET", f"{base}details/?id={rid}", None, (200,)


def run_client(port: int, username: str, clerk: bool, data: dict, stop: float, seed: int, out: list,
               errors: list) -> None:
    rng = random.Random(seed)
    client = Client(port, username)
    try:
        client.login()
    except Exception as ex:  # noqa: BLE001 - a failed login is an error of the run, reported, not a crash
        errors.append(("login", repr(ex)))
        return
    mine: list[str] = []  # numbers of the orders this client registered and has not dispatched yet
    while time.perf_counter() < stop:
        name, method, path, form, ok = workload(client, data, rng, clerk)
        if name == "dispatch":
            if not mine:
                continue
            phone = mine.pop()
            t = time.perf_counter()
            status, page, _ = client.request("GET", f"/admin/repair_order/?search={phone}")
            out.append(("search_phone", (time.perf_counter() - t) * 1000))
            m = re.search(r"/admin/repair_order/details/\?id=(\d+)", page)
            if status != 200 or not m:
                errors.append(("dispatch lookup", status))
                continue
            path, form = "/admin/repair_order/transition/dispatch/", {
                "id": m.group(1), "row_version": "1", "department": data["department"], "csrf_token": client.token}
        t = time.perf_counter()
        try:
            status, _, headers = client.request(method, path, form)
        except Exception as ex:  # noqa: BLE001
            errors.append((name, repr(ex)))
            continue
        out.append((name, (time.perf_counter() - t) * 1000))
        if status not in ok:
            errors.append((name, status))
        elif name == "create":
            mine.append(form["phone"])


def main() -> None:
    if not URL.startswith("postgresql") or "bench" not in URL.rsplit("/", 1)[-1]:
        sys.exit("bench-load runs on the PostgreSQL database `make bench` filled: "
                 "DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/<name with bench>")
    engine = create_engine(URL)
    with engine.connect() as c:
        rows = c.scalar(text("select count(*) from repair_order where property_id = 1"))
    data = prepare()
    port = free_port()
    log = open(ROOT / "bench" / "load-gunicorn.log", "w")
    env = {**os.environ, "DATABASE_URL": URL, "WEB_CONCURRENCY": str(WORKERS), "FRONTDESK_BIND": f"127.0.0.1:{port}",
           "GUNICORN_LOGLEVEL": "warning"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py", "wsgi:app"],
                              cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("gunicorn did not start: see bench/load-gunicorn.log")
        warm = Client(port, "clerk")
        warm.login()
        for _ in range(2 * WORKERS):  # each worker's first requests load templates: not part of the measurement
            warm.request("GET", "/admin/repair_order/")
            warm.request("GET", "/admin/")
        out: list = []
        errors: list = []
        # where the CPU goes during the run: the gunicorn workers, PostgreSQL's backends, this client process
        # (a worker recycled by max_requests, or a backend that ended, is counted from its replacement's start)
        cpu0 = {("app", p): cpu_seconds(p) for p in children(server.pid)}
        cpu0.update({("db", p): cpu_seconds(p) for p in backends(engine)})
        client0 = time.process_time()
        start = time.perf_counter()
        stop = start + SECONDS
        threads = [threading.Thread(target=run_client, args=(
            port, "supervisor" if i < SUPERVISORS else "clerk", i >= SUPERVISORS, data, stop, i, out, errors))
            for i in range(CLIENTS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - start
        client_cpu = time.process_time() - client0
        cpu = {"app": 0.0, "db": 0.0}
        for kind, pids in (("app", children(server.pid)), ("db", backends(engine))):
            for p in pids:
                cpu[kind] += cpu_seconds(p) - cpu0.get((kind, p), 0.0)
        workers_now = children(server.pid)
        recycled = len(set(workers_now) - {p for k, p in cpu0 if k == "app"})
    finally:
        engine.dispose()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    times = sorted(ms for _, ms in out)
    p50 = statistics.median(times) if times else float("nan")
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else float("nan")
    rps = len(times) / elapsed
    by_kind: dict[str, list] = {}
    for name, ms in out:
        by_kind.setdefault(name, []).append(ms)
    print(f"\nFrontDesk bench-load · gunicorn {WORKERS} {WORKER_CLASS} workers · PostgreSQL · {rows:,} repair orders · "
          f"{CLIENTS} clients ({CLIENTS - SUPERVISORS} clerks, {SUPERVISORS} supervisors) · {SECONDS:.0f} s")
    print(f"{'request':<16}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}")
    for name, ms in sorted(by_kind.items()):
        q = statistics.quantiles(ms, n=20)[-1] if len(ms) > 1 else ms[0]
        print(f"{name:<16}{len(ms):>7}{statistics.median(ms):>9.1f}{q:>9.1f}")
    print(f"requests/s {rps:.1f} (target ≥ {TARGET['rps']}), p50 {p50:.1f} ms, p95 {p95:.1f} ms "
          f"(target ≤ {TARGET['p95_ms']}), errors {len(errors)}")
    if errors:
        print("first errors:", errors[:5])
    n = max(len(times), 1)
    print(f"CPU per request: gunicorn workers {cpu['app'] / n * 1000:.1f} ms, PostgreSQL {cpu['db'] / n * 1000:.1f} ms,"
          f" this client {client_cpu / n * 1000:.1f} ms; workers recycled during the run: {recycled}")
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(json.dumps(dict(clients=CLIENTS, seconds=SECONDS, workers=WORKERS, worker_class=WORKER_CLASS, rows=rows,
                          requests=len(times), rps=round(rps, 1), p50_ms=round(p50, 1), p95_ms=round(p95, 1),
                          errors=len(errors), cpu_ms_per_request=dict(
                              app=round(cpu["app"] / n * 1000, 1), db=round(cpu["db"] / n * 1000, 1),
                              client=round(client_cpu / n * 1000, 1)), workers_recycled=recycled,
                          load_average=os.getloadavg()[0])))


if __name__ == "__main__":
    main()
