"""How long personal data is kept (PIPL art. 19, 47): a period per register that IT sets, and the job that erases it.

A register declares `retention = Retention(start="valid_until", days=365)`; the days live in retention_rule, which IT
edits. `flask --app wsgi retention` lists what is due (a dry run); with `--apply` it erases the ID numbers of every
record whose period has passed (the record itself stays: passes, permits and their history are evidence), audited
as `erase`. A resident is never erased by the job: that is a manager-approved anonymisation (models.master.Resident).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Integer, String, Text, and_, or_, select
from sqlalchemy.orm import Mapped, Session
from sqlalchemy.sql.elements import ColumnElement

from kernel import audit
from kernel.clock import start_of, today
from kernel.db import db
from kernel.i18n import T
from kernel.register import Register, Tracked, field, pii_columns, registers


class RetentionRule(Tracked, Register, db.Model):
    __tablename__ = "retention_rule"
    __label__ = T("个人信息保存期限", "Retention of personal data")
    grants = dict(it=("list", "details", "edit"))
    register: Mapped[str] = field(T("登记簿", "Register"), String(40), unique=True, nullable=False)
    name: Mapped[str] = field(T("名称", "Name"), String(80), nullable=False)
    days: Mapped[int] = field(T("保存天数", "Days kept"), Integer, nullable=False, validators=["non_negative"],
                              bounds=(0, 100 * 366))
    note: Mapped[str | None] = field(T("说明", "Note"), Text)

    def __str__(self) -> str:
        return self.name


def with_retention() -> dict[str, type]:
    return {name: m for name, m in registers().items() if getattr(m, "retention", None) is not None}


def days_for(session: Session, model: type) -> int:
    days = session.scalar(select(RetentionRule.days).where(RetentionRule.register == model.__tablename__))
    return model.retention.days if days is None else days


def due_clause(model: type, days: int, on: date | None = None) -> ColumnElement[bool]:
    """Records whose period has passed and that still hold an ID number."""
    cutoff = (on or today()) - timedelta(days=days)
    start = getattr(model, model.retention.start)
    kind = getattr(start.type, "python_type", None)
    bound = start_of(cutoff) if kind is datetime else cutoff
    held = or_(*[getattr(model, c).is_not(None) for c in pii_columns(model)])
    return and_(start.is_not(None), start < bound, held)


def due(session: Session, on: date | None = None) -> dict[str, list]:
    """{register: [record, ...]} due for erasure."""
    out = {}
    for name, model in sorted(with_retention().items()):
        out[name] = session.scalars(select(model).where(due_clause(model, days_for(session, model), on))
                                    .order_by(model.id)).all()
    return out


def erase(session: Session, on: date | None = None) -> dict[str, int]:
    """Erase the ID numbers that are due; each change is in the audit log as `erase` (masked old value)."""
    counts = {}
    with audit.acting("erase"):
        for name, rows in due(session, on).items():
            for record in rows:
                for column in pii_columns(type(record)):
                    setattr(record, column, None)
            counts[name] = len(rows)
        session.flush()
    return counts
