"""Fixtures: one app per test session; every test starts from the same small two-property world.

TEST_DATABASE_URL selects the database (SQLite file by default). When it names PostgreSQL and the server is
unreachable the suite skips, unless REQUIRE_POSTGRES=1 (set by CI), which turns the skip into a failure.
"""
import os
import re

import pytest
from sqlalchemy import create_engine, text

from kernel.clock import travel

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

if os.environ.get("FD_THROWAWAY") == "1":  # tests/test_declarations.py: one more register, by declaration alone
    import tests.declarations.throwaway_register  # noqa: F401


def pg_reachable(url: str) -> str | None:
    try:
        eng = create_engine(url)
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as ex:  # any failure to connect means: no PostgreSQL here
        return f"{type(ex).__name__}: {str(ex).splitlines()[0][:120]}"


def need_postgres(url: str):
    why = pg_reachable(url)
    if why:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but unreachable at {url}: {why}")
        pytest.skip(f"PostgreSQL not reachable at {url} ({why}); set TEST_DATABASE_URL or start it")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if url and url.startswith("postgresql"):
        need_postgres(url)
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:  # `pytest -n 2` on PostgreSQL: each worker empties and fills a database of its own
            name = f"{url.rsplit('/', 1)[1]}_{worker}"
            admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                c.execute(text(f"CREATE DATABASE {name}"))
            admin.dispose()
            url = url.rsplit("/", 1)[0] + "/" + name
        return url
    return url or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    from app.config import TestConfig
    from app.factory import create_app
    from kernel.db import db
    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url,
                             ATTACHMENTS_DIR=str(tmp_path_factory.mktemp("attachments")))
    with application.app_context():
        db.drop_all()
        db.create_all()
    yield application
    with application.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def empty_tables():
    from kernel.db import db
    db.session.remove()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))  # a leaked transaction fails the test, not CI
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(autouse=True)
def world(request, app):
    """Empty every table and load the small world of tests/world.py. A module that sets `WORLD_WHEN_NAMED = True`
    (the kernel's pure tests, which `make mutate` runs once per mutant) gets it only in the tests that name it."""
    if getattr(request.module, "WORLD_WHEN_NAMED", False) and (
            request.function is None or "world" not in __import__("inspect").signature(request.function).parameters):
        yield None
        return
    from app.extensions import limiter
    from kernel.db import db
    from tests.world import build
    travel(__import__("datetime").timedelta(0))
    with app.app_context():
        empty_tables()
        limiter.reset()
        w = build()
        db.session.remove()
    yield w
    travel(__import__("datetime").timedelta(0))


class Client:
    """A browser-like client: logs in through the real form and sends the CSRF token like a page would."""

    def __init__(self, app, username=None):
        self.app = app
        self.http = app.test_client()
        self.username = username
        if username:
            r = self.login(username)
            assert r.status_code == 302, f"login of {username} failed: {r.status_code}"

    def token(self):
        page = self.http.get("/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def login(self, username, password="demo1234"):
        return self.http.post("/login", data={"username": username, "password": password, "csrf_token": self.token()})

    def get(self, url, **kw):
        kw.setdefault("buffered", True)  # read and close streamed bodies, as a browser and a WSGI server do
        return self.http.get(url, **kw)

    def post(self, url, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token())
        kw.setdefault("buffered", True)
        return self.http.post(url, data=data, **kw)


@pytest.fixture
def client_as(app):
    return lambda username=None: Client(app, username)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


# ---------------------------------------------------------------- browser tests (tests/browser.py)
@pytest.fixture(scope="session")
def live_server(app):
    from tests.browser import LiveServer, need_browser
    need_browser()
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600  # the browser keeps the (versioned) assets between pages
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(live_server):
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, FLAGS
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def demo(app, world, live_server):
    """A fresh demo database behind the live server (after the small world, which it replaces)."""
    from tests.browser import load_demo_database
    load_demo_database(app)
    yield live_server


@pytest.fixture
def person(request, browser, demo):
    """person("clerk") -> a logged-in tab; every tab opened is closed, and checked clean, after the test."""
    import shutil

    from tests.browser import ARTIFACTS, Person
    opened, counter = [], [0]
    shutil.rmtree(ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name), ignore_errors=True)

    def make(username=None, **kw):
        p = Person(browser, demo, request.node.name, username, counter=counter, **kw)
        opened.append(p)
        return p
    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for p in opened:
        if failed:
            try:
                p.shot("FAILED")
            except Exception:  # the page itself may be what broke; the failure is reported anyway
                pass
        p.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Lets a fixture see whether its test failed (the browser tests keep a screenshot of the failure)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
