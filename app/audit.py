"""Audit trail written from SQLAlchemy session hooks, so no code path can change data unrecorded.

Every flushed insert, update and delete of a model with `__audited__` becomes one audit_log row with
old -> new per field; transitions and bulk actions set the action name with `acting()`; set-based
bulk SQL writes its rows with `record_bulk()`.
"""
from __future__ import annotations

import contextlib
import contextvars
from datetime import date, datetime, time
from decimal import Decimal

from flask import has_request_context, request
from sqlalchemy import event, inspect, insert
from sqlalchemy.orm import Session

from app.timeutil import now

_action: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_action", default=None)
SKIP = {"version", "updated_at"}


@contextlib.contextmanager
def acting(action: str):
    token = _action.set(action)
    try:
        yield
    finally:
        _action.reset(token)


def _plain(v):
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def _who():
    user_id, address = None, None
    if has_request_context():
        from flask_login import current_user
        if current_user and current_user.is_authenticated:
            user_id = current_user.id
        address = request.headers.get("X-Forwarded-For", request.remote_addr or "")[:64] or None
    return user_id, address


def _audited(obj) -> bool:
    return getattr(type(obj), "__audited__", False)


def _value(obj, col):
    return "***" if col.info.get("secret") else _plain(getattr(obj, col.key, None))


def _row(obj, action, changes):
    user_id, address = _who()
    return dict(at=now(), user_id=user_id, property_id=getattr(obj, "property_id", None),
                register=obj.__tablename__, record_id=getattr(obj, "id", None), action=action,
                changes=changes or None, address=address)


def _columns(obj):
    return [c for c in inspect(type(obj)).column_attrs if c.key not in SKIP]


def _after_flush(session: Session, ctx):
    rows = []
    current = _action.get()
    for obj in session.new:
        if _audited(obj):
            changes = {c.key: [None, _value(obj, c.columns[0])] for c in _columns(obj)
                       if getattr(obj, c.key, None) is not None}
            rows.append(_row(obj, current or "create", changes))
    for obj in session.dirty:
        if not _audited(obj) or not session.is_modified(obj, include_collections=False):
            continue
        state = inspect(obj)
        changes = {}
        for c in _columns(obj):
            hist = state.attrs[c.key].history
            if hist.has_changes():
                old = hist.deleted[0] if hist.deleted else None
                new = hist.added[0] if hist.added else None
                if old != new:
                    secret = c.columns[0].info.get("secret")
                    changes[c.key] = ["***", "***"] if secret else [_plain(old), _plain(new)]
        if changes:
            rows.append(_row(obj, current or "update", changes))
    for obj in session.deleted:
        if _audited(obj):
            rows.append(_row(obj, current or "delete", {c.key: [_value(obj, c.columns[0]), None]
                                                         for c in _columns(obj)}))
    if rows:
        from models.core import AuditLog
        session.connection().execute(insert(AuditLog.__table__), rows)


def record_bulk(session, register: str, action: str, items: list[tuple[int, int | None, dict]]):
    """Audit rows for set-based SQL: items are (record_id, property_id, {field: [old, new]})."""
    from models.core import AuditLog
    user_id, address = _who()
    at = now()
    rows = [dict(at=at, user_id=user_id, property_id=pid, register=register, record_id=rid, action=action,
                 changes={k: [_plain(a), _plain(b)] for k, (a, b) in ch.items()} or None, address=address)
            for rid, pid, ch in items]
    if rows:
        session.execute(insert(AuditLog.__table__), rows)


def record_denied(register: str, record_id, reason: str):
    """A refused attempt (another property's record, a tampered id) is kept even though the request fails.

    Written after the request's own transaction has ended (see `_write_denied`), so it neither waits on
    nor joins the work that was refused.
    """
    from flask import g
    user_id, address = _who()
    g.setdefault("audit_denied", []).append(dict(
        at=now(), user_id=user_id, property_id=None, register=register,
        record_id=int(record_id) if str(record_id).isdigit() else None, action="denied",
        changes={"reason": [None, reason], "path": [None, request.path if has_request_context() else None]},
        address=address))


def _write_denied(response):
    from flask import g
    rows = g.pop("audit_denied", None)
    if rows:
        from app.extensions import db
        from models.core import AuditLog
        db.session.rollback()
        db.session.execute(insert(AuditLog.__table__), rows)
        db.session.commit()
    return response


def install():
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_flush", _stamp_creator)


def init_app(app):
    app.after_request(_write_denied)
    # an abort(404) skips after_request handlers; the teardown still runs
    app.teardown_request(lambda exc: _write_denied(None))


def _stamp_creator(session, ctx, instances):
    user_id, _ = _who()
    if user_id is None:
        return
    for obj in session.new:
        if hasattr(obj, "created_by_id") and obj.created_by_id is None and hasattr(obj, "created_at"):
            obj.created_by_id = user_id

