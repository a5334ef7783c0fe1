"""Deadlines a register declares; the minutes live in deadline_rule, which IT edits.

    deadlines = (Deadline("repair.dispatch", T("派工", "Dispatch"), start="received_at",
                          done="dispatched_at", minutes=3),)

A record is overdue while `done` is empty and the time since `start` exceeds the minutes; a
`same_day` deadline ends at midnight of the start's day. The same rule gives a SQL clause (list
filter, dashboard counts) and a Python answer (the list column), so both always agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from flask import g, has_request_context
from sqlalchemy import and_, false, or_, select

from app.i18n import T
from app.timeutil import now, start_of


@dataclass(frozen=True)
class Deadline:
    code: str
    label: T
    start: str
    done: str
    minutes: int = 0
    same_day: bool = False
    when: Callable | None = None          # model -> SQL clause limiting which records it applies to
    applies: Callable | None = None       # record -> bool, the Python twin of `when`
    open_states: tuple[str, ...] | None = None


def minutes_for(d: Deadline) -> int:
    cache = g.setdefault("deadline_minutes", None) if has_request_context() else None
    if cache is None:
        from app.extensions import db
        from models.core import DeadlineRule
        cache = dict(db.session.execute(select(DeadlineRule.code, DeadlineRule.minutes)).all())
        if has_request_context():
            g.deadline_minutes = cache
    return cache.get(d.code, d.minutes)


def due_at(d: Deadline, started):
    if started is None:
        return None
    if d.same_day:
        return start_of(started.date()) + timedelta(days=1, minutes=minutes_for(d))
    return started + timedelta(minutes=minutes_for(d))


def _clause(model, d: Deadline, at):
    start, done = getattr(model, d.start), getattr(model, d.done)
    if d.same_day:
        late = start < start_of((at - timedelta(minutes=minutes_for(d))).date())
    else:
        late = start < at - timedelta(minutes=minutes_for(d))
    parts = [start.is_not(None), done.is_(None), late]
    if d.when is not None:
        parts.append(d.when(model))
    if d.open_states is not None:
        parts.append(model.state.in_(d.open_states))
    return and_(*parts)


def overdue_clause(model, at=None):
    ds = getattr(model, "deadlines", ())
    if not ds:
        return false()
    at = at or now()
    clause = or_(*[_clause(model, d, at) for d in ds])
    if all(d.open_states for d in ds):
        # one IN over the open states lets the (property, state, id) index narrow the scan first
        clause = and_(model.state.in_(sorted({s for d in ds for s in d.open_states})), clause)
    return clause


def overdue_for(record, at=None) -> list[Deadline]:
    at = at or now()
    late = []
    for d in getattr(record, "deadlines", ()):
        started, done = getattr(record, d.start), getattr(record, d.done)
        if started is None or done is not None:
            continue
        if d.applies is not None and not d.applies(record):
            continue
        if d.open_states is not None and record.state not in d.open_states:
            continue
        if at > due_at(d, started):
            late.append(d)
    return late
