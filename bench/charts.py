"""Chart aggregations at size: BENCH_ROWS repair orders (default 1,000,000; the lead runs that), the same filled
database as `make bench` (bench/run.py fills or reuses it; DATABASE_URL selects PostgreSQL, its name containing
"bench"). Times each chart's SQL (app/admin/charts.py) for the large property, and the whole charts page
(SQL + pygal drawing) as the supervisor sees it. Prints a table and one JSON line. Target: under 200 ms each.

    BENCH_ROWS=20000 python -m bench.charts
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import REPEAT, ROWS, build_app, fill  # noqa: E402

TARGET_MS = 200


def timed(fn, repeat=REPEAT):
    fn()  # warm: the first call pays for caches and plans
    wall = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t) * 1000)
    return dict(p50=statistics.median(wall), max=max(wall))


def main():
    from app.admin import charts
    from kernel.db import db
    app = build_app()
    fill(app)
    results = {}
    with app.test_request_context():
        dialect = db.engine.dialect.name
        for name, fn in (("intake", charts.intake), ("overdue_rate", charts.overdue_rate),
                         ("repair_times", charts.repair_times), ("satisfaction", charts.satisfaction)):
            results[name] = timed(lambda fn=fn: fn([1]))
            db.session.rollback()
        results["draw_all"] = timed(lambda: charts.draw_all([(1, "大型项目")]))
        results["draw_all_2_properties"] = timed(lambda: charts.draw_all([(1, "大型项目"), (2, "小型项目")]))
    print(f"\nFrontDesk chart bench · {dialect} · {ROWS:,} repair orders · {REPEAT} runs each")
    print(f"{'chart':<24}{'p50 ms':>10}{'max ms':>10}{'target':>10}")
    for name, r in results.items():
        print(f"{name:<24}{r['p50']:>10.1f}{r['max']:>10.1f}{TARGET_MS:>10}")
    print(json.dumps(dict(database=dialect, rows=ROWS, **{f"{k}_p50_ms": round(v["p50"], 1)
                                                           for k, v in results.items()})))


if __name__ == "__main__":
    main()
