"""Duty management (source 篇3, 篇4): roster, leave and swaps, duty log, handover, quality checks."""
from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, object_session, relationship

from kernel import audit, imports, scoping
from kernel.clock import now, today
from kernel.db import db
from kernel.deadlines import Deadline
from kernel.i18n import T
from kernel.notify import Tell
from kernel.permissions import ALL, DESK, ENTER, KEEP, READ, VIEW
from kernel.register import Numbered, PropertyScoped, Register, Tracked, field, link, own, registers
from kernel.workflow import Voidable, WorkflowError, fire, transition
from models.master import Shift


def roster_due(month: date) -> datetime:
    """Drafted before the 25th of the month before (source 4.1.1)."""
    prev = (month.replace(day=1) - timedelta(days=1)).replace(day=25)
    return datetime.combine(prev, time.min)


class Roster(Voidable, PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "roster"
    __label__ = T("排班表", "Rosters")
    grants = dict(cs_admin=KEEP + ("import",), supervisor=READ, manager=READ, clerk=VIEW)
    imported_on_its_screen = True  # the month's grid from a spreadsheet (RosterView.grid_import_view, grid_plan)
    void_roles = ("supervisor", "manager")
    states = {"draft": T("草稿", "Draft"), "submitted": T("已提交", "Submitted"),
              "reviewed": T("主管已审核", "Reviewed"), "filed": T("已报经理", "Filed")}
    initial_state = "draft"
    locked_states = ("filed",)
    month: Mapped[date] = field(T("月份(每月1日)", "Month (1st)"), Date, nullable=False)
    due_at: Mapped[datetime | None] = field(T("提交期限", "Due"), DateTime)
    submitted_at: Mapped[datetime | None] = field(T("提交时间", "Submitted at"), DateTime)
    note: Mapped[str | None] = field(T("备注", "Note"), Text)
    assignments = relationship("RosterAssignment", back_populates="roster", cascade="all, delete-orphan")
    # one roster per month and property, a voided one aside
    __table_args__ = (Index("uq_roster_property_month_in_force", "property_id", "month", unique=True,
                            sqlite_where=text("state != 'void'"), postgresql_where=text("state != 'void'")),)

    deadlines = (Deadline("roster.submit", T("上月25日前提交", "Submit by the 25th of the month before"), "due_at",
                          "submitted_at", minutes=0),)

    def __str__(self):
        return f"{self.month:%Y-%m}"

    def clean(self):
        if self.month:
            self.month = self.month.replace(day=1)
            self.due_at = roster_due(self.month)

    @property
    def submitted_late(self) -> bool:
        return bool(self.submitted_at and self.due_at and self.submitted_at > self.due_at)

    @transition(source="draft", target="submitted", roles=("cs_admin",), label=T("提交审核", "Submit"))
    def submit(self, ctx):
        self.submitted_at = now()

    @transition(
        source="submitted", target="reviewed", roles=("supervisor",), label=T("主管审核", "Review"), sign_off=True
    )
    def review(self, ctx):
        pass

    @transition(source="submitted", target="draft", roles=("supervisor",), label=T("退回修改", "Return"),
                comment_required=True, waits=False)
    def send_back(self, ctx):
        self.submitted_at = None

    @transition(source="reviewed", target="filed", roles=("manager",), label=T("经理收档", "File"), sign_off=True,
                distinct_from=("review",))
    def file(self, ctx):
        pass

    @transition(source="reviewed", target="draft", roles=(),
                label=T("审核后修改，退回草稿", "Changed after review: back to draft"),
                done=T("审核后有修改，已退回草稿，须重新审核", "Changed after review: back to draft for a new review"))
    def reopen(self, ctx):
        """System step: a roster changed after the supervisor's review needs a new review (篇3 4.1.1)."""
        self.submitted_at = None

    def on_edit(self, session, user):
        if self.state == "reviewed":
            fire(self, "reopen", user, (), session, comment="审核后修改排班", system=True)


REST = {"休", "-", "—", "/", "x", "休息", "off"}
WHO = {"用户名": "username", "username": "username", "姓名": "full_name", "name": "full_name", "人员": "full_name"}


@dataclass
class GridRow:
    line: int
    staff: object | None = None
    status: str = "unchanged"
    cells: dict = dc_field(default_factory=dict)     # day -> shift id or None, as the file says
    changes: list = dc_field(default_factory=list)   # (day, old shift, new shift)
    errors: list = dc_field(default_factory=list)


@dataclass
class GridPlan:
    rows: list
    counts: dict
    ignored: list

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr([(r.line, r.status, [(d.isoformat(), a, b) for d, a, b in r.changes])
                                    for r in self.rows]).encode()).hexdigest()


