"""Browser tests' machinery: the real server on a free port, Debian's Chromium driven by Playwright.

- `live_server`: the test app served by werkzeug on 127.0.0.1:<free port> in a thread (one per test session);
  each browser test starts from a fresh demo database (tables emptied, `seeds.demo.load_demo()`).
- `browser`: /usr/bin/chromium launched headless by Playwright (never `playwright install`). Without Chromium
  or Playwright the browser tests skip with the reason, unless REQUIRE_BROWSER=1 (CI), which fails them.
- `Person`: one logged-in page; `shot()` writes a screenshot of each step to test-artifacts/browser/; console
  errors and 4xx/5xx responses are collected and fail the test that did not expect them.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
# headless Chromium as root in a container, with nothing reaching out to the network
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--disable-extensions", "--mute-audio", "--lang=zh-CN"]
PASSWORD = "demo1234"


def unavailable() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is not installed (apt-get install chromium fonts-wqy-zenhei)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as ex:
        return f"Playwright for Python is not installed ({ex}); pip install -r requirements-dev.txt"
    return None


def need_browser() -> None:
    why = unavailable()
    if why:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required (REQUIRE_BROWSER=1) but {why}")
        pytest.skip(why)


class LiveServer:
    def __init__(self, app):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per asset would drown a failure
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


class Person:
    """One browser tab logged in as a demo user; every response and console message is watched."""

    def __init__(self, browser, server: LiveServer, test_name: str, username: str | None = None,
                 viewport: dict | None = None, english: bool = False, counter: list | None = None):
        self.server = server
        self.context = browser.new_context(viewport=viewport or {"width": 1366, "height": 900}, locale="zh-CN")
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.bad_status: list[str] = []
        self.allowed_status: set[int] = set()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console: {m.text} at {m.location.get('url')} on {self.page.url}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("response", self._response)
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_name)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.counter = counter if counter is not None else [0]  # shared by the tabs of one test
        self.username = username
        if username:
            self.login(username)
        if english:  # after logging in: a login starts a new session
            self.go("/language/en?next=/admin/")

    def _response(self, response) -> None:
        if response.status >= 400 and response.status not in self.allowed_status:
            self.bad_status.append(f"{response.status} {response.request.method} {response.url}")

    def go(self, path: str):
        return self.page.goto(self.server.url + path, wait_until="load")

    def login(self, username: str) -> None:
        self.go("/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        with self.page.expect_navigation():
            self.page.click("button[type=submit], form button.btn-primary")
        assert "/login" not in self.page.url, f"login of {username} failed"

    def shot(self, name: str) -> Path:
        self.counter[0] += 1
        safe = re.sub(r"[^\w.-]+", "_", f"{name}-{self.username or 'anonymous'}")
        path = self.folder / f"{self.counter[0]:02d}-{safe}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def text(self, selector: str = "body") -> str:
        return self.page.inner_text(selector)

    def flashes(self) -> str:
        return " ".join(self.page.locator(".alert").all_inner_texts())

    def check_clean(self) -> None:
        problems = self.errors + [f"HTTP {s}" for s in self.bad_status]
        assert not problems, "\n".join(problems)

    def close(self) -> None:
        self.context.close()


def load_demo_database(app) -> None:
    """A fresh demo database: every table emptied, then the demo data every developer sees."""
    from seeds.demo import load_demo
    from tests.conftest import empty_tables
    with app.app_context():
        empty_tables()
        load_demo()


# ---------------------------------------------------------------- what a person does on the screens
def pick(p: Person, field: str, text: str, search: str | None = None) -> None:
    """Choose in a select2 box (a dropdown or a search-as-you-type lookup) by the text a person reads."""
    p.page.click(f"#s2id_{field} .select2-choice, #s2id_{field} .select2-choices")
    if search is not None:
        p.page.keyboard.type(search)
    p.page.locator(".select2-drop-active .select2-result-label", has_text=text).first.click()


def save(p: Person, label: str = "保存") -> None:
    with p.page.expect_navigation():
        p.page.click(f"form.admin-form input[type=submit][value='{label}']")


def step_form(p: Person, step: str):
    return p.page.locator(f"form[action*='/transition/{step}/']")


def take_step(p: Person, step: str, comment: str | None = None, **fields: str) -> str:
    """Fill a step's own form on a details page and press its button; returns the flashed messages."""
    form = step_form(p, step)
    for name, value in fields.items():
        box = form.locator(f"[name={name}]")
        if box.evaluate("e => e.tagName") == "SELECT":
            box.select_option(label=value)
        elif box.get_attribute("type") == "checkbox":
            box.set_checked(value == "y")
        else:
            box.fill(value)
    if comment is not None:
        form.locator("[name=comment]").fill(comment)
    p.page.once("dialog", lambda d: d.accept())  # a destructive step (作废, 驳回) asks first
    with p.page.expect_navigation():
        form.locator("button").click()
    return p.flashes()


def clock(p: Person, minutes: int) -> None:
    """Move the app's own clock (the test-only control); the browser never waits for real time."""
    r = p.page.request.post(p.server.url + "/_test/clock", form={"minutes": str(minutes)})
    assert r.ok, r.status


def first_row(p: Person, column: str = "number") -> str:
    return p.page.locator(f"table.model-list tbody tr td.col-{column}").first.inner_text().strip()


def open_details(p: Person, register: str, number: str) -> None:
    p.go(f"/admin/{register}/?search={number}")
    with p.page.expect_navigation():
        p.page.locator("table.model-list tbody tr").first.locator("a[href*='/details/']").first.click()
