"""Deadlines a register declares; the minutes live in deadline_rule, which IT edits.

    deadlines = (Deadline("repair.dispatch", T("派工", "Dispatch"), start="received_at",
                          done="dispatched_at", minutes=3),)

A record is overdue while `done` is empty and the time since `start` exceeds the minutes; a `same_day`
deadline ends at midnight of the start's day (plus the minutes). The same rule gives a SQL clause (list
filter, dashboard counts) and a Python answer (the list column), so both always agree. The arithmetic
never raises: a date at the edge of the calendar is simply never (or always) late.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import g, has_request_context
from sqlalchemy import DateTime, Integer, String, Text, and_, bindparam, false, or_, select
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement

from kernel.clock import now, start_of
from kernel.db import db
from kernel.i18n import T
from kernel.kept import kept
from kernel.permissions import VIEW
from kernel.register import Register, Tracked, field, registers


class DeadlineRule(Tracked, Register, db.Model):
    """The minutes behind each declared deadline; IT changes them without a release."""

    __tablename__ = "deadline_rule"
    __label__ = T("时限设置", "Deadlines")
    grants = dict(it=("list", "details", "edit"), supervisor=VIEW, manager=VIEW)
    kept = True  # every overdue badge reads the minutes
    code: Mapped[str] = field(T("代码", "Code"), String(40), unique=True, nullable=False)
    name: Mapped[str] = field(T("名称", "Name"), String(80), nullable=False)
    minutes: Mapped[int] = field(T("分钟数", "Minutes"), Integer, nullable=False, validators=["non_negative"],
                                 bounds=(0, 366 * 24 * 60))
    note: Mapped[str | None] = field(T("说明", "Note"), Text)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Deadline:
    code: str
    label: T
    start: str
    done: str
    minutes: int = 0
    same_day: bool = False
    when: Callable[[type], ColumnElement[bool]] | None = None  # limits which records it applies to (SQL)
    applies: Callable[[Any], bool] | None = None                # the Python twin of `when`
    open_states: tuple[str, ...] | None = None


def open_states_of(model: type, d: Deadline) -> tuple[str, ...] | None:
    """The states in which `d` runs: its own open states, and never a voided record's (作废 counts for nothing)."""
    if d.open_states is not None:
        return tuple(s for s in d.open_states if s != "void")
    states = getattr(model, "states", None) or {}
    if "void" in states:
        return tuple(s for s in states if s != "void")
    return None


UNITS = {"minutes": (T("分钟", "minutes"), 1), "hours": (T("小时", "hours"), 60), "days": (T("天", "days"), 24 * 60),
         "same_day": (T("当天内", "same day"), 0)}
SAME_DAY = T("当天内", "the same day")


def declared(code: str) -> Deadline | None:
    """The declaration behind a deadline_rule row (by its code), from the registers that declare it."""
    for model in registers().values():
        for d in getattr(model, "deadlines", ()):
            if d.code == code:
                return d
    return None


def split_minutes(minutes: int, same_day: bool = False) -> tuple[int, str]:
    """Stored minutes as (amount, unit) a person types: 2880 -> (2, "days"); a same-day 0 -> (0, "same_day")."""
    if same_day and not minutes:
        return 0, "same_day"
    for unit in ("days", "hours"):
        size = UNITS[unit][1]
        if minutes and minutes % size == 0:
            return minutes // size, unit
    return minutes, "minutes"


def join_minutes(amount: int, unit: str) -> int:
    return amount * UNITS[unit][1]  # "same_day" counts 0 minutes: the deadline is midnight itself


def describe_minutes(minutes: int | None, same_day: bool = False) -> str:
    """"2 天", "15 分钟", "当天内", "当天内 + 2 小时" (a same-day deadline ends at midnight, plus the minutes)."""
    if minutes is None:
        return ""
    amount, unit = split_minutes(minutes, same_day)
    if unit == "same_day":
        return str(SAME_DAY)
    text = f"{amount} {UNITS[unit][0]}"
    return f"{SAME_DAY} + {text}" if same_day else text


def minutes_for(d: Deadline) -> int:
    cache = g.get("deadline_minutes") if has_request_context() else None
    if cache is None:
        cache = kept(("deadline_minutes",),
                     lambda: dict(db.session.execute(select(DeadlineRule.code, DeadlineRule.minutes)).all()))
        if has_request_context():
            g.deadline_minutes = cache
    return cache.get(d.code, d.minutes)


