"""Who is told of what, declared next to the register and its steps; written in the same transaction as the change.

    class Incident(Record, Workflow, db.Model):
        tells = {"create": (Tell(role="manager", urgent=True), Tell(department="security"))}

    class RepairOrder(...):
        tells = {"overdue:repair.dispatch": (Tell(role="cs_admin", urgent=True),)}   # the scheduled check

        @transition(source=..., target=None, roles=DESK, label=..., tell=(Tell(phone_field="phone"),))
        def tell_delay(self, ctx): ...

Events: "create" (a new record), "change:<field>" (a new value of a column, also on create; `skip` values
are not told), "overdue:<deadline code>" (kernel.deadlines, raised by `flask deadline-alerts` once per record
and deadline) and a step's `tell=` (kernel.workflow.fire). Recipients:

- `role` / `role_field`: every active user holding that role at the record's property -> in-app inbox
  (`Notification`, written at once in the same transaction: the inbox is the database itself);
- `department` (a kind) / `department_field` (the linked department): its e-mail address, master data IT keeps
  (`Department.email`) -> the outbox;
- `phone_field`: the record's phone (the owner) -> the outbox, channel "sms" (or "wecom").

External messages go to `Outbox` rows in the transaction of the change (transactional outbox); kernel.delivery
sends them. Every row carries an idempotency key `<event>/<recipient>`: an event is raised once
(`NotifyEvent.key` is unique), and a message is sent once per recipient (kernel.delivery.DeliveredKey).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, Integer, LargeBinary, String, Text, event, insert, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kernel import permissions
from kernel.checks import check
from kernel.clock import now
from kernel.db import db
from kernel.i18n import T
from kernel.register import registers

CHANNELS = ("email", "sms", "wecom")
STATES = {"pending": T("待发送", "Pending"), "sent": T("已发送", "Sent"), "failed": T("发送失败", "Failed")}
NO_ADDRESS = T("未设置电子邮箱，请IT在“联系部门”中填写", "No e-mail address: IT sets it under Departments")
NO_PHONE = T("记录中没有电话号码", "The record has no phone number")


@dataclass(frozen=True)
class Tell:
    """One recipient of an event. Exactly one of role, role_field, department, department_field, phone_field."""

    role: str | None = None
    role_field: str | None = None
    department: str | None = None
    department_field: str | None = None
    phone_field: str | None = None
    channel: str | None = None          # default: in-app for roles, "email" for departments, "sms" for phones
    urgent: bool = False                # shown in the home page's urgent panel
    text: T | None = None               # what is told; default: the register, the number and the event
    skip: tuple[str, ...] = ()          # values of role_field that tell nobody ("self")

    @property
    def target(self) -> str:
        return next(k for k in ("role", "role_field", "department", "department_field", "phone_field")
                    if getattr(self, k))

    @property
    def via(self) -> str:
        if self.channel:
            return self.channel
        if self.role or self.role_field:
            return "inapp"
        return "sms" if self.phone_field else "email"


class NotifyEvent(db.Model):
    """An event told once: the overdue alert of a record and deadline, a record's creation, a step taken."""

    __tablename__ = "notify_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True, nullable=False)
    register: Mapped[str] = mapped_column(String(40), nullable=False)
    record_id: Mapped[int | None] = mapped_column(Integer)
    property_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=now)


class Notification(db.Model):
    """One user's inbox entry: what, which record, when, read or not."""

    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)  # <event>/user:<id>
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    property_id: Mapped[int | None] = mapped_column(Integer)
    register: Mapped[str] = mapped_column(String(40), nullable=False)
    record_id: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    urgent: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=now)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at"),)


