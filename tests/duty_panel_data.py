"""Duty records for the home page's duty panels (tests/test_duty_panels.py): every kind of line they show."""
from datetime import datetime, time, timedelta

from sqlalchemy import select

from kernel.clock import now, start_of, today
from kernel.db import db
from models.duty import DutyLog, DutyLogReading, Handover, QualityCheck, Roster
from models.master import Shift


def next_month():
    return (today().replace(day=1) + timedelta(days=32)).replace(day=1)


def fill(world, roster_state=None):
    """Handovers waiting and done, next month's roster (none, or in `roster_state`), spot, daily and random
    checks in and out of the week, duty-log days read and unread, escalations late, waiting and handled; the
    second property gets its own so that nothing of it shows at the first."""
    users, at = world.users, now()
    for pid, tag in ((world.a, "A"), (world.b, "B")):
        shift = {s.code: s for s in db.session.scalars(select(Shift).where(Shift.property_id == pid))}
        for i, (state, code) in enumerate((("open", "early"), ("outgoing_signed", "late"), ("locked", "middle"),
                                           ("void", "early"), ("open", "middle"))):
            db.session.add(Handover(property_id=pid, number=f"JJ-{tag}-{i}", state=state, day=today(),
                                    to_shift_id=shift[code].id))
        if roster_state is not None:
            db.session.add(Roster(property_id=pid, month=next_month(), state=roster_state,
                                  submitted_at=at if roster_state != "draft" else None))
        inspectors = (("supervisor", "supervisor_spot", 0), ("supervisor", "supervisor_spot", 1),
                      ("supervisor2", "supervisor_spot", 0), ("supervisor2", "supervisor_spot", 9),
                      ("supervisor", "supervisor_spot", 0, "void"), ("cs_admin", "admin_daily", 0),
                      ("cs_admin", "admin_daily", 2), ("manager", "manager_random", 0),
                      ("manager", "supervisor_spot", 0), ("supervisor_b", "supervisor_spot", 0))
        for who, kind, days_ago, *state in inspectors:
            db.session.add(QualityCheck(property_id=pid, kind=kind, inspector_id=users[who],
                                        staff_checked_id=users["clerk"], checked_at=at - timedelta(days=days_ago),
                                        state=state[0] if state else "active"))
        logs = ((1, None, "normal", None), (1, "supervisor", "urgent", 120), (3, "manager", "normal", 3000),
                (6, "cs_admin", "urgent", 5), (0, "supervisor", "urgent", 10), (8, None, "normal", None),
                (2, "manager", "high", None), (0, "supervisor", "normal", 61))
        for i, (days_ago, to, priority, minutes) in enumerate(logs):
            day = today() - timedelta(days=days_ago)
            logged = datetime.combine(day, time(9, 30)) if days_ago else at
            db.session.add(DutyLog(
                property_id=pid, number=f"ZB-{tag}-{i}", logged_at=logged, content=f"事项{tag}{i} " + "很长" * 30,
                priority=priority, escalation=to or "self", escalated_to=to,
                escalated_at=at - timedelta(minutes=minutes) if minutes else None,
                escalation_handled_at=at if to and minutes is None else None, state="active"))
        db.session.add(DutyLog(property_id=pid, number=f"ZB-{tag}-void", logged_at=start_of(today()) -
                               timedelta(days=4), content="作废", escalation="supervisor", escalated_to="supervisor",
                               escalated_at=at, state="void"))
        db.session.add(DutyLogReading(property_id=pid, day=today() - timedelta(days=3),
                                      read_by_id=users["supervisor" if tag == "A" else "supervisor_b"]))
    db.session.commit()