def _day_of(month: date, cell) -> date | None:
    """A header cell naming a day of the month: 1..31, "1日", "1号", or a date in that month."""
    if isinstance(cell, datetime):
        cell = cell.date()
    if isinstance(cell, date):
        return cell if (cell.year, cell.month) == (month.year, month.month) else None
    text_ = str(cell or "").removesuffix("日").removesuffix("号")
    if text_.isdigit() and 1 <= int(text_) <= calendar.monthrange(month.year, month.month)[1]:
        return month.replace(day=int(text_))
    return None


def grid_plan(roster, session, data: bytes, staff: list, shifts: list) -> GridPlan:
    """A month's grid from a spreadsheet (a person per row by username or name, a day per column, a shift per
    cell by code, name or its first character; blank or 休 = no shift) against the roster as it is."""
    def is_header(cells):
        return any(imports.header_key(c) in WHO for c in cells if c is not None)

    _, head, body = imports.read_grid(data, is_header)
    who = {i: WHO[imports.header_key(c)] for i, c in enumerate(head) if c is not None and imports.header_key(c) in WHO}
    key_col = next((i for i, k in who.items() if k == "username"), None)
    if key_col is None:
        key_col = next(iter(who))
    days = {i: _day_of(roster.month, c) for i, c in enumerate(head)}
    days = {i: d for i, d in days.items() if d is not None}
    if not days:
        raise imports.ImportRefused(
            T("表头中没有日期列（1、2、3…或 1日、2日…）", "No day columns in the header (1, 2, 3…)")
        )
    ignored = [str(c) for i, c in enumerate(head) if c is not None and i not in days and i not in who]
    by_key = {}
    for s in staff:
        by_key.setdefault(("username", s.username), s)
        by_key[("full_name", s.full_name)] = s if ("full_name", s.full_name) not in by_key else None  # ambiguous
    by_shift = {}
    for sh in shifts:
        for alias in (sh.code, sh.name, sh.name[:1]):
            by_shift.setdefault(imports.header_key(alias), sh.id)
    current = {}
    for a in roster.assignments:
        current[(a.staff_id, a.day)] = a.shift_id
    names = {sh.id: sh.name for sh in shifts}
    seen, rows = {}, []
    for line, cells, errors in body:
        row = GridRow(line, errors=list(errors))
        value = cells[key_col] if key_col < len(cells) else None
        person = by_key.get((who[key_col], str(value))) if value is not None else None
        if person is None:
            row.errors.append(f"“{str(value or '')[:20]}”不是本项目的前台值班人员" if value is not None else "缺少人员")
        elif person.id in seen:
            row.errors.append(f"与第 {seen[person.id]} 行是同一人")
        else:
            seen[person.id] = line
            row.staff = person
        for i, day in days.items():
            raw = cells[i] if i < len(cells) else None
            if raw is None or imports.header_key(raw) in REST:
                row.cells[day] = None
                continue
            sid = by_shift.get(imports.header_key(raw))
            if sid is None:
                row.errors.append(f"{day.day}日：“{str(raw)[:10]}”不是班次（{'、'.join(names.values())}）")
            else:
                row.cells[day] = sid
        if row.errors:
            row.status = "error"
        else:
            row.changes = [(d, current.get((person.id, d)), v) for d, v in sorted(row.cells.items())
                           if current.get((person.id, d)) != v]
            had = any(current.get((person.id, d)) for d in days.values())
            row.status = "unchanged" if not row.changes else ("changed" if had else "new")
        rows.append(row)
    counts = {k: 0 for k in imports.STATUS}
    for r in rows:
        counts[r.status] += 1
    return GridPlan(rows, counts, ignored)


def apply_grid(roster, session, plan: GridPlan, filename: str, sha256: str, user) -> None:
    """Write a grid plan without errors (the caller commits): cells added, changed or emptied, audited as an import."""
    if plan.counts["error"]:
        raise ValueError("a plan with errors is never applied")
    cells = {(a.staff_id, a.day): a for a in roster.assignments}
    with audit.acting("import"):
        roster.on_edit(session, user)  # changed after the review: back to draft, as the grid screen does
        for r in plan.rows:
            for day, _, new in r.changes:
                cell = cells.get((r.staff.id, day))
                if new is None and cell is not None:
                    session.delete(cell)
                elif new is not None and cell is None:
                    session.add(RosterAssignment(roster_id=roster.id, property_id=roster.property_id,
                                                 staff_id=r.staff.id, day=day, shift_id=new))
                elif cell is not None:
                    cell.shift_id = new
        session.flush()
    audit.record_bulk(session, "roster", "import_file", [(roster.id, roster.property_id, {
        "file": (None, filename[:200]), "sha256": (None, sha256),
        **{k: (None, v) for k, v in plan.counts.items() if k != "error"}})])