class Outbox(db.Model):
    """A message to send outside the database (e-mail, SMS, WeCom); kernel.delivery sends it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)  # idempotency: <event>/<recipient>
    property_id: Mapped[int | None] = mapped_column(Integer)
    register: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    recipient: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    attachments: Mapped[bytes | None] = mapped_column(LargeBinary)  # JSON [{name, mime, data(base64)}]
    on_sent: Mapped[str | None] = mapped_column(String(60))          # a hook run when the server accepted it
    on_sent_ids: Mapped[str | None] = mapped_column(Text)            # JSON list of record ids for the hook
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=now)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    def files(self) -> list[tuple[str, str, bytes]]:
        if not self.attachments:
            return []
        return [(a["name"], a["mime"], base64.b64decode(a["data"])) for a in json.loads(self.attachments)]

    def ids(self) -> list[int]:
        return json.loads(self.on_sent_ids) if self.on_sent_ids else []


def pack(files: Iterable[tuple[str, str, bytes]]) -> bytes:
    return json.dumps([dict(name=n, mime=m, data=base64.b64encode(d).decode()) for n, m, d in files]).encode()


# ---------------------------------------------------------------- hooks run when a message was accepted
_ON_SENT: dict[str, Callable[[Session, list[int], datetime], None]] = {}


def on_sent(name: str) -> Callable:
    """`@on_sent("network_request.sent_to_isp")`: called with (session, ids, at) in the transaction marking it sent."""
    def deco(fn: Callable) -> Callable:
        _ON_SENT[name] = fn
        return fn
    return deco


def sent_hook(name: str) -> Callable[[Session, list[int], datetime], None] | None:
    return _ON_SENT.get(name)


# ---------------------------------------------------------------- raising events
def tells_of(model: type) -> dict[str, tuple[Tell, ...]]:
    return getattr(model, "tells", None) or {}


def event_key(record: Any, what: str) -> str:
    return f"{record.__tablename__}:{record.id}:{what}"


def describe(record: Any, what: T) -> str:
    number = getattr(record, "number", None) or f"#{record.id}"
    return f"{record.__label__.zh} {number}：{what.zh}"


def users_with_role(conn: Any, role: str, property_id: int) -> list[int]:
    t = db.metadata.tables  # by name: kernel.identity builds on kernel.workflow, which raises events here
    m, r, u = t["membership"], t["role"], t["staff_user"]
    q = (select(m.c.user_id).join(r, r.c.id == m.c.role_id).join(u, u.c.id == m.c.user_id)
         .where(r.c.code == role, m.c.property_id == property_id, u.c.active.is_(True)).distinct())
    return sorted(conn.execute(q).scalars())


def _departments(conn: Any, record: Any, tell: Tell) -> list[tuple[int, str | None]]:
    dept = db.metadata.tables["department"]
    if tell.department_field:
        dep_id = getattr(record, tell.department_field, None)
        if dep_id is None:
            return []
        q = select(dept.c.id, dept.c.email).where(dept.c.id == dep_id)
    else:
        q = select(dept.c.id, dept.c.email).where(dept.c.kind == tell.department, dept.c.active.is_(True),
                                                  dept.c.property_id == record.property_id)
    return [tuple(r) for r in conn.execute(q.order_by(dept.c.id))]


def emit(session: Session, record: Any, tells: Iterable[Tell], what: str, label: T,
         body: str | None = None) -> bool:
    """Raise event `what` of `record` once: inbox rows and outbox rows in the caller's transaction.

    Returns False when the event was raised before (nothing is written again). Uses the session's connection
    only, so it may run inside a flush (the session hook) as well as in a command.
    """
    tells = tuple(tells)
    if not tells:
        return False
    conn = session.connection()
    key = event_key(record, what)
    ev = NotifyEvent.__table__
    if conn.execute(select(ev.c.id).where(ev.c.key == key)).first() is not None:
        return False
    at = now()
    pid = getattr(record, "property_id", None)
    conn.execute(insert(ev).values(key=key, register=record.__tablename__, record_id=record.id, property_id=pid,
                                   at=at))
    inbox, outbox = [], []
    for tell in tells:
        text = describe(record, tell.text or label)
        if tell.via == "inapp":
            role = tell.role or getattr(record, tell.role_field, None)
            if not role or role in tell.skip:
                continue
            for uid in users_with_role(conn, role, pid):
                inbox.append(dict(key=f"{key}/user:{uid}", user_id=uid, property_id=pid,
                                  register=record.__tablename__, record_id=record.id, title=text[:200],
                                  urgent=tell.urgent, created_at=at))
            continue
        message = dict(property_id=pid, register=record.__tablename__, record_id=record.id, channel=tell.via,
                       subject=text[:200], body=text if tell.text else (body or text), state="pending", attempts=0,
                       next_attempt_at=at, last_error=None, created_at=at)
        if tell.phone_field:
            phone = getattr(record, tell.phone_field, None)
            outbox.append(dict(message, key=f"{key}/{tell.via}:{tell.phone_field}", recipient=phone,
                               **({} if phone else dict(state="failed", last_error=NO_PHONE.zh))))
            continue
        found = _departments(conn, record, tell)
        if not found and tell.department:
            kind = T.of(db.metadata.tables["department"].c.kind.info.get("choices", {}).get(tell.department,
                                                                                           tell.department))
            outbox.append(dict(message, key=f"{key}/kind:{tell.department}", recipient=None, state="failed",
                               last_error=f"本项目没有类别为“{kind.zh}”的联系部门，请IT添加"))
        for dep_id, email in found:
            outbox.append(dict(message, key=f"{key}/department:{dep_id}", recipient=email,
                               **({} if email else dict(state="failed", last_error=NO_ADDRESS.zh))))
    if inbox:
        conn.execute(insert(Notification.__table__), inbox)
    if outbox:
        conn.execute(insert(Outbox.__table__), outbox)
    return True


def queue_mail(session: Session, key: str, property_id: int | None, recipient: str | None, subject: str, body: str,
               files: Iterable[tuple[str, str, bytes]] = (), on_sent: str | None = None,
               ids: Iterable[int] = (), register: str | None = None) -> Outbox:
    """An e-mail of a batch (the ISP's requests, the telecom daily sheet), with attachments and a hook."""
    at = now()
    row = Outbox(key=key, property_id=property_id, register=register, channel="email", recipient=recipient,
                 subject=subject[:200], body=body, attachments=pack(files) or None, on_sent=on_sent,
                 on_sent_ids=json.dumps(sorted(ids)) if ids else None, state="pending" if recipient else "failed",
                 last_error=None if recipient else NO_ADDRESS.zh, attempts=0, next_attempt_at=at, created_at=at)
    session.add(row)
    return row


def queued_ids(session: Session, hook: str, property_id: int) -> set[int]:
    """Record ids already waiting in a pending batch with this hook (not queued twice)."""
    rows = session.scalars(select(Outbox.on_sent_ids).where(Outbox.on_sent == hook, Outbox.state == "pending",
                                                            Outbox.property_id == property_id))
    return {i for r in rows if r for i in json.loads(r)}


# ---------------------------------------------------------------- the session hook: create and change events
CREATED = T("新登记", "New record")


def _changed_value(record: Any, field: str, created: bool) -> tuple[bool, Any]:
    if created:
        value = getattr(record, field, None)
        return value is not None, value
    hist = inspect(record).attrs[field].history
    if not hist.has_changes() or not hist.added:
        return False, None
    return hist.added[0] != (hist.deleted[0] if hist.deleted else None), hist.added[0]


def _after_flush(session: Session, ctx: Any) -> None:
    for created, objs in ((True, list(session.new)), (False, list(session.dirty))):
        for obj in objs:
            tells = tells_of(type(obj))
            if not tells or getattr(obj, "id", None) is None:
                continue
            if created and "create" in tells:
                emit(session, obj, tells["create"], "create", CREATED)
            for name, group in tells.items():
                if not name.startswith("change:"):
                    continue
                field = name.split(":", 1)[1]
                changed, value = _changed_value(obj, field, created)
                if changed and value is not None:
                    col = type(obj).__table__.c[field]
                    shown = col.info.get("choices", {}).get(value, value)
                    label = T(f"{col.info['label'].zh}：{T.of(shown).zh}", f"{col.info['label'].en}: {T.of(shown).en}")
                    stamp = now().strftime("%Y%m%d%H%M%S%f")
                    emit(session, obj, group, f"{name}={value}@{stamp}" if not created else f"{name}={value}", label)


_installed = False


def install() -> None:
    global _installed
    if not _installed:
        event.listen(Session, "after_flush", _after_flush)
        _installed = True


# ---------------------------------------------------------------- start-up checks of the declarations
@check
def tells_are_well_formed(app: Any) -> Iterator[str]:
    for name, model in registers().items():
        tells = tells_of(model)
        columns = set(model.__table__.c.keys())
        deadline_codes = {d.code for d in getattr(model, "deadlines", ())}
        groups = list(tells.items()) + [(f"step:{t.name}", t.tell) for t in model.transitions.values() if t.tell]
        for event_name, group in groups:
            kind, _, arg = event_name.partition(":")
            if event_name != "create" and kind not in ("change", "overdue", "step"):
                yield f"{name}.tells: unknown event {event_name!r} (create, change:<field>, overdue:<deadline>)"
            if kind == "change" and arg not in columns:
                yield f"{name}.tells: {event_name!r} names no column"
            if kind == "overdue" and arg not in deadline_codes:
                yield f"{name}.tells: {event_name!r} names no deadline of the register"
            for tell in group:
                if not isinstance(tell, Tell):
                    yield f"{name}.tells[{event_name!r}]: {tell!r} is not a Tell"
                    continue
                chosen = [k for k in ("role", "role_field", "department", "department_field", "phone_field")
                          if getattr(tell, k)]
                if len(chosen) != 1:
                    yield f"{name}.tells[{event_name!r}]: name exactly one recipient, not {chosen}"
                    continue
                if tell.role and tell.role not in permissions.ROLES:
                    yield f"{name}.tells[{event_name!r}]: unknown role {tell.role!r}"
                for attr in ("role_field", "department_field", "phone_field"):
                    if getattr(tell, attr) and getattr(tell, attr) not in columns:
                        yield f"{name}.tells[{event_name!r}]: {attr} {getattr(tell, attr)!r} is not a column"
                if tell.role_field:
                    bad = set(model.__table__.c[tell.role_field].info.get("choices", {})) - set(permissions.ROLES) \
                        - set(tell.skip)
                    if bad:
                        yield f"{name}.tells[{event_name!r}]: {tell.role_field} may name {sorted(bad)}, not roles"
                if tell.via not in ("inapp",) + CHANNELS:
                    yield f"{name}.tells[{event_name!r}]: unknown channel {tell.via!r}"
                if tell.via == "inapp" and not (tell.role or tell.role_field):
                    yield f"{name}.tells[{event_name!r}]: the inbox is for roles; use email/sms for others"
