"""BENCH_IMPORT=1 make bench, or `make bench-import`: 50,000 residents imported through the screens (issue 18).

An .xlsx of BENCH_IMPORT_ROWS residents (default 50,000; 10 per unit, the first of each unit its owner, the rest
tenants) is uploaded as the CS admin: the preview (read, normalise, diff, validate, render) and the confirm
(re-read, re-validate, write and audit every row in one transaction) are timed, with the process's peak RSS growth
over each (VmHWM, reset before each step) and, with BENCH_TRACEMALLOC=1, the Python heap's peak (slower).
Then the same file is previewed again: every row unchanged. Targets: preview < 30 s, confirm < 60 s, memory < 200 MiB.

Its own database: SQLite at bench/bench_imports.db, or BENCH_IMPORT_URL (PostgreSQL; the database name must
contain "bench": it is dropped and refilled).
"""
from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openpyxl  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from app.config import Config  # noqa: E402
from app.factory import create_app  # noqa: E402
from bench.run import reset_peak, rss_peak_kib  # noqa: E402
from kernel.db import db  # noqa: E402
from kernel.identity import Membership, Property, Role, StaffUser, hash_password  # noqa: E402
from kernel.validators import check_character  # noqa: E402
from models.master import Resident, Unit  # noqa: E402
from seeds.base import load_base  # noqa: E402

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "50000"))
PER_UNIT = 10
URL = os.environ.get("BENCH_IMPORT_URL") or f"sqlite:///{ROOT / 'bench' / 'bench_imports.db'}"
TRACE = os.environ.get("BENCH_TRACEMALLOC") == "1"
BORN = date(1950, 1, 1)


def rss_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fill(app) -> None:
    with app.app_context():
        db.drop_all()
        db.create_all()
        load_base()
        prop = Property(code="A", name="基准项目")
        db.session.add(prop)
        db.session.flush()
        user = StaffUser(username="cs_admin", full_name="基准", password_hash=hash_password("bench1234"))
        db.session.add(user)
        db.session.flush()
        role = db.session.scalar(select(Role).where(Role.code == "cs_admin"))
        db.session.add(Membership(user_id=user.id, property_id=prop.id, role_id=role.id))
        units = ROWS // PER_UNIT + 1
        db.session.execute(insert(Unit.__table__), [dict(
            property_id=prop.id, code=unit_code(i), building=str(i // 400 + 1), entrance=str(i // 100 % 4 + 1),
            room=str(100 + i % 100), status="occupied", active=True, version=1) for i in range(units)])
        db.session.commit()


def unit_code(i: int) -> str:
    return f"{i // 400 + 1}-{i // 100 % 4 + 1}-{100 + i % 100}"


def workbook() -> bytes:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("业户档案")
    ws.append(["姓名", "类别", "房号", "电话", "身份证号", "入住日期", "业主委托书已备案", "备注"])
    for i in range(ROWS):
        body = f"440305{BORN + timedelta(days=i // 1000):%Y%m%d}{i % 1000:03d}"  # unique per row
        ws.append([f"业户{i}", "业主" if i % PER_UNIT == 0 else "租户", unit_code(i // PER_UNIT),
                   f"138{i:08d}", body + check_character(body), "2026-01-31", "是" if i % PER_UNIT else "否",
                   f"第{i}行"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def login(app):
    c = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    assert (
        c.post("/login", data={"username": "cs_admin", "password": "bench1234", "csrf_token": token}).status_code == 302
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    return c, token


def step(label: str, fn):
    reset_peak()
    base = rss_kib()
    if TRACE:
        tracemalloc.start()
    t = time.perf_counter()
    cpu = time.process_time()
    result = fn()
    out = dict(seconds=round(time.perf_counter() - t, 2), cpu_seconds=round(time.process_time() - cpu, 2),
               rss_growth_mib=round((rss_peak_kib() - base) / 1024, 1))
    if TRACE:
        out["tracemalloc_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 1024 / 1024, 1)
        tracemalloc.stop()
    print(f"  {label:<34} {out['seconds']:7.2f} s  cpu {out['cpu_seconds']:7.2f} s  "
          f"peak RSS +{out['rss_growth_mib']:6.1f} MiB" + (f"  heap peak {out['tracemalloc_peak_mib']} MiB"
                                                          if TRACE else ""), flush=True)
    return result, out


def main() -> None:
    if URL.startswith("postgresql") and "bench" not in URL.rsplit("/", 1)[-1]:
        sys.exit("refusing to refill a database whose name lacks 'bench'")
    store = tempfile.mkdtemp(prefix="bench-imports-")
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=URL, RATELIMIT_ENABLED=False, IMPORTS_DIR=store,
                     PASSWORD_HASH_METHOD="pbkdf2:sha256:1", LOG_REQUESTS=False, MAX_CONTENT_LENGTH=64 * 1024 * 1024)
    fill(app)
    t = time.perf_counter()
    data = workbook()
    print(f"{ROWS} residents, {len(data) / 1024 / 1024:.1f} MiB .xlsx written in {time.perf_counter() - t:.1f} s; "
          f"{URL.split('@')[-1]}")
    client, token = login(app)

    def upload():
        r = client.post("/admin/resident/import/", data={"file": (io.BytesIO(data), "业户档案.xlsx"),
                                                          "csrf_token": token})
        page = r.get_data(as_text=True)
        assert r.status_code == 200, r.status_code
        return page

    page, preview = step("preview (upload, read, diff, check)", upload)
    counts = dict(re.findall(r'data-status="(\w+)">[^<]*?(\d+)</span>', page))
    assert counts.get("new") == str(ROWS) and counts.get("error") == "0", (
        counts, re.findall(r'text-danger">([^<]+)', page)[:5])
    ticket = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)

    def do_confirm():
        r = client.post("/admin/resident/import/confirm/", data={"token": ticket, "csrf_token": token})
        assert r.status_code == 302, r.get_data(as_text=True)[-2000:]

    _, confirm = step("confirm (re-read, write, audit)", do_confirm)
    with app.app_context():
        written = db.session.scalar(select(func.count()).select_from(Resident))
    assert written == ROWS, written
    page, again = step("preview again (all unchanged)", upload)
    assert re.search(r'data-status="unchanged">[^<]*?(\d+)</span>', page).group(1) == str(ROWS)
    print(json.dumps(dict(bench="imports", rows=ROWS, url=URL.split("@")[-1], preview=preview, confirm=confirm,
                          preview_again=again, targets=dict(preview_s=30, confirm_s=60, memory_mib=200))))


if __name__ == "__main__":
    main()