class RosterAssignment(PropertyScoped, Register, db.Model):
    __tablename__ = "roster_assignment"
    __label__ = T("排班明细", "Roster assignments")
    id: Mapped[int] = field(T("编号", "Id"), Integer, primary_key=True)
    roster_id: Mapped[int] = field(
        T("排班表", "Roster"), ForeignKey("roster.id", ondelete="CASCADE"), nullable=False, index=True
    )
    roster = relationship("Roster", back_populates="assignments")
    staff_id: Mapped[int] = field(T("值班人员", "Staff"), ForeignKey("staff_user.id"), nullable=False,
                                 staff_roles=DESK)
    staff = link("StaffUser", T("值班人员", "Staff"))
    day: Mapped[date] = field(T("日期", "Day"), Date, nullable=False, index=True)
    shift_id: Mapped[int] = field(T("班次", "Shift"), ForeignKey("shift.id"), nullable=False)
    shift = link("Shift", T("班次", "Shift"))
    __table_args__ = (UniqueConstraint("roster_id", "staff_id", "day"),)

    @classmethod
    def on_duty(cls, session, property_id, day, shift_id):
        return set(session.scalars(select(cls.staff_id).where(cls.property_id == property_id, cls.day == day,
                                                              cls.shift_id == shift_id)))


LEAVE_KIND = {"leave": T("请假", "Leave"), "day_off": T("调休", "Day off"), "swap": T("换班", "Shift swap")}