def _shift(at: datetime, delta: timedelta) -> datetime:
    try:
        return at + delta
    except OverflowError:
        return datetime.max if delta > timedelta(0) else datetime.min


def due_at(d: Deadline, started: datetime | None) -> datetime | None:
    if started is None:
        return None
    return _due(d, started, minutes_for(d))


def _due(d: Deadline, started: datetime, minutes: int) -> datetime:
    if d.same_day:
        return _shift(_shift(start_of(started.date()), timedelta(days=1)), timedelta(minutes=minutes))
    return _shift(started, timedelta(minutes=minutes))


def late_before(d: Deadline, at: datetime) -> datetime:
    """The start time before which a record is late on `d` at time `at`."""
    latest = _shift(at, -timedelta(minutes=minutes_for(d)))  # started before this: late
    if d.same_day:
        # late once `at` is past midnight after the start's day (+ minutes), to the second as in `due_at`
        day_before = _shift(latest, -timedelta(days=1))
        midnight = start_of(day_before.date())
        latest = day_before if day_before == midnight else _shift(midnight, timedelta(days=1))
    return latest


def late_param(model: type, index: int) -> str:
    """The bind parameter's name standing for `late_before` of the model's index-th deadline in a bound clause."""
    return f"fd_late_{model.__tablename__}_{index}"


def late_params(model: type, at: datetime | None = None) -> dict[str, datetime]:
    """The values of a bound clause's parameters at time `at` (minutes as IT set them now)."""
    at = at or now()
    return {late_param(model, i): late_before(d, at) for i, d in enumerate(getattr(model, "deadlines", ()))}


def deadline_clause(model: type, d: Deadline, at: datetime | None, bound: int | None = None) -> ColumnElement[bool]:
    """SQL: records of `model` that are late on `d` at time `at`. With `bound` (the deadline's position), the
    time is a named parameter (`late_params` gives its value), so a statement built once serves any moment."""
    start, done = getattr(model, d.start), getattr(model, d.done)
    latest = bindparam(late_param(model, bound), type_=DateTime()) if bound is not None else late_before(d, at)
    late = start < latest
    parts = [start.is_not(None), done.is_(None), late]
    if d.when is not None:
        parts.append(d.when(model))
    states = open_states_of(model, d)
    if states is not None:
        parts.append(model.state.in_(states))
    return and_(*parts)


def overdue_clause(model: type, at: datetime | None = None, bound: bool = False) -> ColumnElement[bool]:
    """SQL: records late on any of the model's deadlines at `at`; `bound`: at a time given as parameters
    (`late_params`), for a statement kept and run again (app/admin/statements.py)."""
    ds = getattr(model, "deadlines", ())
    if not ds:
        return false()
    at = None if bound else (at or now())
    clause = or_(*[deadline_clause(model, d, at, i if bound else None) for i, d in enumerate(ds)])
    if all(open_states_of(model, d) for d in ds):
        # one IN over the open states lets the (property, state, id) index narrow the scan first
        clause = and_(model.state.in_(sorted({s for d in ds for s in open_states_of(model, d)})), clause)
    return clause


def overdue_checker(model: type, at: datetime | None = None) -> Callable[[Any], list[Deadline]]:
    """`overdue_for` for many records of one register at one time: each deadline's minutes and open states are
    looked up once, not once per record (a list page asks 25 times, an export a million)."""
    at = at or now()
    plan = []
    for d in getattr(model, "deadlines", ()):
        states = open_states_of(model, d)
        plan.append((d, None if states is None else frozenset(states), minutes_for(d)))

    def late_on(record: Any) -> list[Deadline]:
        late = []
        for d, states, minutes in plan:
            started, done = getattr(record, d.start), getattr(record, d.done)
            if started is None or done is not None:
                continue
            if d.applies is not None and not d.applies(record):
                continue
            if states is not None and record.state not in states:
                continue
            if at > _due(d, started, minutes):
                late.append(d)
        return late
    return late_on


def overdue_for(record: Any, at: datetime | None = None) -> list[Deadline]:
    """The deadlines `record` is late on at `at` (now): the Python twin of `overdue_clause`."""
    return overdue_checker(type(record), at)(record)
