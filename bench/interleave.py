"""Two checkouts measured side by side (README "Performance": before/after on a host whose speed moves).

    .venv/bin/python -m bench.interleave ../base                      # SQLite: each checkout's bench/bench.db
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/frontdesk_bench \\
    BASE_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/frontdesk_bench_base \\
        .venv/bin/python -m bench.interleave ../base

`../base` is another checkout (`git worktree add ../base <commit>`, its own `.venv` or a link to this one) whose
database `make bench` filled. One long-running process per checkout serves the bench's pages with its own code (a
new app context per request, as under gunicorn); they take turns every 10 requests, page by page, so a slow minute
of the host falls on both. Prints p50 and the first quartile of each page, before -> after.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
TURN = 10  # requests per turn

# Run inside each checkout (`python -c`), so the older one needs nothing of this file: its own bench.run is used.
SERVE = r'''
import json, os, sys, time
sys.path.insert(0, os.getcwd())
from sqlalchemy import select
from bench.run import build_app, ensure_supervisor, login
app = build_app()
from flask_admin.contrib.sqla.filters import FilterEqual
from kernel.db import db
from models.desk import RepairOrder
view = next(v for v in app.extensions["frontdesk_admin"]._views if getattr(v, "register", "") == "repair_order")
with app.test_request_context():
    state = view.filter_arg("state", FilterEqual)
with app.app_context():
    mid = db.session.scalar(select(RepairOrder.id).where(RepairOrder.property_id == 1).order_by(RepairOrder.id)
                            .offset(500000).limit(1))
ensure_supervisor(app)
clients = {who: login(app, who)[0] for who in ("clerk", "clerk_b", "manager", "supervisor")}
base = "/admin/repair_order/"
pages = {"page1": (base, "clerk"), "status_filter": (f"{base}?{state}=dispatched", "clerk"),
         "deep_page": (f"{base}?page=500", "clerk"), "details": (f"{base}details/?id={mid}", "clerk"),
         "page1_10k": (base, "clerk_b"), "home_clerk": ("/admin/", "clerk"), "home_manager": ("/admin/", "manager"),
         "home_supervisor": ("/admin/", "supervisor")}
print(json.dumps(list(pages)), flush=True)
for line in sys.stdin:
    name, n = line.split()
    url, who = pages[name]
    out = []
    for _ in range(int(n)):
        t = time.perf_counter()
        r = clients[who].get(url)
        r.get_data()
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    print(json.dumps(out), flush=True)
'''


def start(checkout: Path, database_url: str | None) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "LOG_REQUESTS": "0", "BENCH_EXPORTS": "0"}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    proc = subprocess.Popen([str(checkout / ".venv" / "bin" / "python"), "-c", SERVE], cwd=checkout, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    here, there = Path.cwd(), Path(sys.argv[1]).resolve()
    url = os.environ.get("DATABASE_URL")
    sides = {"before": start(there, os.environ.get("BASE_DATABASE_URL") if url else None), "after": start(here, url)}
    pages = sides["after"][1]
    times: dict[tuple[str, str], list[float]] = {(side, page): [] for side in sides for page in pages}

    def ask(side: str, page: str, n: int) -> list[float]:
        proc = sides[side][0]
        proc.stdin.write(f"{page} {n}\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())
    for side in sides:  # warm both
        for page in pages:
            ask(side, page, 5)
    for turn in range(ROUNDS):
        for page in pages:
            for side in (("before", "after") if turn % 2 == 0 else ("after", "before")):
                times[(side, page)] += ask(side, page, TURN)
    db = "postgresql" if url and url.startswith("postgresql") else "sqlite"
    print(f"{db}: p50 / first quartile ms of {ROUNDS * TURN} requests each, {there.name} -> {here.name}, "
          f"alternating every {TURN}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for page in pages:
        b, a = times[("before", page)], times[("after", page)]
        q1 = [statistics.quantiles(x, n=4)[0] for x in (b, a)]
        print(f"{page:<16}{statistics.median(b):7.2f} / {q1[0]:5.2f} -> {statistics.median(a):7.2f} / {q1[1]:5.2f}"
              f"   ({(statistics.median(a) / statistics.median(b) - 1) * 100:+.0f} %)")
    for proc, _ in sides.values():
        proc.stdin.close()
        proc.wait()


if __name__ == "__main__":
    main()
