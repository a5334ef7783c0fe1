"""Issue #19: what an operator sees. A request id on every response, log line and error page; one JSON log line
per request without personal data; /readyz with pluggable checks; /metrics behind IT or a token."""
import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from flask import render_template_string
from flask_migrate import upgrade

from app.config import TestConfig
from app.factory import create_app
from app.observe import StripQuery
from kernel import probes
from kernel.clock import now
from kernel.db import db
from models.desk import PhoneLog, RepairOrder
from models.master import Resident
from tests.helpers import latest

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def all_logs():
    """Everything any logger writes during the block, as text (the request log does not propagate: own handler)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root, request_log = logging.getLogger(), logging.getLogger("frontdesk.request")
    level = root.level
    root.setLevel(logging.DEBUG)  # SQLAlchemy's statement log too: its parameters must stay hidden
    root.addHandler(handler)
    request_log.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        request_log.removeHandler(handler)
        root.setLevel(level)


def request_lines(text):
    return [json.loads(line.split(" INFO ", 1)[1]) for line in text.splitlines()
            if line.startswith("frontdesk.request INFO ")]


def test_every_response_carries_a_request_id_and_a_safe_incoming_one_is_kept(client_as):
    c = client_as()
    made = c.get("/healthz").headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert c.get("/healthz").headers["X-Request-Id"] != made
    assert c.get("/healthz", headers={"X-Request-Id": "nginx-5f2c1e9a"}).headers["X-Request-Id"] == "nginx-5f2c1e9a"
    for hostile in ("<script>alert(1)</script>", "short", "a" * 65, "abc def ghij", "id;rm -rf /"):
        rid = c.get("/healthz", headers={"X-Request-Id": hostile}).headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid), hostile


def test_one_json_line_per_request_with_who_where_and_sql(client_as, world):
    c = client_as("clerk")
    with all_logs() as logs:
        r = c.get("/admin/repair_order/")
    assert r.status_code == 200
    lines = request_lines(logs.getvalue())
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == r.headers["X-Request-Id"]
    assert line["user_id"] == world.users["clerk"] and line["property_id"] == world.a
    assert line["endpoint"] == "repair_order.index_view" and line["method"] == "GET"
    assert line["path"] == "/admin/repair_order/" and line["status"] == 200
    assert line["duration_ms"] >= 0 and line["sql_count"] > 0 and line["sql_ms"] >= 0
    assert set(line) >= {"time", "request_id", "user_id", "property_id", "endpoint", "method", "status",
                         "duration_ms", "sql_count", "sql_ms"}


def test_no_id_number_or_phone_reaches_the_logs(client_as, world, app):
    with app.app_context():
        owner = db.session.get(Resident, world.residents[("A", "owner")])
        id_number, phone = owner.id_number, owner.phone
    c = client_as("clerk")
    with all_logs() as logs:
        by_id = c.get(f"/admin/resident/?search={id_number}")
        by_phone = c.get(f"/admin/resident/?search={phone}&page=0")
        made = c.post("/admin/phone_log/new/", {"caller": "王先生", "phone": "13712345678",
                                                "content": f"业主身份证 {id_number} 来电"})
    assert by_id.status_code == 200 and by_phone.status_code == 200
    assert made.status_code == 302
    assert id_number in by_id.get_data(as_text=True)  # the search really found the record (shown to the desk)
    with app.app_context():
        assert latest(PhoneLog).phone == "13712345678"
    text = logs.getvalue()
    assert len(request_lines(text)) >= 3 and "/admin/resident/" in text
    for secret in (id_number, id_number[-6:], phone, "13712345678"):
        assert secret not in text, f"{secret} leaked into the log"


def test_the_development_server_access_line_loses_its_query_string():
    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, '%s "%s" %s %s',
                               ("127.0.0.1", "GET /admin/resident/?search=13800138000 HTTP/1.1", "200", "-"), None)
    StripQuery().filter(record)
    assert "13800138000" not in record.getMessage() and "GET /admin/resident/ HTTP/1.1" in record.getMessage()


def test_error_pages_show_the_request_id_and_templates_get_it(tmp_path):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'e.db'}", PROPAGATE_EXCEPTIONS=False)

    @app.route("/boom")
    def boom():
        raise RuntimeError("13800138000 broke it")

    @app.route("/rid")
    def rid():
        return render_template_string("id={{ request_id }}")

    c = app.test_client()
    missing = c.get("/no/such/page", headers={"X-Request-Id": "desk-complaint-42"})
    assert missing.status_code == 404 and "desk-complaint-42" in missing.get_data(as_text=True)
    with all_logs() as logs:
        failed = c.get("/boom")
    rid_value = failed.headers["X-Request-Id"]
    assert failed.status_code == 500 and rid_value in failed.get_data(as_text=True)
    line = request_lines(logs.getvalue())[-1]
    assert line["request_id"] == rid_value and line["status"] == 500 and line["error"] == "RuntimeError"
    assert f"request_id={rid_value}" in logs.getvalue()  # the traceback carries it too
    page = c.get("/rid")
    assert page.get_data(as_text=True) == f"id={page.headers['X-Request-Id']}"
    with app.app_context():
        assert db.engine.hide_parameters  # a failed statement's message names no phone number
        db.engine.dispose()


@pytest.fixture
def migrated(tmp_path):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.db'}",
                     ATTACHMENTS_DIR=str(tmp_path / "files"))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_readyz_reports_each_check_and_takes_plugged_in_checks(migrated):
    c = migrated.test_client()
    r = c.get("/readyz")
    assert r.status_code == 200 and r.json["status"] == "ready"
    assert {"database", "migrations", "attachments_disk"} <= set(r.json["checks"])
    assert r.json["checks"]["migrations"]["details"]["current"] == r.json["checks"]["migrations"]["details"]["head"]

    @probes.readiness
    def outbox():
        return "outbox", False, {"oldest_pending_s": 3600}

    try:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json["checks"]["outbox"] == {"ok": False,
                                                                       "details": {"oldest_pending_s": 3600}}
    finally:
        probes.forget(f"{outbox.__module__}.{outbox.__qualname__}")
    migrated.config["READY_MIN_FREE_MB"] = 10 ** 12
    r = c.get("/readyz")
    assert r.status_code == 503 and not r.json["checks"]["attachments_disk"]["ok"]
    assert c.get("/healthz").status_code == 200  # the process is still up


def test_readyz_says_not_ready_when_the_schema_is_behind(client_as):
    r = client_as().get("/readyz")  # the suite's database is built without migrations: no revision
    assert r.status_code == 503
    assert r.json["checks"]["migrations"]["ok"] is False and r.json["checks"]["database"]["ok"] is True
    assert r.json["checks"]["migrations"]["details"]["fix"] == "flask --app wsgi db upgrade"


def test_metrics_are_for_it_or_the_token_only(client_as, app):
    assert client_as().get("/metrics").status_code == 401
    assert client_as("clerk").get("/metrics").status_code == 403
    assert client_as("manager").get("/metrics").status_code == 403
    assert client_as("it").get("/metrics").status_code == 200
    http = app.test_client()
    app.config["METRICS_TOKEN"] = "s3cret-token-for-prometheus"
    try:
        assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/metrics", headers={"Authorization": "Bearer s3cret-token-for-prometheus"}).status_code == 200
    finally:
        app.config["METRICS_TOKEN"] = ""
    assert http.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401  # no token set: none works


def test_metrics_count_requests_overdue_records_per_property_and_plugged_gauges(client_as, app, world):
    with app.app_context():
        db.session.add(RepairOrder(property_id=world.a, unit_id=world.units[("A", "1-1-101")], contact="业主",
                                   phone="13800138000", content="漏水", received_at=now() - timedelta(hours=1)))
        db.session.commit()
    it = client_as("it")
    it.get("/admin/")

    @probes.gauge("frontdesk_plugged_depth", "A component's own gauge")  # not the outbox's: forgetting it here
    def depth():                                                        # must leave the real one registered
        return 7

    try:
        body = it.get("/metrics").get_data(as_text=True)
    finally:
        probes.forget("frontdesk_plugged_depth")
    assert re.search(r'frontdesk_requests_total\{endpoint="admin.index",method="GET",status="200"\} [1-9]', body)
    assert 'frontdesk_request_duration_seconds_bucket{endpoint="admin.index",le="0.5",method="GET"}' in body \
        or re.search(r'frontdesk_request_duration_seconds_bucket\{.*endpoint="admin.index"', body)
    assert 'frontdesk_overdue_records{property="A",register="repair_order"} 1.0' in body
    assert 'frontdesk_overdue_records{property="B",register="repair_order"} 0.0' in body
    assert "frontdesk_plugged_depth 7.0" in body
    assert "13800138000" not in body


def test_metrics_add_up_the_workers_in_multiprocess_mode(tmp_path):
    """Under gunicorn with PROMETHEUS_MULTIPROC_DIR each worker writes its counts there and /metrics sums them."""
    script = f"""
import os
from app.config import TestConfig
from app.factory import create_app
from kernel.db import db
app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite:///{tmp_path / 'mp.db'}", METRICS_TOKEN="t0ken-abc")
with app.app_context():
    db.create_all()
c = app.test_client()
for _ in range(3):
    c.get("/healthz")
print(c.get("/metrics", headers={{"Authorization": "Bearer t0ken-abc"}}).get_data(as_text=True))
"""
    (tmp_path / "prom").mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r'frontdesk_requests_total\{endpoint="auth.healthz",method="GET",status="200"\} 3.0', r.stdout)
    assert list((tmp_path / "prom").glob("*.db"))
