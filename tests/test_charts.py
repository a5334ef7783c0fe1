"""Issue 17: the charts' numbers are SQL aggregates; checked against hand counts on small data (SQLite and
PostgreSQL), and the page draws them as SVG for the supervisor, the manager and, side by side, the regional."""
import re
from datetime import datetime, timedelta

from app.admin.charts import intake, overdue_rate, repair_times, satisfaction
from kernel.clock import now
from kernel.db import db
from models.desk import Callback, PhoneLog, RepairOrder
from tests.factories import make

AT = datetime(2026, 11, 25, 12, 0)  # a Wednesday
MONDAY = "2026-11-23"


def order(world, prop="a", **kw):
    unit = world.units[(prop.upper(), "1-1-101")]
    return make(RepairOrder, getattr(world, prop), unit_id=unit, **kw)


def test_intake_counts_per_register_and_day_without_voided_records(app, world):
    with app.app_context():
        order(world, created_at=AT - timedelta(hours=1))
        order(world, created_at=AT - timedelta(hours=2))
        order(world, created_at=AT - timedelta(days=1))
        order(world, created_at=AT - timedelta(hours=1), state="void")
        order(world, created_at=AT - timedelta(days=31))  # before the 30 days
        order(world, created_at=AT + timedelta(hours=1))  # after `at`
        make(PhoneLog, world.a, created_at=AT - timedelta(minutes=5))
        make(PhoneLog, world.b, created_at=AT - timedelta(minutes=5))
        db.session.commit()
        assert intake([world.a], AT) == {("repair_order", world.a, "2026-11-25"): 2,
                                         ("repair_order", world.a, "2026-11-24"): 1,
                                         ("phone_log", world.a, "2026-11-25"): 1}
        assert intake([world.a, world.b], AT)[("phone_log", world.b, "2026-11-25")] == 1


def test_overdue_rate_counts_started_and_missed_per_deadline(app, world):
    t0 = AT - timedelta(minutes=10)
    with app.app_context():
        order(world, received_at=t0, dispatched_at=t0 + timedelta(minutes=2), state="dispatched")  # in time
        order(world, received_at=t0, dispatched_at=t0 + timedelta(minutes=5), state="dispatched")  # late
        order(world, received_at=t0)                                  # still waiting, past due
        order(world, received_at=AT - timedelta(minutes=1))           # waiting, not yet due
        order(world, received_at=t0, state="void")                    # voided: counts for nothing
        order(world, "b", received_at=t0)                             # the other property
        db.session.commit()
        rates = overdue_rate([world.a, world.b], AT)
        assert rates[("repair.dispatch", world.a)] == (4, 2)
        assert rates[("repair.dispatch", world.b)] == (1, 1)
        assert ("repair.urgent_on_site", world.a) not in rates or rates[("repair.urgent_on_site", world.a)][0] == 0


def test_repair_times_median_and_p90_per_week_by_nearest_rank(app, world):
    start = datetime(2026, 11, 23, 9, 0)
    with app.app_context():
        for minutes in (20, 2, 10, 5):
            order(world, received_at=start, dispatched_at=start + timedelta(minutes=minutes), state="dispatched")
        for minutes in (60, 90, 30):
            order(world, received_at=start, dispatched_at=start + timedelta(minutes=1),
                  completed_at=start + timedelta(minutes=minutes), state="completed")
        order(world, received_at=start - timedelta(days=7), dispatched_at=start - timedelta(days=7, minutes=-4),
              state="dispatched")  # the week before
        db.session.commit()
        times = repair_times([world.a], AT)
    # dispatch: 1, 1, 1, 2, 5, 10, 20 -> median rank ceil(3.5) = 4 -> 2; p90 rank ceil(6.3) = 7 -> 20
    assert times[("dispatch", world.a, MONDAY)] == {"n": 7, 50: 2.0, 90: 20.0}
    # completion: 30, 60, 90 -> median rank 2 -> 60; p90 rank ceil(2.7) = 3 -> 90
    assert times[("completion", world.a, MONDAY)] == {"n": 3, 50: 60.0, 90: 90.0}
    assert times[("dispatch", world.a, "2026-11-16")] == {"n": 1, 50: 4.0, 90: 4.0}