class LeaveRequest(Voidable, Numbered, PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "leave_request"
    __label__ = T("调休/请假/换班", "Leave and swaps")
    open_states = ("submitted",)
    grants = dict(clerk=ENTER, cs_admin=ENTER, supervisor=READ, manager=READ)
    # Colleagues' reasons are health data: the desk sees and edits its own requests; the supervisor approves all.
    visible_rows = dict(clerk=own("staff_id"), cs_admin=own("staff_id"))
    void_roles = ("supervisor",)
    number_prefix = "TX"
    states = {
        "submitted": T("已提交", "Submitted"),
        "approved": T("已批准", "Approved"),
        "rejected": T("已驳回", "Rejected"),
    }
    initial_state = "submitted"
    locked_states = ("approved", "rejected")
    staff_id: Mapped[int] = field(T("申请人", "Staff"), ForeignKey("staff_user.id"), nullable=False,
                                 staff_roles=DESK)
    staff = link("StaffUser", T("申请人", "Staff"), foreign_keys=[staff_id])
    kind: Mapped[str] = field(T("类别", "Kind"), String(10), nullable=False, default="leave", choices=LEAVE_KIND)
    day: Mapped[date] = field(T("日期", "Day"), Date, nullable=False)
    swap_with_id: Mapped[int | None] = field(T("换班对象", "Swap with"), ForeignKey("staff_user.id"),
                                              staff_roles=DESK)
    swap_with = link("StaffUser", T("换班对象", "Swap with"), foreign_keys=[swap_with_id])
    substitute_id: Mapped[int | None] = field(T("替班人(主管指定)", "Substitute (named by supervisor)"),
                                                ForeignKey("staff_user.id"), staff_roles=DESK)
    substitute = link(
        "StaffUser", T("替班人(主管指定)", "Substitute (named by supervisor)"), foreign_keys=[substitute_id]
    )
    reason: Mapped[str] = field(T("事由", "Reason"), Text, nullable=False)

    def clean(self):
        if self.day and self.day <= today():
            return {"day": T("须至少提前一天申请", "Apply at least one day ahead")}
        if self.kind == "swap":
            if self.swap_with is None:
                return {"swap_with": T("换班须选择换班对象", "Choose whom to swap with")}
            if self.swap_with_id == self.staff_id or self.swap_with is self.staff:
                return {"swap_with": T("不能与自己换班", "You cannot swap with yourself")}

    @transition(source="submitted", target="approved", roles=("supervisor",), label=T("批准并安排替班", "Approve"),
                sign_off=True, fields=("substitute",))
    def approve(self, ctx):
        """The roster follows the approval (source 4.2.6): the substitute takes the shift, or the two swap."""
        if self.kind == "swap" and self.substitute is None:
            self.substitute = self.swap_with
        if self.substitute is None:
            raise WorkflowError(T("请指定替班人", "Name the substitute"))
        if self.substitute_id == self.staff_id or self.substitute is self.staff:
            raise WorkflowError(T("替班人不能是申请人本人", "The substitute cannot be the applicant"))
        A = RosterAssignment
        mine = ctx.session.scalars(select(A).where(A.property_id == self.property_id, A.day == self.day,
                                                   A.staff_id == self.staff_id)).all()
        theirs = ctx.session.scalars(select(A).where(A.property_id == self.property_id, A.day == self.day,
                                                     A.staff_id == self.substitute.id)).all()
        if self.kind == "swap" and mine and theirs:
            mine[0].shift_id, theirs[0].shift_id = theirs[0].shift_id, mine[0].shift_id
            return
        if theirs:
            raise WorkflowError(
                T("替班人当天已有排班，请改为换班", "The substitute is already rostered that day; make it a swap")
            )
        for a in mine:
            a.staff_id = self.substitute.id

    @transition(source="submitted", target="rejected", roles=("supervisor",), label=T("驳回", "Reject"), sign_off=True,
                comment_required=True, waits=False, destructive=True)
    def reject(self, ctx):
        pass


class AttendanceException(Voidable, PropertyScoped, Tracked, Register, db.Model):
    """Disciplinary evidence (篇3 4.2.7): kept, never deleted; nobody edits a record about themself."""

    __tablename__ = "attendance_exception"
    summary_date = "day"
    __label__ = T("逾时接班/不接班", "Late or missed takeovers")
    grants = dict(cs_admin=KEEP, supervisor=KEEP, manager=READ)
    not_edited_by = ("staff_id",)
    void_roles = ("manager",)
    staff_id: Mapped[int] = field(T("值班人员", "Staff"), ForeignKey("staff_user.id"), nullable=False,
                                 staff_roles=DESK)
    staff = link("StaffUser", T("值班人员", "Staff"), foreign_keys=[staff_id])
    day: Mapped[date] = field(T("日期", "Day"), Date, nullable=False, index=True)
    shift_id: Mapped[int | None] = field(T("班次", "Shift"), ForeignKey("shift.id"))
    shift = link("Shift", T("班次", "Shift"))
    kind: Mapped[str] = field(
        T("类别", "Kind"),
        String(12),
        nullable=False,
        default="late",
        choices={"late": T("逾时接班", "Late takeover"), "missed": T("不接班", "Missed takeover")},
    )
    minutes_late: Mapped[int | None] = field(T("迟到分钟", "Minutes late"), Integer, validators=["non_negative"])
    automatic: Mapped[bool] = field(T("系统自动记录", "Recorded automatically"), Boolean, default=False, nullable=False)
    handling: Mapped[str | None] = field(T("处理", "Handling"), Text)

    def __str__(self):
        kind = self.__table__.c.kind.info["choices"].get(self.kind, self.kind)
        return f"{self.day} {self.staff.full_name if self.staff else ''} {kind}".strip()


PRIORITY = {
    "urgent": T("紧急", "Urgent"),
    "high": T("高", "High"),
    "normal": T("普通", "Normal"),
    "low": T("低", "Low"),
}
ESCALATION = {"self": T("本人处理", "Handled myself"), "cs_admin": T("上报客服管理员", "To CS admin"),
              "supervisor": T("上报客服主管", "To supervisor"), "manager": T("上报经理", "To manager")}
FOLLOW_UP = {"open": T("待跟进", "Open"), "following": T("跟进中", "Following up"), "done": T("已完成", "Done")}


class DutyLog(Voidable, Numbered, PropertyScoped, Tracked, Register, db.Model):
    """Internal and confidential (source 4.2.4): no guard access, no export by clerks.

    What was recorded is not rewritten after the shift (4.2.2: 客观反映): later edits add handling and follow-up
    to an open entry only.
    """

    __tablename__ = "duty_log"
    __label__ = T("值班记录", "Duty log")
    grants = dict(clerk=ENTER, cs_admin=KEEP, supervisor=READ + ("mark_read",), manager=READ)
    number_prefix = "ZB"
    summary_date = "logged_at"
    logged_at: Mapped[datetime] = field(T("时间", "At"), DateTime, default=now, nullable=False, index=True)
    source: Mapped[str] = field(T("信息来源", "Source"), String(12), nullable=False, default="phone",
                                choices={"phone": T("电话", "Phone"), "walk_in": T("来访", "Walk-in"),
                                         "patrol": T("巡查", "Patrol"), "internal": T("内部", "Internal"),
                                         "other": T("其他", "Other")})
    content: Mapped[str] = field(T("内容", "Content"), Text, nullable=False)
    priority: Mapped[str] = field(
        T("轻重缓急", "Priority"), String(8), nullable=False, default="normal", choices=PRIORITY
    )
    handling: Mapped[str | None] = field(T("处理情况", "Handling"), Text)
    escalation: Mapped[str] = field(
        T("上报", "Escalation"), String(12), nullable=False, default="self", choices=ESCALATION
    )
    follow_up: Mapped[str] = field(
        T("跟进状态", "Follow-up"), String(10), nullable=False, default="open", choices=FOLLOW_UP, index=True
    )
    # 4.2.3: an escalated entry waits on the home page of whoever holds the role it names until they mark it handled
    escalated_to: Mapped[str | None] = field(T("已上报至", "Escalated to"), String(12), choices=ESCALATION)
    escalated_at: Mapped[datetime | None] = field(T("上报时间", "Escalated at"), DateTime, index=True)
    escalation_handled_at: Mapped[datetime | None] = field(T("上报已处理时间", "Escalation handled at"), DateTime)
    escalation_handled_by_id: Mapped[int | None] = field(T("上报处理人", "Escalation handled by"),
                                                         ForeignKey("staff_user.id"))
    escalation_handled_by = link("StaffUser", T("上报处理人", "Escalation handled by"),
                                 foreign_keys=[escalation_handled_by_id])

    RECORDED = ("logged_at", "source", "content", "priority", "escalation")
    # 4.2.3: what is beyond the clerk goes to the role the entry names, in that role's inbox at once
    tells = {"change:escalation": (Tell(role_field="escalation", skip=("self",), urgent=True),),
             "overdue:duty_log.urgent_escalation": (Tell(role_field="escalation", skip=("self",), urgent=True),)}
    # an urgent escalation is late after the minutes IT sets (时限设置); the others wait, shown with their age
    deadlines = (Deadline("duty_log.urgent_escalation", T("紧急上报须及时处理", "Urgent escalation handled in time"),
                          "escalated_at", "escalation_handled_at", minutes=30,
                          when=lambda m: m.priority == "urgent", applies=lambda r: r.priority == "urgent"),)

    def logged_clock(self):
        """An entry is not logged in the future (the server's clock, issue 12 rule 2)."""
        if self.logged_at and self.logged_at > now():
            return {"logged_at": T("记录时间不能晚于当前时间", "The time cannot be in the future")}
        return None

    def clean(self):
        return self.logged_clock()

    def escalate(self):
        """Escalated (again, or higher): the wait starts now and the entry is open to the role it names."""
        if self.escalation != "self" and self.escalation != self.escalated_to:
            self.escalated_to, self.escalated_at = self.escalation, now()
            self.escalation_handled_at, self.escalation_handled_by_id = None, None

    def on_create(self, session):
        self.escalate()

    def on_edit(self, session, user):
        self.escalate()

    @transition(source=("active",), target=None, roles=("cs_admin", "supervisor", "manager"),
                label=T("上报已处理", "Escalation handled"), fields=("handling",), requires=("handling",),
                conditions=(lambda r: None if r.escalated_to and r.escalation_handled_at is None else T(
                    "这条记录没有待处理的上报", "This entry has no escalation waiting"),))
    def handle_escalation(self, ctx):
        """Only whoever holds the role the entry was escalated to marks it handled (4.2.3)."""
        if self.escalated_to not in scoping.roles_at(self.property_id):
            raise WorkflowError(T(f"这条记录上报给“{ESCALATION[self.escalated_to].zh}”，请由其处理",
                                  f"Escalated to “{ESCALATION[self.escalated_to].en}”: they handle it"))
        self.escalation_handled_at = now()
        self.escalation_handled_by_id = ctx.user.id

    def shift_over(self) -> bool:
        """The shift the entry was written in has ended (the latest shift running at that time; else the day)."""
        at = self.created_at or now()
        session = object_session(self)
        ends = [s.ends_at for s in session.scalars(select(Shift).where(Shift.property_id == self.property_id))
                if s.starts_at <= at.time() < s.ends_at] if session is not None else []
        if not ends:
            return now() >= datetime.combine(at.date() + timedelta(days=1), time.min)
        return now() >= datetime.combine(at.date(), max(ends))

    def refuse_change(self, changed: dict) -> dict | None:
        if changed.get("follow_up", (self.follow_up,))[0] == "done":
            return {"follow_up": T("已完成跟进的值班记录不能再修改", "A finished entry is not changed any more")}
        rewritten = [k for k in self.RECORDED if k in changed]
        if rewritten and self.shift_over():
            return {rewritten[0]: T("交班后不能改写值班记录，只能补充处理情况和跟进状态",
                                    "After the shift an entry is not rewritten: add handling and follow-up only")}
        return None


class DutyLogReading(PropertyScoped, Register, db.Model):
    """The supervisor reads each day's log (source 4.2.5); a day without a row shows as unread."""

    __tablename__ = "duty_log_reading"
    __label__ = T("值班记录查阅", "Duty log readings")
    grants = dict(supervisor=VIEW, manager=VIEW, cs_admin=VIEW)
    id: Mapped[int] = field(T("编号", "Id"), Integer, primary_key=True)
    day: Mapped[date] = field(T("日期", "Day"), Date, nullable=False)
    read_by_id: Mapped[int] = field(T("查阅人", "Read by"), ForeignKey("staff_user.id"), nullable=False)
    read_by = link("StaffUser", T("查阅人", "Read by"))
    read_at: Mapped[datetime] = field(T("查阅时间", "Read at"), DateTime, default=now, nullable=False)
    __table_args__ = (UniqueConstraint("property_id", "day"),)

    def __str__(self):
        return f"{self.day}"


class ChecklistItem(PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "checklist_item"
    __label__ = T("交接物品清单", "Handover items")
    grants = dict(cs_admin=ALL, it=ALL, clerk=VIEW, supervisor=VIEW)
    name: Mapped[str] = field(T("物品", "Item"), String(40), nullable=False)
    quantity: Mapped[int] = field(T("数量", "Quantity"), Integer, nullable=False, default=1, validators=["positive"])

    def __str__(self):
        return f"{self.name} ×{self.quantity}"


class Handover(Voidable, Numbered, PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "handover"
    __label__ = T("交接班", "Handovers")
    grants = dict(clerk=ENTER, cs_admin=KEEP, supervisor=READ, manager=READ)
    number_prefix = "JJ"
    summary_date = "day"
    states = {"open": T("待交班人签字", "Awaiting outgoing"), "outgoing_signed": T("待接班人签字", "Awaiting handover"),
              "locked": T("已交接(锁定)", "Handed over (locked)")}
    initial_state = "open"
    # Locked only when both have signed (4.3.4); after the outgoing signs, the form is closed to edits
    # (refuse_change) and the incoming records their own checks on the step 接班人签字.
    locked_states = ("locked",)
    day: Mapped[date] = field(T("日期", "Day"), Date, nullable=False, default=today, index=True)
    to_shift_id: Mapped[int] = field(T("接班班次", "Incoming shift"), ForeignKey("shift.id"), nullable=False)
    to_shift = link("Shift", T("接班班次", "Incoming shift"))
    outgoing_id: Mapped[int | None] = field(T("交班人", "Outgoing"), ForeignKey("staff_user.id"))
    outgoing = link("StaffUser", T("交班人", "Outgoing"), foreign_keys=[outgoing_id])
    incoming_id: Mapped[int | None] = field(T("接班人", "Incoming"), ForeignKey("staff_user.id"))
    incoming = link("StaffUser", T("接班人", "Incoming"), foreign_keys=[incoming_id])
    open_items: Mapped[str | None] = field(T("待跟进事项(自动带出)", "Open items (carried over)"), Text)
    items_counted: Mapped[str | None] = field(T("物品清点", "Items counted"), Text)
    items_complete: Mapped[bool] = field(T("物品齐全", "All items present"), Boolean, default=False, nullable=False)
    desk_checked: Mapped[bool] = field(T("前台环境已检查", "Desk checked"), Boolean, default=False, nullable=False)
    remarks: Mapped[str | None] = field(T("交接说明", "Remarks"), Text)
    outgoing_signed_at: Mapped[datetime | None] = field(T("交班签字时间", "Outgoing signed at"), DateTime)
    # 4.3.2 a, c; 4.3.3: the incoming reads the previous log, checks the desk and counts the items themself
    incoming_read_log: Mapped[bool] = field(T("接班人已阅读上一班值班记录", "Incoming read the previous log"), Boolean,
                                            default=False, nullable=False)
    incoming_desk_checked: Mapped[bool] = field(T("接班人已检查前台环境", "Incoming checked the desk"), Boolean,
                                                default=False, nullable=False)
    incoming_items_counted: Mapped[str | None] = field(T("接班人物品清点", "Items counted by the incoming"), Text)
    # The rostered incoming did not come: the CS admin or supervisor names a same-day substitute (with a reason)
    substitute_id: Mapped[int | None] = field(T("替班接班人", "Substitute incoming"), ForeignKey("staff_user.id"),
                                              staff_roles=DESK)
    substitute = link("StaffUser", T("替班接班人", "Substitute incoming"), foreign_keys=[substitute_id])
    incoming_signed_at: Mapped[datetime | None] = field(T("接班签字时间", "Incoming signed at"), DateTime)

    def takeover_due(self) -> datetime:
        """The incoming arrives 15 minutes before the shift (source 4.3.1)."""
        return datetime.combine(self.day, self.to_shift.starts_at) - timedelta(minutes=15)

    def on_create(self, session):
        self.open_items = open_items_text(session, self.property_id)
        self.items_counted = checklist_text(session, self.property_id)
        self.incoming_items_counted = self.items_counted

    def rostered(self, session) -> set[int]:
        return RosterAssignment.on_duty(session, self.property_id, self.day, self.to_shift_id)

    def clean(self):
        """A handover goes to a shift someone is rostered on (else nobody could ever take it over)."""
        session = object_session(self)
        if session is not None and self.to_shift_id and self.day and self.state == "open" \
                and not self.rostered(session):
            return {"to_shift": T("该日该班次没有排班人员，无法交接：请选择有人值班的班次，或请客服管理员先排班",
                                  "Nobody is rostered on that shift that day: choose a staffed shift, or have "
                                  "the CS admin roster it first")}
        return None

    def refuse_change(self, changed: dict) -> dict | None:
        if self.state == "outgoing_signed" and changed:
            return {next(iter(changed)): T("交班人已签字，交接内容不能再改：接班人请在“接班人签字”时记录核对情况",
                                           "The outgoing has signed: the incoming records their checks when signing")}
        return None

    @transition(source="open", target="outgoing_signed", roles=DESK, label=T("交班人签字", "Outgoing signs"),
                requires=("items_complete", "desk_checked"))
    def sign_out(self, ctx):
        self.outgoing_id = ctx.user.id
        self.outgoing_signed_at = now()

    @transition(source=("open", "outgoing_signed"), target=None, roles=("cs_admin", "supervisor"),
                label=T("指定替班接班人", "Name a substitute incoming"), fields=("substitute",),
                requires=("substitute_id",), comment_required=True,
                comment_label=T("替班原因(排班接班人未到)", "why (the rostered incoming did not come)"))
    def name_substitute(self, ctx):
        """The rostered incoming did not come (4.3.1): a same-day substitute takes over, and the absence is kept."""
        if self.day != today():
            raise WorkflowError(
                T("只能为当天的交接班指定替班接班人", "A substitute is named on the day of the handover")
            )
        if self.substitute_id == self.outgoing_id:
            raise WorkflowError(
                T("替班接班人不能是交班人本人，请另选一位同事", "The substitute cannot be the outgoing")
            )
        for staff_id in sorted(self.rostered(ctx.session) - {self.substitute_id}):
            ctx.session.add(AttendanceException(property_id=self.property_id, staff_id=staff_id, day=self.day,
                                                shift_id=self.to_shift_id, kind="missed", automatic=True,
                                                handling=f"交接班 {self.number}：{ctx.comment}"))

    @transition(source="outgoing_signed", target="locked", roles=DESK, label=T("接班人签字", "Incoming signs"),
                distinct_from=("sign_out",), fields=("incoming_read_log", "incoming_desk_checked",
                                                     "incoming_items_counted"),
                requires=("incoming_read_log", "incoming_desk_checked", "incoming_items_counted"),
                distinct_message=T("交班人和接班人须是两位不同的同事：请由接班的同事登录后签字",
                                   "The outgoing and the incoming are two people: the incoming signs in their own "
                                   "account"))
    def sign_in(self, ctx):
        if ctx.user.id not in self.rostered(ctx.session) and ctx.user.id != self.substitute_id:
            raise WorkflowError(T("您不是该班次的排班接班人：请由排班的同事接班，或请客服管理员/主管指定您为替班接班人",
                                  "You are not rostered on this shift: the rostered colleague signs, or the CS admin "
                                  "or supervisor names you as the substitute"))
        self.incoming_id = ctx.user.id
        self.incoming_signed_at = now()
        late = (self.incoming_signed_at - self.takeover_due()).total_seconds() / 60
        if late > 0:
            ctx.session.add(AttendanceException(property_id=self.property_id, staff_id=ctx.user.id, day=self.day,
                                                shift_id=self.to_shift_id, kind="late", minutes_late=int(late),
                                                automatic=True, handling=f"交接班 {self.number}"))


CHECKS = [
    ("a", T("a) 仪容仪表行为规范", "a) Appearance and conduct")),
    ("b", T("b) 值班记录", "b) Duty log")),
    ("c", T("c) 前台环境", "c) Desk environment")),
    ("d", T("d) 服务意识及服务技能", "d) Service attitude and skills")),
    ("e", T("e) 交接班情况", "e) Handover")),
    ("f", T("f) 客户信息处理情况", "f) Customer information")),
    ("g", T("g) 客户投诉、意见处理情况", "g) Complaints and opinions")),
    ("h", T("h) 待跟进事项处理情况", "h) Open items")),
    ("i", T("i) 有偿服务、便民服务情况", "i) Paid and free services")),
    ("j", T("j) 其它临时性事项处理情况", "j) Other ad-hoc matters")),
]
CHECK_KIND = {
    "supervisor_spot": T("主管抽查", "Supervisor spot check"),
    "manager_random": T("经理抽查", "Manager random check"),
    "admin_daily": T("每日交接班检查", "Daily handover check"),
}


KIND_OF_INSPECTOR = (("manager", "manager_random"), ("supervisor", "supervisor_spot"), ("cs_admin", "admin_daily"))
# The kinds each role records: the manager's random checks (4.4.2), the supervisor's spot checks (4.4.3, at least
# three a week) and, where the supervisor also checks at each handover (篇4 4.4.4), its daily checks; the CS admin's
# daily handover checks (篇3 4.4.4). Only a supervisor's spot checks count toward the three a week.
KINDS_OF_ROLE = {"manager": ("manager_random",), "supervisor": ("supervisor_spot", "admin_daily"),
                 "cs_admin": ("admin_daily",)}


class QualityCheck(Voidable, PropertyScoped, Tracked, Register, db.Model):
    """Performance evidence (4.4.3): the kind follows the inspector's role; only the inspector corrects a check,
    and nobody edits a check about themself."""

    __tablename__ = "quality_check"
    summary_date = "checked_at"
    __label__ = T("质量检查记录", "Quality checks")
    grants = dict(supervisor=KEEP, manager=KEEP, cs_admin=KEEP)
    not_edited_by = ("staff_checked_id",)
    edited_only_by = "inspector_id"
    void_roles = ("supervisor", "manager")
    kind: Mapped[str] = field(
        T("检查类别", "Kind"), String(16), nullable=False, default="supervisor_spot", choices=CHECK_KIND
    )
    inspector_id: Mapped[int | None] = field(T("检查人", "Inspector"), ForeignKey("staff_user.id"))
    inspector = link("StaffUser", T("检查人", "Inspector"), foreign_keys=[inspector_id])
    checked_at: Mapped[datetime] = field(T("检查时间", "Checked at"), DateTime, default=now, nullable=False, index=True)
    staff_checked_id: Mapped[int | None] = field(T("被检查值班人员", "Staff checked"), ForeignKey("staff_user.id"),
                                                   staff_roles=DESK)
    staff_checked = link("StaffUser", T("被检查值班人员", "Staff checked"), foreign_keys=[staff_checked_id])
    for _code, _label in CHECKS:
        locals()[f"ok_{_code}"] = field(_label, Boolean, default=True, nullable=False)
    del _code, _label
    nonconformities: Mapped[str | None] = field(T("不合格项", "Nonconformities"), Text)
    corrective_action: Mapped[str | None] = field(T("纠正措施", "Corrective action"), Text)

    def __str__(self):
        when = f"{self.checked_at:%Y-%m-%d %H:%M}" if self.checked_at else ""
        who = self.inspector.full_name if self.inspector else ""
        return f"{when} {CHECK_KIND.get(self.kind, self.kind)} {who}".strip()

    @staticmethod
    def kind_for(roles, chosen: str | None = None) -> str | None:
        """The kind of a check by someone holding `roles`: the chosen one if a role of theirs records it, else the
        kind of their highest role. A CS admin's or manager's check is never a supervisor's spot check."""
        allowed = {k for r in roles for k in KINDS_OF_ROLE.get(r, ())}
        if chosen in allowed:
            return chosen
        return next((kind for role, kind in KIND_OF_INSPECTOR if role in roles), None)

    def clean(self):
        if self.staff_checked_id and self.staff_checked_id == self.inspector_id:
            return {"staff_checked": T("不能检查自己", "You cannot check yourself")}
        failed = [code for code, _ in CHECKS if not getattr(self, f"ok_{code}")]
        if failed and not (self.nonconformities and self.corrective_action):
            return {
                "nonconformities": T(
                    f"检查项 {','.join(failed)} 不合格：须填写不合格项和纠正措施",
                    f"Items {','.join(failed)} failed: record the nonconformity and corrective action",
                )
            }


# ---------------------------------------------------------------- what a handover carries over (source 4.3.2 b)

def open_records(session: Session, property_id: int) -> list[tuple[T, int, list[str]]]:
    """(register label, count, up to 5 numbers) for every register that declares open states and has some."""
    out = []
    for model in registers().values():
        if not model.open_states or not hasattr(model, "property_id") or not hasattr(model, "number"):
            continue
        where = (model.property_id == property_id, model.state.in_(model.open_states))
        numbers = session.scalars(select(model.number).where(*where).order_by(model.id).limit(5)).all()
        if numbers:
            count = session.scalar(select(func.count()).select_from(model).where(*where))
            out.append((model.__label__, count, numbers))
    return out


def open_items_text(session: Session, property_id: int) -> str:
    lines = [f"[值班记录] {n}: {c[:40]}" for n, c in session.execute(
        select(DutyLog.number, DutyLog.content).where(DutyLog.property_id == property_id, DutyLog.follow_up != "done",
                                                      DutyLog.state != "void")
        .order_by(DutyLog.logged_at).limit(50))]
    for label, count, numbers in open_records(session, property_id):
        lines.append(f"[{label.zh}] {count} 条未完结: {', '.join(numbers)}{' …' if count > len(numbers) else ''}")
    return "\n".join(lines) or "无"


def checklist_text(session: Session, property_id: int) -> str:
    items = session.scalars(select(ChecklistItem).where(ChecklistItem.property_id == property_id)
                            .order_by(ChecklistItem.id)).all()
    return "\n".join(f"{i.name} ×{i.quantity}：" for i in items)
