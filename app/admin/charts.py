"""Charts for the supervisor, the manager and the regional manager (issue 17).

Numbers come from SQL aggregation only (GROUP BY, window functions), one query per chart, never a loop over
rows in Python; pygal (pinned) draws them as SVG on the server, so they print and need no script. The same
queries run on SQLite and PostgreSQL; where the two speak differently (a day, whole weeks or tenths of a minute
between two times, a deadline's due time) a small helper says it in each.

- intake: records registered per register and day, the last 30 days (voided typing mistakes left out);
- overdue rate per deadline: of the records whose clock started in the last 30 days, the share that missed
  it (done after it was due, or still not done and past due);
- repair orders, receipt -> dispatch and receipt -> completion, median and 90th percentile per week (nearest
  rank: the value at position ceil(p * n) in the week's sorted durations, picked in SQL by a running count);
- callback satisfaction, the last 30 days.
Each takes the properties in view: at one property one series; across properties (the regional manager) one
series per property, side by side.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style
from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)

from kernel.clock import now
from kernel.db import db
from kernel.deadlines import Deadline, minutes_for, open_states_of
from kernel.i18n import T
from kernel.register import registers
from models.desk import SATISFACTION, Callback, RepairOrder

DAYS = 30
WEEKS = 8
PERCENTILES = (50, 90)
STYLE = Style(background="white", plot_background="white", font_family="sans-serif",
              colors=("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"))


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def day_of(col: Any) -> Any:
    return func.date(col)  # SQLite: 'YYYY-MM-DD'; PostgreSQL: a date


def due_of(d: Deadline, start: Any) -> Any:
    """SQL: when a record started at `start` is due on `d` (as kernel.deadlines.due_at says in Python)."""
    minutes = minutes_for(d)
    if _dialect() == "postgresql":
        base = func.date_trunc("day", start) + timedelta(days=1) if d.same_day else start
        return base + timedelta(minutes=minutes)
    if d.same_day:
        return func.datetime(func.date(start), "+1 day", f"+{minutes} minutes")
    return func.datetime(start, f"+{minutes} minutes")


def _text_day(value: Any) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)[:10]


def _not_void(model: type) -> Any:
    return model.state != "void" if "void" in (getattr(model, "states", None) or {}) else literal(True)


def intake_registers() -> list[type]:
    """Registers that take things in at the desk: numbered records of a property."""
    return [m for _, m in sorted(registers().items())
            if hasattr(m, "number") and hasattr(m, "property_id") and hasattr(m, "created_at")]


def intake(pids: Sequence[int], at: datetime | None = None, days: int = DAYS) -> dict:
    """{(register, property_id, 'YYYY-MM-DD'): count} over the last `days` days: one UNION ALL query."""
    at = at or now()
    since = datetime.combine(at.date() - timedelta(days=days - 1), datetime.min.time())
    parts = [select(literal(m.__tablename__).label("register"), m.property_id, day_of(m.created_at).label("day"),
                    func.count().label("n"))
             .where(m.property_id.in_(pids), m.created_at >= since, m.created_at <= at, _not_void(m))
             .group_by(m.property_id, day_of(m.created_at)) for m in intake_registers()]
    return {(r, p, _text_day(d)): n for r, p, d, n in db.session.execute(union_all(*parts))}


def deadlines() -> list[tuple[type, Deadline]]:
    return [(m, d) for _, m in sorted(registers().items()) for d in getattr(m, "deadlines", ())
            if hasattr(m, "property_id")]


def overdue_rate(pids: Sequence[int], at: datetime | None = None, days: int = DAYS) -> dict:
    """{(deadline code, property_id): (started, missed)}: one UNION ALL query over every declared deadline."""
    at = at or now()
    since = at - timedelta(days=days)
    parts = []
    for model, d in deadlines():
        start, done = getattr(model, d.start), getattr(model, d.done)
        due = due_of(d, start)
        missed = or_(and_(done.is_(None), due < at), done > due)
        where = [model.property_id.in_(pids), start.is_not(None), start >= since, start <= at, _not_void(model)]
        if d.when is not None:
            where.append(d.when(model))
        states = open_states_of(model, d)
        if states is not None and d.open_states is not None:  # a deadline that runs only in some states
            where.append(or_(done.is_not(None), model.state.in_(states)))
        parts.append(select(literal(d.code).label("code"), model.property_id, func.count().label("n"),
                            func.sum(case((missed, 1), else_=0)).label("missed"))
                     .where(*where).group_by(model.property_id))
    return {(c, p): (n, int(missed or 0)) for c, p, n, missed in db.session.execute(union_all(*parts))}


def weeks_from(col: Any, start: datetime) -> Any:
    """Whole weeks from `start` (a Monday's midnight, never after `col`) to `col`, as an integer."""
    if _dialect() == "postgresql":
        return cast(cast(col, Date) - start.date(), Integer) // 7  # integers: // divides as integers
    julian = (start - datetime(2000, 1, 1, 12)).total_seconds() / 86400 + 2451545.0
    return cast((func.julianday(col) - julian) / 7, Integer)


def tenths_between(start: Any, end: Any) -> Any:
    """Whole tenths of a minute (six seconds) from `start` to `end`, a half rounded away from zero, as an integer.
    SQLite's julianday difference carries float noise (2 min 33 s comes out a hair under or over 25.5 tenths), so it
    is first rounded to whole milliseconds, which a half then is exactly, as PostgreSQL's exact seconds are."""
    if _dialect() == "postgresql":
        # date_part's double (exact for whole microseconds) is cheaper than extract's numeric; its round() may
        # round a half to even, so a half is rounded away from zero by hand, as SQLite's round() does
        tenths = func.date_part("epoch", end - start) / 6
        return cast(func.sign(tenths) * func.floor(func.abs(tenths) + 0.5), BigInteger)
    return cast(func.round(func.round((func.julianday(end) - func.julianday(start)) * 86_400_000) / 6000), Integer)


# A repair's duration (tenths of a minute, see tenths_between), its week and its property packed into one integer
# key: SQLite sorts every row of the eight weeks for a GROUP BY, and a single integer key sorts about twice as fast
# as three columns (measured at 1M orders). Durations are offset to stay positive (a negative one, a typing
# mistake, still counts) and may span +-950 years; property ids up to 9 million fit a signed 64-bit integer.
SPAN, OFFSET, WEEK_SLOTS = 10 ** 10, 5 * 10 ** 9, 100


def repair_times(pids: Sequence[int], at: datetime | None = None, weeks: int = WEEKS) -> dict:
    """{(measure, property_id, week monday): {50: minutes, 90: minutes, "n": count}} for receipt -> dispatch and
    receipt -> completion, durations to a tenth of a minute. One query: the orders of the weeks shown (received_at
    bounds them, its index finds them) are counted per property, week and duration; a running sum over those counts
    then picks each percentile by nearest rank (the first duration whose running count reaches p% of the week's
    orders, i.e. the value at position ceil(p * n) in the week's sorted durations). Only the picked values leave
    the database: a few rows per property and week."""
    at = at or now()
    first = at.date() - timedelta(days=at.weekday() + 7 * (weeks - 1))
    mondays = [datetime.combine(first + timedelta(weeks=i), datetime.min.time()) for i in range(weeks)]
    ro = RepairOrder
    week = weeks_from(ro.received_at, mondays[0])
    counts = []
    for measure, done in (("dispatch", ro.dispatched_at), ("completion", ro.completed_at)):
        key = ((cast(ro.property_id, BigInteger) * WEEK_SLOTS + week) * SPAN + tenths_between(ro.received_at, done)
               + OFFSET).label("k")
        counts.append(select(literal(measure).label("measure"), key, func.count().label("n"))
                      .where(ro.property_id.in_(pids), ro.received_at >= mondays[0], ro.received_at <= at,
                             done.is_not(None), _not_void(ro))
                      .group_by(literal_column("k")))  # by its name: the same expression, computed once
    c = union_all(*counts).subquery()
    part = (c.c.measure, c.c.k // SPAN)
    ranked = select(c.c.measure, (c.c.k // SPAN).label("part"), c.c.k,
                    func.sum(c.c.n).over(partition_by=part, order_by=c.c.k, rows=(None, 0)).label("run"),
                    func.sum(c.c.n).over(partition_by=part).label("total")).subquery()
    picks = [func.min(case((ranked.c.run * 100 >= ranked.c.total * p, ranked.c.k))) for p in PERCENTILES]
    out: dict = {}
    for measure, part, total, *keys in db.session.execute(
            select(ranked.c.measure, ranked.c.part, func.max(ranked.c.total), *picks)
            .group_by(ranked.c.measure, ranked.c.part)):
        pid, wk = divmod(int(part), WEEK_SLOTS)
        picked: dict = {"n": int(total)}
        for p, k in zip(PERCENTILES, keys, strict=True):
            picked[p] = (int(k) % SPAN - OFFSET) / 10
        out[(measure, pid, mondays[wk].date().isoformat())] = picked
    return out


def satisfaction(pids: Sequence[int], at: datetime | None = None, days: int = DAYS) -> dict:
    """{(property_id, level): count} of callbacks in the last `days` days."""
    at = at or now()
    rows = db.session.execute(
        select(Callback.property_id, Callback.satisfaction, func.count())
        .where(Callback.property_id.in_(pids), Callback.called_at >= at - timedelta(days=days),
               Callback.called_at <= at, _not_void(Callback))
        .group_by(Callback.property_id, Callback.satisfaction))
    return {(p, s): n for p, s, n in rows}


# ---------------------------------------------------------------- drawing
SCRIPT = re.compile(r"<script.*?</script>", re.S)


def _svg(chart: Any) -> Markup:
    """The chart's SVG without pygal's configuration script (no script is loaded: `js=()`)."""
    return Markup(SCRIPT.sub("", chart.render(is_unicode=True)))


def _chart(kind: Any, title: str, **kw: Any) -> Any:
    return kind(title=title, style=STYLE, js=(), disable_xml_declaration=True, width=760, height=360,
                legend_at_bottom=True, truncate_legend=-1, print_values=False, **kw)


TITLES = dict(intake=T("近30天登记量", "Intake, last 30 days"),
              overdue=T("各时限超时率(近30天, %)", "Overdue rate per deadline (last 30 days, %)"),
              times=T("报修：接报至派工/完工(分钟, 每周)", "Repairs: receipt to dispatch / completion (min, weekly)"),
              satisfaction=T("回访满意度(近30天)", "Callback satisfaction (last 30 days)"))
MEASURES = dict(dispatch=T("派工", "dispatch"), completion=T("完工", "completion"))


def draw_all(props: list[tuple[int, str]], at: datetime | None = None) -> dict[str, Markup]:
    """Every chart for these properties ((id, name)); one series per property when there are several."""
    at = at or now()
    pids = [p for p, _ in props]
    several = len(props) > 1
    labels = {m.__tablename__: str(m.__label__) for m in intake_registers()}
    charts: dict[str, Markup] = {}

    counts = intake(pids, at)
    if several:
        chart = _chart(pygal.Bar, str(TITLES["intake"]), x_label_rotation=30)
        names = sorted({r for r, _, _ in counts})
        chart.x_labels = [labels[r] for r in names]
        for pid, pname in props:
            chart.add(pname, [sum(n for (r, p, _), n in counts.items() if r == reg and p == pid) for reg in names])
    else:
        days = [(at.date() - timedelta(days=i)).isoformat() for i in range(DAYS - 1, -1, -1)]
        chart = _chart(pygal.Line, str(TITLES["intake"]), x_label_rotation=45, show_minor_x_labels=False)
        chart.x_labels = [d[5:] for d in days]
        chart.x_labels_major = chart.x_labels[::5]
        for reg in sorted({r for r, _, _ in counts}):
            chart.add(labels[reg], [counts.get((reg, pids[0], d), 0) for d in days])
    charts["intake"] = _svg(chart)

    rates = overdue_rate(pids, at)
    chart = _chart(pygal.Bar, str(TITLES["overdue"]), x_label_rotation=30, range=(0, 100))
    codes = [(m, d) for m, d in deadlines() if any(k[0] == d.code for k in rates)]
    chart.x_labels = [str(d.label) for _, d in codes]
    for pid, pname in props:
        values = []
        for _, d in codes:
            n, missed = rates.get((d.code, pid), (0, 0))
            values.append(round(100 * missed / n, 1) if n else None)
        chart.add(pname, values)
    charts["overdue"] = _svg(chart)

    times = repair_times(pids, at)
    first = at.date() - timedelta(days=at.weekday() + 7 * (WEEKS - 1))
    weeks = [(first + timedelta(weeks=i)).isoformat() for i in range(WEEKS)]
    chart = _chart(pygal.Line, str(TITLES["times"]), x_label_rotation=30)
    chart.x_labels = [w[5:] for w in weeks]
    for pid, pname in props:
        for measure in ("dispatch", "completion"):
            for p in PERCENTILES:
                name = f"{MEASURES[measure]} P{p}" + (f" · {pname}" if several else "")
                chart.add(name, [times.get((measure, pid, w), {}).get(p) for w in weeks])
    charts["times"] = _svg(chart)

    levels = satisfaction(pids, at)
    if several:
        chart = _chart(pygal.StackedBar, str(TITLES["satisfaction"]))
        chart.x_labels = [pname for _, pname in props]
        for code, label in SATISFACTION.items():
            chart.add(str(label), [levels.get((pid, code), 0) for pid, _ in props])
    else:
        chart = _chart(pygal.Pie, str(TITLES["satisfaction"]))
        for code, label in SATISFACTION.items():
            chart.add(str(label), levels.get((pids[0], code), 0))
    charts["satisfaction"] = _svg(chart)
    return charts