def test_repair_times_pick_each_property_and_week_apart_to_the_nearest_tenth_of_a_minute(app, world):
    start = datetime(2026, 11, 24, 23, 59)  # a Tuesday: a week runs Monday to Sunday, whatever the hour
    with app.app_context():
        # property a: 2 min 33 s (2.55 -> 2.6, a half rounds up), 2 min 32 s (2.53 -> 2.5), 40 s (0.67 -> 0.7)
        for seconds in (153, 152, 40):
            order(world, received_at=start, dispatched_at=start + timedelta(seconds=seconds), state="dispatched")
        # property b, the same week, far slower: must not move a's percentiles (nor a's move b's)
        for minutes in (100, 200):
            order(world, "b", received_at=start, dispatched_at=start + timedelta(minutes=minutes), state="dispatched")
        # dispatched a minute before it was received (a typing mistake): it still counts, as -1.0, in its week
        sunday = datetime(2026, 11, 15, 23, 59)
        order(world, received_at=sunday, dispatched_at=sunday - timedelta(minutes=1), state="dispatched")
        order(world, received_at=start, dispatched_at=start + timedelta(minutes=1), state="void")  # voided
        # 15 s is 0.25 min: a half, rounded away from zero to 0.3 (SQLite's float noise in a day count, or
        # PostgreSQL's round() of a double, half to even, would make it 0.2)
        order(world, received_at=start - timedelta(days=7), dispatched_at=start - timedelta(days=7, seconds=-15),
              state="dispatched")
        db.session.commit()
        times = repair_times([world.a, world.b], AT)
    # a: 0.7, 2.5, 2.6 -> median rank 2 -> 2.5; p90 rank ceil(2.7) = 3 -> 2.6
    assert times[("dispatch", world.a, MONDAY)] == {"n": 3, 50: 2.5, 90: 2.6}
    assert times[("dispatch", world.b, MONDAY)] == {"n": 2, 50: 100.0, 90: 200.0}
    assert times[("dispatch", world.a, "2026-11-16")] == {"n": 1, 50: 0.3, 90: 0.3}
    assert times[("dispatch", world.a, "2026-11-09")] == {"n": 1, 50: -1.0, 90: -1.0}
    assert set(times) == {("dispatch", world.a, MONDAY), ("dispatch", world.b, MONDAY),
                          ("dispatch", world.a, "2026-11-16"), ("dispatch", world.a, "2026-11-09")}


def test_callback_satisfaction_per_property(app, world):
    with app.app_context():
        for level, prop in (("satisfied", "a"), ("satisfied", "a"), ("dissatisfied", "a"), ("neutral", "b")):
            make(Callback, getattr(world, prop), unit_id=world.units[(prop.upper(), "1-1-101")], satisfaction=level,
                 called_at=AT - timedelta(days=1))
        make(Callback, world.a, unit_id=world.units[("A", "1-1-101")], satisfaction="neutral",
             called_at=AT - timedelta(days=40))
        db.session.commit()
        assert satisfaction([world.a, world.b], AT) == {(world.a, "satisfied"): 2, (world.a, "dissatisfied"): 1,
                                                        (world.b, "neutral"): 1}


def test_the_charts_page_draws_svg_for_oversight_roles_and_side_by_side_for_regional(app, world, client_as):
    with app.app_context():
        order(world, received_at=now() - timedelta(minutes=30))
        order(world, "b", received_at=now() - timedelta(minutes=30))
        db.session.commit()
    for who in ("supervisor", "manager"):
        page = client_as(who).get("/admin/charts/").get_data(as_text=True)
        svgs = re.findall(r"<svg.*?</svg>", page, re.S)
        assert len(svgs) == 4 and "近30天登记量" in page and "报修单" in page
        assert not any("<script" in svg for svg in svgs)  # drawn on the server, no script (and so it prints)
        assert "云顶华庭" not in "".join(svgs)
    assert client_as("clerk").get("/admin/charts/").status_code == 403
    assert client_as("guard").get("/admin/charts/").status_code == 403
    regional = client_as("regional")
    regional.post("/property", {"property_id": "all"})
    svgs = "".join(re.findall(r"<svg.*?</svg>", regional.get("/admin/charts/").get_data(as_text=True), re.S))
    assert svgs.count("<svg") == 4 and "翠湖花园" in svgs and "云顶华庭" in svgs
