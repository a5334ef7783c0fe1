"""What an operator sees of each request: a request id, one JSON log line, SQL counts, metrics, readiness.

The request id comes from the proxy's `X-Request-Id` when it looks like an id (nginx's `$request_id` does),
otherwise it is made here; it is echoed in the response header, kept in `g.request_id` and given to
templates as `request_id`, so the number a clerk reads off an error page finds the log line.

Logs never hold personal data: the line names the path and the endpoint, never the query string or the
form (a search for an ID number or a phone would otherwise land in the log), and the development server's
own access lines are cut at the "?".
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request, session
from markupsafe import escape
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException

from app import metrics, ready

SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
log = logging.getLogger("frontdesk.request")


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def _start() -> None:
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    g.sql_count, g.sql_seconds = 0, 0.0


def _finish(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers["X-Request-Id"] = rid
    g.response_status = response.status_code
    return response


def _user_id() -> int | None:
    """The signed-in user without loading one: Flask-Login keeps the loaded user in g, the id in the session."""
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return user.id
    raw = session.get("_user_id") if session else None
    return int(raw) if str(raw or "").isdigit() else None


def request_record(exc: BaseException | None = None) -> dict[str, Any]:
    started = g.get("request_started")
    property_id = g.get("property_id")
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "event": "request",
        "request_id": g.get("request_id"),
        "user_id": _user_id(),
        "property_id": property_id if isinstance(property_id, int) and property_id >= 0 else None,
        "method": request.method,
        "endpoint": request.endpoint,
        "path": request.path,  # never request.full_path: query strings carry searched ID numbers and phones
        "status": g.get("response_status", 500),
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        "sql_count": g.get("sql_count", 0),
        "sql_ms": round(g.get("sql_seconds", 0.0) * 1000, 1),
        **({"error": type(exc).__name__} if exc is not None else {}),
    }


def _teardown(exc: BaseException | None) -> None:
    """After the body is sent (a streamed export ends here too): one line, one metrics observation."""
    if "request_started" not in g:
        return
    try:
        record = request_record(exc)
        g.pop("request_started")
        metrics.observe(record)
        if current_app.config.get("LOG_REQUESTS", True):
            log.info(json.dumps(record, ensure_ascii=False))
    except Exception:  # logging must never turn a served request into an error
        logging.getLogger(__name__).exception("request log failed")


def _sql_before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    conn.info.setdefault("fd_query_started", []).append(time.perf_counter())


def _sql_after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    stack = conn.info.get("fd_query_started")
    started = stack.pop() if stack else None
    if started is not None and has_request_context() and "sql_count" in g:
        g.sql_count += 1
        g.sql_seconds += time.perf_counter() - started


def error_page(e: HTTPException) -> Response:
    """The bare error page with the request id on it; a template-rendering handler for a code takes precedence."""
    response = e.get_response()
    rid = request_id()
    if rid and response.status_code >= 400:
        response.set_data(e.get_body() + f"<p>请求编号 Request ID: <code>{escape(rid)}</code></p>\n")
    return response


class StripQuery(logging.Filter):
    """The development server logs the request line, query string included; keep the path only."""

    QUERY = re.compile(r"(/[^\s?]*)\?[^\s'\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.QUERY.sub(r"\1", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.QUERY.sub(r"\1", a) if isinstance(a, str) else a for a in record.args)
        return True


class WithRequestId(logging.Filter):
    """Tracebacks the app logs carry the request id, so the clerk's number finds them too."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id()
        if rid and isinstance(record.msg, str) and "request_id=" not in record.msg:
            record.msg = f"{record.msg} [request_id={rid}]"
        return True


_hooked = False


def install(app: Flask) -> None:
    global _hooked
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))  # the message is the JSON line
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        logging.getLogger("werkzeug").addFilter(StripQuery())
    if not _hooked:  # engine events are process-wide, like the audit's session hooks
        event.listen(Engine, "before_cursor_execute", _sql_before)
        event.listen(Engine, "after_cursor_execute", _sql_after)
        _hooked = True
    app.logger.addFilter(WithRequestId())
    app.before_request_funcs.setdefault(None, []).insert(0, _start)  # first, so every later hook has an id
    app.after_request(_finish)
    app.teardown_request(_teardown)
    app.context_processor(lambda: {"request_id": request_id()})
    app.register_error_handler(HTTPException, error_page)
    metrics.install(app)
    ready.install(app)
