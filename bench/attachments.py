"""BENCH_ATTACHMENTS=1 make bench (or `python -m bench.attachments`): the worker-pass list, page 1, with no
attachments and with 100,000 of them (issue 15: within 1.2x). The list never reads the attachment table; this
measures that it stays so.

Its own database: SQLite at bench/bench_attachments.db, or BENCH_ATTACHMENTS_URL (PostgreSQL; the database name
must contain "bench": it is dropped and refilled). Prints a table and, last, one JSON line.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from app.config import Config  # noqa: E402
from app.factory import create_app  # noqa: E402
from kernel.attachments import Attachment  # noqa: E402
from kernel.db import db  # noqa: E402
from kernel.identity import Membership, Property, Role, StaffUser, hash_password  # noqa: E402
from models.master import Unit  # noqa: E402
from models.permits import RenovationPermit, WorkerPass  # noqa: E402
from seeds.base import load_base  # noqa: E402

URL = os.environ.get("BENCH_ATTACHMENTS_URL") or f"sqlite:///{ROOT / 'bench' / 'bench_attachments.db'}"
PASSES = int(os.environ.get("BENCH_ATTACHMENT_PASSES", "20000"))
FILES = int(os.environ.get("BENCH_ATTACHMENT_FILES", "100000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "20"))


def fill(app) -> None:
    with app.app_context():
        db.drop_all()
        db.create_all()
        load_base()
        prop = Property(code="A", name="基准项目")
        db.session.add(prop)
        db.session.flush()
        user = StaffUser(username="clerk", full_name="基准", password_hash=hash_password("bench1234"))
        db.session.add(user)
        db.session.flush()
        clerk = db.session.scalar(select(Role).where(Role.code == "clerk"))
        db.session.add(Membership(user_id=user.id, property_id=prop.id, role_id=clerk.id))
        unit = Unit(property_id=prop.id, code="1-1-101", building="1", entrance="1", room="101")
        db.session.add(unit)
        db.session.flush()
        permit = RenovationPermit(property_id=prop.id, unit_id=unit.id, lead_name="装修张", content="基准",
                                  start_on=date.today(), end_on=date.today() + timedelta(days=90), state="approved",
                                  number="A-ZX-BENCH-1")
        db.session.add(permit)
        db.session.flush()
        db.session.execute(insert(WorkerPass.__table__), [dict(
            property_id=prop.id, permit_id=permit.id, number=f"A-CZ-BENCH-{i:06d}", worker_name=f"工人{i}",
            photo_on_file=True, id_copy_on_file=True, signed_by_lead=True, state="issued", version=1,
            valid_until=permit.end_on) for i in range(PASSES)])
        db.session.commit()


def add_files(app) -> None:
    with app.app_context():
        ids = db.session.scalars(select(WorkerPass.id).order_by(WorkerPass.id)).all()
        batch = []
        for i in range(FILES):
            batch.append(dict(register="worker_pass", record_id=ids[i % len(ids)], property_id=1,
                              kind="id_copy" if i % 2 else "photo", name=f"scan-{i}.jpg", content_type="image/jpeg",
                              size=50_000, sha256=f"{i:064x}", storage_key=f"{i % 256:02x}/{i:032x}.jpg"))
            if len(batch) == 10_000:
                db.session.execute(insert(Attachment.__table__), batch)
                batch = []
        if batch:
            db.session.execute(insert(Attachment.__table__), batch)
        db.session.commit()


def login(app):
    c = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    r = c.post("/login", data={"username": "clerk", "password": "bench1234", "csrf_token": token})
    assert r.status_code == 302, r.status_code
    return c


def measure(client, url: str) -> dict:
    for _ in range(2):
        assert client.get(url).status_code == 200
    wall = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        client.get(url).get_data()
        wall.append((time.perf_counter() - t) * 1000)
    return dict(p50=statistics.median(wall), p95=statistics.quantiles(wall, n=20)[-1])


def main() -> None:
    if URL.startswith("postgresql") and "bench" not in URL.rsplit("/", 1)[-1]:
        sys.exit("refusing to refill a database whose name lacks 'bench'")
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=URL, RATELIMIT_ENABLED=False,
                     PASSWORD_HASH_METHOD="pbkdf2:sha256:1", LOG_REQUESTS=False)
    fill(app)
    client = login(app)
    none = measure(client, "/admin/worker_pass/")
    add_files(app)
    with app.app_context():
        files = db.session.scalar(select(func.count()).select_from(Attachment))
    with_files = measure(client, "/admin/worker_pass/")
    ratio = with_files["p50"] / none["p50"]
    print(f"worker_pass list page 1, {PASSES} passes   p50 ms   p95 ms")
    print(f"  no attachments                      {none['p50']:7.1f}  {none['p95']:7.1f}")
    print(f"  {files} attachments               {with_files['p50']:7.1f}  {with_files['p95']:7.1f}")
    print(f"  ratio (p50)                         {ratio:7.2f}  (target <= 1.20)")
    print(json.dumps(dict(bench="attachments", passes=PASSES, files=files, none=none, with_files=with_files,
                          ratio=round(ratio, 3), url=URL.split("@")[-1])))


if __name__ == "__main__":
    main()
