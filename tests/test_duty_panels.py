"""Issue 14: the home page's duty panels (admin_views/duty.py: 待我处理的上报 and 值班) read what they show in
one statement kept per roles. They must show exactly what the query-per-line code did: `reference_*` below is
that code as it was, run in the same request next to the new one for each role, property and roster state."""
import re
from datetime import date, timedelta

import pytest
from flask import url_for
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select

import admin_views.duty as duty
from kernel import scoping
from kernel.clock import now, start_of, today, travel
from kernel.db import db
from kernel.deadlines import overdue_for
from kernel.display import Display
from kernel.identity import Membership, Role, StaffUser
from models.duty import DutyLog, DutyLogReading, Handover, QualityCheck, Roster, roster_due
from tests import duty_panel_data


def reference_escalation_panel(dashboard):
    pid, roles = scoping.current_property_id(), scoping.current_roles()
    mine = sorted(roles & {"cs_admin", "supervisor", "manager"})
    if pid is None or not mine:
        return None
    rows = db.session.scalars(select(DutyLog).where(
        DutyLog.property_id == pid, DutyLog.escalated_to.in_(mine), DutyLog.escalation_handled_at.is_(None),
        DutyLog.state != "void").order_by(DutyLog.escalated_at, DutyLog.id).limit(50)).all()
    lines = []
    at = now()
    show = Display(DutyLog, roles, db.session)
    for r in rows:
        late = overdue_for(r, at)
        badge = Markup(' <span class="badge badge-danger">{}</span>').format(gettext("超时")) if late else ""
        lines.append(Markup(
            '<a class="fd-escalation" href="{}">{}</a> {} · <span class="fd-data">{}</span> · {}{}').format(
            url_for("duty_log.details_view", id=r.id), r.number, show.value("priority")(r.priority),
            r.content[:40], duty.waited_text(int((at - r.escalated_at).total_seconds() // 60)), badge))
    if not lines:
        lines.append(gettext("没有待我处理的上报"))
    return reference_panel(gettext("待我处理的上报"), lines)


def reference_panel(title, lines):
    return dict(title=title, body=Markup("<br>".join(
        str(escape(str(line))) if not isinstance(line, Markup) else line for line in lines)))


def reference_checks_this_week(pid, kind, since):
    return dict(db.session.execute(select(QualityCheck.inspector_id, func.count()).where(
        QualityCheck.property_id == pid, QualityCheck.kind == kind, QualityCheck.checked_at >= since,
        QualityCheck.state != "void").group_by(QualityCheck.inspector_id)).all())


def reference_check_lines(pid, roles):
    week_start = start_of(today() - timedelta(days=today().weekday()))
    spots = reference_checks_this_week(pid, "supervisor_spot", week_start)
    lines = []
    if "supervisor" in roles:
        mine = spots.get(current_user.id, 0)
        lines.append(Markup('<span id="fd-spot-checks" class="{}">{}</span>').format(
            "text-danger" if mine < 3 else "text-success", gettext("本周主管抽查: %(n)d/3", n=mine)))
    else:
        supervisors = db.session.scalars(
            select(StaffUser).join(Membership, Membership.user_id == StaffUser.id).join(Role)
            .where(Membership.property_id == pid, Role.code == "supervisor", StaffUser.active)
            .distinct().order_by(StaffUser.id)).all()
        each = Markup(", ").join(Markup('<span class="fd-data">{}</span> {}/3').format(
            s.full_name, spots.get(s.id, 0)) for s in supervisors)
        lines.append(Markup('<span id="fd-spot-checks">{}</span>').format(
            escape(gettext("本周主管抽查: %(each)s", each="{}")).format(each or "—")))
    if "cs_admin" in roles:
        daily = reference_checks_this_week(pid, "admin_daily", start_of(today())).get(current_user.id, 0)
        lines.append(Markup('<span id="fd-daily-checks">{}</span>').format(
            gettext("今日本人交接班检查: %(n)d", n=daily)))
    if "manager" in roles:
        random = reference_checks_this_week(pid, "manager_random", week_start).get(current_user.id, 0)
        lines.append(Markup('<span id="fd-manager-checks">{}</span>').format(
            gettext("本周本人经理抽查: %(n)d", n=random)))
    return lines


def reference_duty_panels(dashboard):
    pid, roles = scoping.current_property_id(), scoping.current_roles()
    if pid is None or not roles & {"clerk", "cs_admin", "supervisor", "manager"}:
        return None
    lines = []
    waiting = db.session.scalars(select(Handover).where(Handover.property_id == pid,
                                                       Handover.state.in_(("open", "outgoing_signed")))).all()
    for h in waiting:
        badge = gettext("待交接")
        lines.append(Markup('<span class="badge badge-warning" id="fd-awaiting-handover">{}</span> {} {} · {}').format(
            badge, h.number, h.to_shift, h.states[h.state]))
    if not waiting:
        lines.append(gettext("前台无待交接班"))
    first = today().replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    roster = db.session.scalar(select(Roster).where(Roster.property_id == pid, Roster.month == next_month))
    due = roster_due(next_month)
    if roster is None or roster.submitted_at is None:
        late = now() > due
        text = gettext("下月排班表 %(month)s：未提交，期限 %(due)s", month=next_month.strftime("%Y-%m"),
                       due=due.strftime("%m-%d"))
        css = "text-danger font-weight-bold" if late else ""
        lines.append(Markup('<span class="{}" id="fd-roster-due">{}</span>').format(css, text))
    else:
        lines.append(gettext("下月排班表 %(month)s：%(state)s", month=next_month.strftime("%Y-%m"),
                             state=roster.state_label))
    lines += reference_check_lines(pid, roles)
    since = today() - timedelta(days=7)
    days = set(db.session.scalars(select(func.date(DutyLog.logged_at)).where(
        DutyLog.property_id == pid, DutyLog.logged_at >= start_of(since), DutyLog.logged_at < start_of(today()))
        .distinct()))
    days = {d if isinstance(d, date) else date.fromisoformat(str(d)) for d in days}
    read = set(db.session.scalars(select(DutyLogReading.day).where(DutyLogReading.property_id == pid,
                                                                   DutyLogReading.day >= since)))
    unread = sorted(days - read)
    text = gettext("值班记录未查阅天数: %(n)d", n=len(unread))
    links = Markup(", ").join(Markup('<a href="{}">{}</a>').format(
        url_for("duty_log.day_view", day=d.isoformat()), d.isoformat()) for d in unread)
    days_text = Markup(" (") + links + Markup(")") if unread else ""
    lines.append(Markup('<span id="fd-unread-log">{}</span>{}').format(text, days_text))
    return reference_panel(gettext("值班"), lines)


def in_order(panel):
    """A panel's lines, those of the handovers waiting sorted: the query before named no order (the index's on
    SQLite, the table's on PostgreSQL); the panel now shows them by state, then oldest first."""
    if panel is None:
        return None
    lines = str(panel["body"]).split("<br>")
    waiting = [line for line in lines if 'id="fd-awaiting-handover"' in line]
    return sorted(waiting) + [line for line in lines if line not in waiting]


@pytest.fixture
def both(monkeypatch):
    """Each panel as the new code makes it and as the reference made it, in the same request."""
    seen = []
    for name, reference in (("escalation_panel", reference_escalation_panel),
                            ("duty_panels", reference_duty_panels)):
        def side_by_side(dashboard, _new=getattr(duty, name), _old=reference, _name=name):
            new = _new(dashboard)
            seen.append((_name, new, _old(dashboard)))
            return new
        monkeypatch.setattr(duty, name, side_by_side)
    return seen


def at_second(s=5):
    """The clock at second `s` of a minute, so that both runs see the same minutes waited."""
    travel(timedelta(0))
    travel(timedelta(seconds=(s - now().second) % 60))


USERS = ("clerk", "supervisor", "guard", "cs_admin", "manager", "supervisor2", "regional", "manager_ab", "clerk_b",
         "supervisor_b", "it")


@pytest.mark.parametrize("roster_state", [None, "draft", "submitted"])
def test_the_duty_panels_show_what_the_query_per_line_code_showed(app, world, client_as, both, roster_state):
    with app.app_context():
        duty_panel_data.fill(world, roster_state)
    shown = 0
    for username in USERS:
        c = client_as(username)
        for lang in ("zh_Hans_CN", "en"):
            c.get(f"/language/{lang}?next=/admin/")
            at_second()
            del both[:]
            page = c.get("/admin/").get_data(as_text=True)
            assert {name for name, _, _ in both} == {"escalation_panel", "duty_panels"}, username
            for name, new, old in both:
                lines = [in_order(p) for p in (new, old)]
                assert lines[0] == lines[1], (username, lang, name)
                assert new["title"] == old["title"] if new else old is None
                if new:
                    shown += 1
                    assert str(new["body"]) in page
    assert shown > 20  # most users see at least one of the panels


def test_the_panels_cover_every_kind_of_line(app, world, client_as, both):
    """The data of tests/duty_panel_data.py reaches every branch: late escalations, awaiting handovers, unread
    days, each role's check counts, the roster due."""
    with app.app_context():
        duty_panel_data.fill(world)
    at_second()
    page = client_as("cs_admin").get("/admin/").get_data(as_text=True)
    for needle in ('class="fd-escalation"', "badge-danger", 'id="fd-awaiting-handover"', 'id="fd-roster-due"',
                   'id="fd-spot-checks"', 'id="fd-daily-checks"', 'id="fd-unread-log"', "/admin/duty_log/day/"):
        assert needle in page, needle
    waiting = re.findall(r'id="fd-awaiting-handover">[^<]*</span> (JJ-A-\d)', page)
    assert waiting == ["JJ-A-0", "JJ-A-4", "JJ-A-1"]  # awaiting the outgoing, then the incoming; oldest first
    page = client_as("manager").get("/admin/").get_data(as_text=True)
    assert 'id="fd-manager-checks"' in page and "supervisor2" in page.split('id="fd-spot-checks"')[1][:400]
