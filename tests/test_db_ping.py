"""A pooled connection is tested before use only after it sat idle (kernel.db.ping_when_idle): a busy desk saves a
round trip per request, and a connection the database closed while it slept is replaced, not shown as an error."""
import pytest
from sqlalchemy import create_engine, text

import kernel.db
from kernel.db import db

LIST = "/admin/repair_order/"


def later_by(monkeypatch, seconds):
    now = kernel.db.monotonic() + seconds
    monkeypatch.setattr(kernel.db, "monotonic", lambda: now)


def test_a_connection_just_back_is_used_as_is_and_one_that_slept_is_tested(app, client_as, monkeypatch):
    clerk = client_as("clerk")
    with app.app_context():
        engine = db.engine
    pings, real = [], engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or real(conn))
    assert clerk.get(LIST).status_code == 200
    pings.clear()
    assert clerk.get(LIST).status_code == 200
    assert pings == []  # back in the pool a moment ago: no round trip to ask
    later_by(monkeypatch, app.config["DB_PING_IDLE_SECONDS"] + 1)
    assert clerk.get(LIST).status_code == 200
    assert pings  # it slept: asked before use


def test_a_postgresql_connection_closed_while_idle_is_replaced(app, client_as, monkeypatch, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a server that closes connections: PostgreSQL (the CI's second pass)")
    clerk = client_as("clerk")
    assert clerk.get(LIST).status_code == 200
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a restart or an idle timeout does to the pool's connections
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    assert killed >= 1
    later_by(monkeypatch, app.config["DB_PING_IDLE_SECONDS"] + 1)
    r = clerk.get(LIST)
    assert r.status_code == 200 and "报修" in r.get_data(as_text=True)
