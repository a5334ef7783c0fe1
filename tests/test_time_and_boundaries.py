"""Time and boundaries, Python and SQL agreeing: numbering across days, the exact second of a deadline, same-day
deadlines, and the overdue column against the overdue filter on a grid of state x elapsed time."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from kernel.clock import start_of, travel_to
from kernel.db import db
from kernel.deadlines import deadline_clause, declared, due_at, late_params, overdue_clause, overdue_for
from kernel.numbering import NumberSequence, next_value
from models.desk import RepairOrder
from tests.factories import make


def at_clock(when: datetime):
    travel_to(when)


def test_numbering_restarts_each_day_and_across_midnight(app, world):
    with app.app_context():
        at_clock(datetime(2026, 11, 27, 23, 59, 58))
        a1 = make(RepairOrder, world.a)
        a2 = make(RepairOrder, world.a)
        b1 = make(RepairOrder, world.b)
        at_clock(datetime(2026, 11, 28, 0, 0, 1))
        a3 = make(RepairOrder, world.a)
        a4 = make(RepairOrder, world.a)
        assert [a1.number, a2.number, b1.number] == ["A-BX-20261127-0001", "A-BX-20261127-0002",
                                                     "B-BX-20261127-0001"]
        assert [a3.number, a4.number] == ["A-BX-20261128-0001", "A-BX-20261128-0002"]
        given = make(RepairOrder, world.a, number="MANUAL-1")
        assert given.number == "MANUAL-1"  # a number already set is kept
        conn = db.session.connection()
        assert next_value(conn, world.a, "ZZ", datetime(2026, 1, 1).date()) == 1
        assert next_value(conn, world.a, "ZZ", datetime(2026, 1, 1).date()) == 2
        assert next_value(conn, world.b, "ZZ", datetime(2026, 1, 1).date()) == 1
        assert next_value(conn, world.a, "ZY", datetime(2026, 1, 1).date()) == 1
        assert next_value(conn, world.a, "ZZ", datetime(2026, 1, 2).date()) == 1
        day = datetime(2026, 1, 1).date()
        assert db.session.scalar(select(NumberSequence.last).where(
            NumberSequence.prefix == "ZZ", NumberSequence.property_id == world.a, NumberSequence.day == day)) == 2
        db.session.rollback()


def late_ids(at):
    found = set(db.session.scalars(select(RepairOrder.id).where(overdue_clause(RepairOrder, at))))
    # the same clause kept with its times as parameters (the home page's statements) finds the same records
    bound = set(db.session.scalars(select(RepairOrder.id).where(overdue_clause(RepairOrder, bound=True)),
                                   late_params(RepairOrder, at)))
    assert bound == found, at
    return found


def test_the_exact_second_of_a_deadline(app, world):
    with app.app_context():
        t0 = datetime(2026, 11, 28, 9, 0, 0)
        o = make(RepairOrder, world.a, received_at=t0)
        d = declared("repair.dispatch")
        assert due_at(d, t0) == t0 + timedelta(minutes=3)
        on_time, late = t0 + timedelta(minutes=3), t0 + timedelta(minutes=3, seconds=1)
        assert overdue_for(o, on_time) == [] and o.id not in late_ids(on_time)
        assert overdue_for(o, late) == [d] and o.id in late_ids(late)
        o.dispatched_at = late
        db.session.flush()
        assert overdue_for(o, late + timedelta(hours=1)) == [] and o.id not in late_ids(late + timedelta(hours=1))


def test_same_day_deadline_ends_at_midnight(app, world):
    with app.app_context():
        done = datetime(2026, 11, 28, 23, 59, 59)
        o = make(RepairOrder, world.a, received_at=done - timedelta(hours=1), dispatched_at=done,
                 on_site_at=done, completed_at=done, state="completed")
        d = declared("repair.callback")
        midnight = start_of(done.date()) + timedelta(days=1)
        assert due_at(d, done) == midnight
        assert d not in overdue_for(o, midnight) and o.id not in late_ids(midnight)
        past = midnight + timedelta(seconds=1)
        assert d in overdue_for(o, past) and o.id in late_ids(past)
        early = make(RepairOrder, world.a, received_at=datetime(2026, 11, 28, 0, 0), state="completed",
                     dispatched_at=datetime(2026, 11, 28, 0, 0), completed_at=datetime(2026, 11, 28, 0, 0, 0))
        assert early.id not in late_ids(midnight) and early.id in late_ids(midnight + timedelta(seconds=1))


GRID_STATES = ["registered", "dispatched", "on_site", "completed", "visited", "closed", "cancelled", "void"]
GRID_ELAPSED = [timedelta(0), timedelta(minutes=2, seconds=59), timedelta(minutes=3), timedelta(minutes=3, seconds=1),
                timedelta(minutes=15), timedelta(minutes=15, seconds=1), timedelta(hours=13), timedelta(days=1),
                timedelta(days=1, seconds=1), timedelta(days=3)]


@pytest.mark.parametrize("urgent", [False, True])
def test_overdue_column_and_filter_agree_on_a_grid(app, world, urgent):
    with app.app_context():
        start = datetime(2026, 11, 28, 11, 0, 0)
        orders = []
        for state in GRID_STATES:
            filled = dict(dispatched_at=None, on_site_at=None, completed_at=None)
            if state in ("completed",):
                filled["completed_at"] = start
            orders.append(make(RepairOrder, world.a, received_at=start, state=state, urgent=urgent, **filled))
        db.session.flush()
        seen_late = 0
        for elapsed in GRID_ELAPSED:
            at = start + elapsed
            sql = late_ids(at)
            for o in orders:
                py = bool(overdue_for(o, at))
                assert py == (o.id in sql), (o.state, elapsed, urgent)
                for d in RepairOrder.deadlines:
                    one = set(db.session.scalars(select(RepairOrder.id).where(deadline_clause(RepairOrder, d, at))))
                    assert (d in overdue_for(o, at)) == (o.id in one), (o.state, elapsed, d.code)
                seen_late += py
            assert {o.id for o in orders if o.state in ("visited", "closed", "cancelled", "void")} & sql == set()
        assert seen_late > 0
        assert overdue_for(orders[0], start + timedelta(minutes=4)) == [declared("repair.dispatch")]
        assert bool(overdue_for(orders[0], start + timedelta(minutes=16))) is True
        assert (declared("repair.urgent_on_site") in overdue_for(orders[0], start + timedelta(minutes=16))) is urgent


def test_a_register_without_deadlines_is_never_late(app, world):
    from models.master import Unit
    with app.app_context():
        assert db.session.scalar(select(Unit.id).where(overdue_clause(Unit))) is None
        assert overdue_for(db.session.get(Unit, world.units[("A", "1-1-101")])) == []


def test_edge_of_the_calendar_never_raises(app, world):
    with app.app_context():
        d = declared("repair.dispatch")
        assert due_at(d, datetime.max - timedelta(minutes=1)) == datetime.max
        assert due_at(declared("repair.callback"), datetime(9999, 12, 31, 12)) == datetime.max
        assert db.session.scalars(select(RepairOrder.id).where(overdue_clause(RepairOrder, datetime.min))).all() == []
        str(deadline_clause(RepairOrder, declared("repair.callback"), datetime(1, 1, 1, 0, 1)))
