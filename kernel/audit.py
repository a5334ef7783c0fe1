"""Audit trail written from SQLAlchemy session hooks, so no code path can change data unrecorded.

Every flushed insert, update and delete of a register with `__audited__` becomes one audit_log row with
old -> new per field; steps and bulk actions name the action with `acting()`; set-based bulk SQL writes its
rows with `record_bulk()`; a refused attempt is kept with `record_denied()` even though its request fails.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, event, func, insert, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kernel.clock import now
from kernel.db import db
from kernel.i18n import T
from kernel.permissions import READ, VIEW
from kernel.register import Register
from kernel.validators import mask_id

_action: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_action", default=None)
SKIP = {"version", "updated_at"}


class AuditLog(Register, db.Model):
    """Append-only: written by the hooks below, never by a form."""

    __tablename__ = "audit_log"
    __label__ = T("审计日志", "Audit log")
    __audited__ = False
    grants = dict(supervisor=READ, manager=READ, it=VIEW)  # company-wide oversight: totals, not record trails
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now, nullable=False, index=True,
                                         info={"label": T("时间", "At")})
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True,
                                                info={"label": T("用户", "User")})
    property_id: Mapped[int | None] = mapped_column(Integer, index=True, info={"label": T("项目", "Property")})
    register: Mapped[str] = mapped_column(String(40), nullable=False, info={"label": T("登记簿", "Register")})
    record_id: Mapped[int | None] = mapped_column(Integer, info={"label": T("记录", "Record")})
    action: Mapped[str] = mapped_column(String(40), nullable=False, index=True, info={"label": T("操作", "Action")})
    changes: Mapped[dict | None] = mapped_column(JSON, info={"label": T("变更 (旧 → 新)", "Changes (old → new)")})
    address: Mapped[str | None] = mapped_column(String(64), info={"label": T("来源地址", "From address")})
    user = relationship("StaffUser", info={"label": T("用户", "User")})
    __table_args__ = (Index("ix_audit_log_register_record", "register", "record_id"),)


@contextlib.contextmanager
def acting(action: str) -> Iterator[None]:
    token = _action.set(action)
    try:
        yield
    finally:
        _action.reset(token)


def plain(v: Any) -> Any:
    """A value as JSON keeps it: times as ISO text, money as text, everything else as itself or its text."""
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def who() -> tuple[int | None, str | None]:
    """The acting user and the client address (ProxyFix, configured in the factory, decides what to trust)."""
    if not has_request_context():
        return None, None
    user_id = current_user.id if current_user and current_user.is_authenticated else None
    return user_id, (request.remote_addr or "")[:64] or None


def _audited(obj: Any) -> bool:
    return getattr(type(obj), "__audited__", False) and hasattr(obj, "__tablename__")


def _secret(col: Any) -> bool:
    return bool(col.info.get("secret"))


def kept(col: Any, value: Any) -> Any:
    """A value as the audit log keeps it: secrets never, personal data (ID numbers) only masked."""
    if _secret(col):
        return "***"
    if col.info.get("pii"):
        return mask_id(value) if value else value
    return plain(value)


def _row(obj: Any, action: str, changes: dict | None) -> dict:
    user_id, address = who()
    return dict(at=now(), user_id=user_id, property_id=getattr(obj, "property_id", None),
                register=obj.__tablename__, record_id=getattr(obj, "id", None), action=action,
                changes=changes or None, address=address)


def _columns(obj: Any) -> list:
    """Every column but the row version and the blind indexes (a hash of a number already kept masked)."""
    return [c for c in inspect(type(obj)).column_attrs
            if c.key not in SKIP and not c.columns[0].info.get("blind_index_of")]


def _after_flush(session: Session, ctx: Any) -> None:
    rows = []
    current = _action.get()
    for obj in session.new:
        if _audited(obj):
            changes = {c.key: [None, kept(c.columns[0], getattr(obj, c.key))]
                       for c in _columns(obj) if getattr(obj, c.key, None) is not None}
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
                    changes[c.key] = [kept(c.columns[0], old), kept(c.columns[0], new)]
        if changes:
            rows.append(_row(obj, current or "update", changes))
    for obj in session.deleted:
        if _audited(obj):
            rows.append(_row(obj, current or "delete", {
                c.key: [kept(c.columns[0], getattr(obj, c.key, None)), None] for c in _columns(obj)}))
    if rows:
        session.connection().execute(insert(AuditLog.__table__), rows)


def record_bulk(session: Session, register: str, action: str, items: list[tuple[int | None, int | None, dict]]) -> None:
    """Audit rows for set-based SQL: items are (record_id, property_id, {field: (old, new)})."""
    user_id, address = who()
    at = now()
    rows = [dict(at=at, user_id=user_id, property_id=pid, register=register, record_id=rid, action=action,
                 changes={k: [plain(a), plain(b)] for k, (a, b) in ch.items()} or None, address=address)
            for rid, pid, ch in items]
    if rows:
        session.execute(insert(AuditLog.__table__), rows)


def times_printed(session: Session, register: str, record_id: int) -> int:
    """How many times a record has been printed: its `print` rows in the audit log."""
    return session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.register == register, AuditLog.record_id == record_id, AuditLog.action == "print")) or 0


def record_print(session: Session, obj: Any, size: str) -> int:
    """A print is kept like any other act (who, when, from where, which copy, which paper); returns the copy's
    number: 1 for the first print, 2 and on for a reprint (补打)."""
    copy = times_printed(session, obj.__tablename__, obj.id) + 1
    record_bulk(session, obj.__tablename__, "print",
                [(obj.id, getattr(obj, "property_id", None), {"copy": (None, copy), "size": (None, size)})])
    return copy


def record_denied(register: str, record_id: Any, reason: str, property_id: int | None = None) -> None:
    """A refused attempt (another property's record, a tampered id) is kept even though the request fails.

    `property_id` is the property the attempt targeted, so that property's supervisor sees it. Written
    after the request's own transaction has ended (see `write_denied`), so it neither waits on nor joins
    the work that was refused.
    """
    user_id, address = who()
    g.setdefault("audit_denied", []).append(dict(
        at=now(), user_id=user_id, property_id=property_id, register=register,
        record_id=int(record_id) if str(record_id).isdigit() and len(str(record_id)) < 10 else None,
        action="denied",
        changes={"reason": [None, reason], "path": [None, request.path if has_request_context() else None]},
        address=address))


def write_denied(response: Any = None) -> Any:
    rows = g.pop("audit_denied", None)
    if rows:
        db.session.rollback()
        db.session.execute(insert(AuditLog.__table__), rows)
        db.session.commit()
    return response


def _stamp_creator(session: Session, ctx: Any, instances: Any) -> None:
    """The server, never the form, says who made a record."""
    user_id, _ = who()
    if user_id is None:
        return
    for obj in session.new:
        if hasattr(obj, "created_by_id") and obj.created_by_id is None and hasattr(obj, "created_at"):
            obj.created_by_id = user_id


_installed = False


def install() -> None:
    """Session hooks are process-wide (SQLAlchemy's Session class); install them once."""
    global _installed
    if not _installed:
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "before_flush", _stamp_creator)
        _installed = True
