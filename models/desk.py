"""Desk registers (source 篇1, 篇2, 篇5 §6-10): what the clerk records all day."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, Numeric, String, Text, select
from sqlalchemy.orm import Mapped

from kernel import scoping
from kernel.attachments import Document
from kernel.clock import now
from kernel.db import db
from kernel.deadlines import Deadline
from kernel.i18n import T
from kernel.identity import StaffUser
from kernel.notify import Tell, on_sent
from kernel.permissions import DESK, KEEP, READ, VIEW
from kernel.register import Numbered, PropertyScoped, Register, Retention, Tracked, Workflow, field, link, where
from kernel.workflow import ServerClock, Voidable, WorkflowError, fire, transition
from models.master import FeeItem, Payment, Unit

# The desk's registers, read by those above it (篇3 3.1, 4.2.5, 4.4). Company-wide oversight is totals and deadlines
# per property (the regional overview), not the records themselves.
OVERSIGHT = dict(supervisor=READ, manager=READ)
# 回访: what the owner said of the work (满意 / 基本满意 / 不满意); a call that reached nobody is no outcome.
OUTCOME = {"satisfied": T("满意", "Satisfied"), "neutral": T("基本满意", "Fairly satisfied"),
           "dissatisfied": T("不满意", "Dissatisfied")}
SOURCE = {"phone": T("电话", "Phone"), "letter": T("来函", "Letter"), "walk_in": T("来访", "Walk-in"),
          "inspection": T("验楼", "Building inspection")}


class Record(ServerClock, Voidable, Numbered, PropertyScoped, Tracked, Register):
    """What every desk record has: a number, a property, who made it; the desk keeps it, those above read it.

    Nobody deletes the desk's evidence: a record is voided (作废) with a reason by the CS admin or supervisor,
    or by whoever entered it on the same day before any step (kernel.workflow.Voidable).
    """

    grants = dict(clerk=KEEP, cs_admin=KEEP, **OVERSIGHT)


def _unit(nullable=False):
    return field(T("房号", "Unit"), ForeignKey("unit.id"), nullable=nullable, index=True)


def _price(session, record, code, quantity) -> Decimal:
    item = FeeItem.in_force(session, record.property_id, code)
    if item is None:
        raise WorkflowError(T(f"价格表中没有当前有效的“{code}”价格：请IT在“收费/有偿服务价格”中添加后再登记",
                              f"No price in force for “{code}”: ask IT to add it to the price table, then save"))
    record.unit_price = item.amount
    return item.amount * Decimal(str(quantity or 0))


def _resident_of_unit(record):
    if record.resident is not None and record.unit_id and record.resident.unit_id != record.unit_id:
        return {"resident": T("该业户不是此房号的住户", "This resident does not live in this unit")}
    return None


class PhoneLog(Record, db.Model):
    __tablename__ = "phone_log"
    __label__ = T("电话记录", "Phone log")
    number_prefix = "DH"
    clock_field = "called_at"  # the server's time (ServerClock)
    past_fields = ("forwarded_at",)
    called_at: Mapped[datetime] = field(T("来电时间", "Called at"), DateTime, default=now, nullable=False, index=True)
    caller: Mapped[str] = field(T("来电人", "Caller"), String(40), nullable=False)
    phone: Mapped[str | None] = field(T("电话", "Phone"), String(20), index=True, validators=["phone"])
    unit_id: Mapped[int | None] = _unit(nullable=True)
    unit = link("Unit", T("房号", "Unit"))
    content: Mapped[str] = field(T("内容", "Content"), Text, nullable=False)
    department_id: Mapped[int | None] = field(T("转达部门", "Forwarded to"), ForeignKey("department.id"))
    department = link("Department", T("转达部门", "Forwarded to"))
    forwarded_at: Mapped[datetime | None] = field(T("转达时间", "Forwarded at"), DateTime)

    def clean(self):
        if self.forwarded_at and self.called_at and self.forwarded_at < self.called_at:
            return {"forwarded_at": T("转达时间不能早于来电时间", "Forwarded before the call")}


class RepairOrder(Record, Workflow, db.Model):
    __tablename__ = "repair_order"
    __label__ = T("报修单", "Repair orders")
    grants = dict(clerk=KEEP, cs_admin=KEEP, engineering=VIEW, **OVERSIGHT)
    open_states = ("registered", "dispatched", "on_site", "completed")
    number_prefix = "BX"
    clock_field = "received_at"  # the server's time (ServerClock)
    states = {"registered": T("已登记", "Registered"), "dispatched": T("已派工", "Dispatched"),
              "on_site": T("已到场", "On site"), "completed": T("已完工", "Completed"),
              "visited": T("已回访", "Called back"), "closed": T("已关闭", "Closed"),
              "cancelled": T("已取消", "Cancelled")}
    initial_state = "registered"
    locked_states = ("closed", "cancelled")
    # 篇5 §10 d, 篇1: the engineer's 维修单 comes back to the desk and is registered before the order is closed
    documents = (Document("repair_sheet", T("维修单", "Repair sheet"), required_before="close"),)
    unit_id: Mapped[int] = _unit()
    unit = link("Unit", T("房号", "Unit"))
    contact: Mapped[str] = field(T("联系人", "Contact"), String(40), nullable=False)
    phone: Mapped[str] = field(T("联系电话", "Phone"), String(20), nullable=False, index=True, validators=["phone"])
    content: Mapped[str] = field(T("报修内容", "What is broken"), Text, nullable=False)
    appointment_at: Mapped[datetime | None] = field(T("预约时间", "Appointment"), DateTime)
    urgent: Mapped[bool] = field(
        T("紧急(15分钟到场)", "Urgent (on site in 15 min)"), Boolean, default=False, nullable=False
    )
    source: Mapped[str] = field(T("来源", "Source"), String(12), default="phone", nullable=False, choices=SOURCE)
    received_at: Mapped[datetime] = field(
        T("接报时间", "Received at"), DateTime, default=now, nullable=False, index=True
    )
    department_id: Mapped[int | None] = field(T("接单部门", "Department"), ForeignKey("department.id"))
    department = link("Department", T("接单部门", "Department"))
    engineer: Mapped[str | None] = field(T("维修人员", "Engineer"), String(40))
    dispatched_at: Mapped[datetime | None] = field(T("派工时间", "Dispatched at"), DateTime)
    on_site_at: Mapped[datetime | None] = field(T("到场时间", "On site at"), DateTime)
    completed_at: Mapped[datetime | None] = field(T("完工时间", "Completed at"), DateTime, index=True)
    visited_at: Mapped[datetime | None] = field(T("回访时间", "Called back at"), DateTime)
    delay_told_at: Mapped[datetime | None] = field(
        T("已告知业主及管家(无法及时到场)", "Owner and butler told of delay"), DateTime
    )
    result: Mapped[str | None] = field(T("维修结果", "Result"), Text)
    callback_outcome: Mapped[str | None] = field(T("回访结果", "Callback outcome"), String(14), choices=OUTCOME)

    deadlines = (
        Deadline("repair.dispatch", T("3分钟内派工", "Dispatch within 3 min"), "received_at", "dispatched_at",
                 minutes=3, open_states=("registered",)),
        Deadline("repair.urgent_on_site", T("紧急15分钟到场", "Urgent: on site in 15 min"), "received_at",
                 "on_site_at", minutes=15, when=lambda m: m.urgent.is_(True), applies=lambda r: r.urgent,
                 open_states=("registered", "dispatched")),
        Deadline("repair.callback", T("完工当日回访", "Callback the day of completion"), "completed_at",
                 "visited_at", same_day=True, open_states=("completed",)),
    )
    # 篇1: engineering late -> the desk's admin (the butler's contact at the desk) is told; urgent -> the supervisor too
    tells = {
        "overdue:repair.dispatch": (Tell(role="cs_admin", urgent=True),),
        "overdue:repair.urgent_on_site": (Tell(role="cs_admin", urgent=True), Tell(role="supervisor", urgent=True)),
    }

    def clean(self):
        for later in ("dispatched_at", "on_site_at", "completed_at"):
            if getattr(self, later) and self.received_at and getattr(self, later) < self.received_at:
                return {later: T("不能早于接报时间", "Cannot be before the receipt")}

    @transition(source="registered", target="dispatched", roles=DESK, label=T("派工", "Dispatch"),
                fields=("department",), requires=("department_id",), bulk=True,
                tell=(Tell(role="engineering"),))
    def dispatch(self, ctx):
        self.dispatched_at = now()

    @transition(source=("registered", "dispatched"), target=None, roles=DESK,
                label=T("已告知业主和管家延误", "Owner and butler told of delay"),
                tell=(Tell(phone_field="phone", text=T("工程人员暂时无法按时到场，我们会尽快安排，敬请谅解",
                                                       "Engineering cannot come in time; we will arrange it soon")),
                      Tell(role="cs_admin")))
    def tell_delay(self, ctx):
        self.delay_told_at = now()

    @transition(source="dispatched", target="on_site", roles=DESK + ("engineering",), label=T("到场", "On site"),
                fields=("engineer",))
    def arrive(self, ctx):
        self.on_site_at = now()

    @transition(source="on_site", target="completed", roles=DESK + ("engineering",), label=T("完工", "Complete"),
                fields=("result",))
    def complete(self, ctx):
        self.completed_at = now()

    @transition(source="completed", target="visited", roles=DESK, label=T("回访", "Call back"), comment_required=True,
                comment_label=T("业主的原话", "what the owner said"), fields=("callback_outcome",),
                requires=("callback_outcome",))
    def call_back(self, ctx):
        """The owner's outcome and words are kept in 业户访问记录; 不满意 opens a complaint (follow_up_dissatisfied).

        A callback entered in 业户访问记录 against this order takes this step too (Callback.after_create), with
        that callback instead of a new one.
        """
        callback = ctx.data.get("callback")
        self.visited_at = callback.called_at if callback is not None else now()
        if callback is None:
            callback = Callback(property_id=self.property_id, unit_id=self.unit_id, repair_order=self,
                                called_at=self.visited_at, result=ctx.comment, satisfaction=self.callback_outcome)
            ctx.session.add(callback)
            ctx.session.flush()
        follow_up_dissatisfied(ctx.session, callback, self)

    @transition(
        source="visited", target="closed", roles=("cs_admin", "supervisor"), label=T("关闭", "Close"), bulk=True
    )
    def close(self, ctx):
        pass

    @transition(source=("registered", "dispatched"), target="cancelled", roles=DESK + ("supervisor",),
                label=T("取消", "Cancel"), comment_required=True, waits=False, destructive=True)
    def cancel(self, ctx):
        pass


class Complaint(Record, Workflow, db.Model):
    __tablename__ = "complaint"
    __label__ = T("投诉与建议", "Complaints and suggestions")
    open_states = ("recorded", "forwarded", "replied")
    number_prefix = "TS"
    clock_field = "received_at"  # the server's time (ServerClock)
    states = {"recorded": T("已登记", "Recorded"), "forwarded": T("已转达", "Forwarded"),
              "replied": T("已回复业主", "Replied"), "closed": T("已关闭", "Closed")}
    initial_state = "recorded"
    locked_states = ("closed",)
    kind: Mapped[str] = field(T("类别", "Kind"), String(12), default="complaint", nullable=False,
                              choices={"complaint": T("投诉", "Complaint"), "suggestion": T("建议", "Suggestion")})
    unit_id: Mapped[int | None] = _unit(nullable=True)
    unit = link("Unit", T("房号", "Unit"))
    complainant: Mapped[str] = field(T("投诉/建议人", "From"), String(40), nullable=False)
    phone: Mapped[str | None] = field(T("电话", "Phone"), String(20), index=True, validators=["phone"])
    content: Mapped[str] = field(T("内容", "Content"), Text, nullable=False)
    received_at: Mapped[datetime] = field(
        T("接报时间", "Received at"), DateTime, default=now, nullable=False, index=True
    )
    department_id: Mapped[int | None] = field(T("转达部门", "Forwarded to"), ForeignKey("department.id"))
    department = link("Department", T("转达部门", "Forwarded to"))
    forwarded_at: Mapped[datetime | None] = field(T("转达时间", "Forwarded at"), DateTime)
    follow_up: Mapped[str | None] = field(T("跟进情况", "Follow-up"), Text)
    reply: Mapped[str | None] = field(T("给业主的回复", "Reply given to the owner"), Text)
    replied_at: Mapped[datetime | None] = field(T("回复时间", "Replied at"), DateTime)

    @transition(source="recorded", target="forwarded", roles=DESK, label=T("转达部门", "Forward"),
                fields=("department",), requires=("department_id",))
    def forward(self, ctx):
        self.forwarded_at = now()

    # An escalated complaint is answered by whoever it reached, up to the manager (篇3 4.2.3).
    @transition(source=("recorded", "forwarded"), target="replied", roles=DESK + ("supervisor", "manager"),
                label=T("回复业主", "Reply to owner"), fields=("reply",), requires=("reply",))
    def give_reply(self, ctx):
        self.replied_at = now()

    @transition(source="replied", target="closed", roles=("cs_admin", "supervisor", "manager"),
                label=T("关闭", "Close"),
                requires=("reply",))
    def close(self, ctx):
        pass


class Incident(Record, Workflow, db.Model):
    __tablename__ = "incident"
    __label__ = T("重大事件", "Major incidents")
    open_states = ("open",)
    number_prefix = "SJ"
    clock_field = "occurred_at"  # the server's time (ServerClock)
    past_fields = ("reported_at", "notified_at")
    states = {"open": T("处理中", "Open"), "closed": T("已关闭", "Closed")}
    initial_state = "open"
    locked_states = ("closed",)
    occurred_at: Mapped[datetime] = field(
        T("发生时间", "Occurred at"), DateTime, default=now, nullable=False, index=True
    )
    location: Mapped[str] = field(T("地点", "Location"), String(80), nullable=False)
    content: Mapped[str] = field(T("事件经过", "What happened"), Text, nullable=False)
    reported_to_id: Mapped[int | None] = field(T("已报告(主管/经理)", "Reported to"), ForeignKey("staff_user.id"),
                                               staff_roles=("supervisor", "manager"))
    reported_to = link("StaffUser", T("已报告(主管/经理)", "Reported to"), foreign_keys=[reported_to_id])
    reported_at: Mapped[datetime | None] = field(T("报告时间", "Reported at"), DateTime)
    departments_notified: Mapped[str | None] = field(
        T("已通知部门(部门/人/时间)", "Departments notified (who, when)"), Text
    )
    notified_at: Mapped[datetime | None] = field(T("通知时间", "Notified at"), DateTime)
    handling: Mapped[str | None] = field(T("处理结果", "Handling"), Text)

    deadlines = (Deadline("incident.report", T("立即报告主管/经理", "Report at once"), "occurred_at", "reported_at",
                          minutes=10, open_states=("open",)),)
    # 立即报告客服经理, 迅速通知相关部门 (篇1): the manager and the supervisor in their inbox at once, security and
    # engineering by e-mail (their addresses are master data IT keeps)
    tells = {"create": (Tell(role="manager", urgent=True), Tell(role="supervisor", urgent=True),
                        Tell(department="security"), Tell(department="engineering"))}

    def clean(self):
        if self.reported_at and self.occurred_at and self.reported_at < self.occurred_at:
            return {"reported_at": T("报告时间不能早于发生时间", "Reported before it happened")}

    # 重大问题交客户服务主管处理 / 立即报告客服经理 (篇1, 篇3 4.2.3): the supervisor or manager handles and closes it.
    @transition(source="open", target=None, roles=("supervisor", "manager"), label=T("记录处理结果", "Record handling"),
                fields=("handling",), requires=("handling",))
    def record_handling(self, ctx):
        pass

    @transition(source="open", target="closed", roles=("supervisor", "manager"), label=T("关闭", "Close"),
                requires=("reported_at", "departments_notified", "handling"))
    def close(self, ctx):
        pass


SATISFACTION = {**OUTCOME, "unreached": T("未联系上", "Not reached")}


def follow_up_dissatisfied(session, callback, followed):
    """不满意 opens a complaint (投诉) that carries the owner's words and links the callback.

    Our choice for the follow-up of a dissatisfied callback (issue 12, rule 3): a complaint, not a return of the
    order to an earlier state. The complaint's own rules then apply: forwarded to a department, a reply given to
    the owner before it is closed (篇1: 投诉...跟进); the order or booking keeps its true history (completed, called
    back) and its deadlines are not reset. Returns the complaint, or None when the owner was not dissatisfied.
    """
    if callback.satisfaction != "dissatisfied":
        return None
    complaint = Complaint(property_id=callback.property_id, kind="complaint", unit_id=followed.unit_id,
                          complainant=followed.contact, phone=followed.phone,
                          content=f"{followed.__label__.zh} {followed.number} 回访不满意：{callback.result}")
    session.add(complaint)
    callback.follow_up_complaint = complaint
    return complaint


class Callback(Record, db.Model):
    __tablename__ = "callback"
    __label__ = T("业户访问记录(回访)", "Callbacks")
    number_prefix = "HF"
    clock_field = "called_at"  # the server's time (ServerClock)
    unit_id: Mapped[int] = _unit()
    unit = link("Unit", T("房号", "Unit"))
    repair_order_id: Mapped[int | None] = field(T("报修单", "Repair order"), ForeignKey("repair_order.id"), index=True)
    repair_order = link("RepairOrder", T("报修单", "Repair order"))
    cleaning_booking_id: Mapped[int | None] = field(
        T("清洁委托", "Cleaning booking"), ForeignKey("cleaning_booking.id"), index=True
    )
    cleaning_booking = link("CleaningBooking", T("清洁委托", "Cleaning booking"))
    complaint_id: Mapped[int | None] = field(T("投诉", "Complaint"), ForeignKey("complaint.id"), index=True)
    complaint = link("Complaint", T("投诉", "Complaint"), foreign_keys=[complaint_id])
    called_at: Mapped[datetime] = field(T("回访时间", "Called at"), DateTime, default=now, nullable=False)
    result: Mapped[str] = field(T("回访结果", "Result"), Text, nullable=False)
    satisfaction: Mapped[str] = field(T("满意度", "Satisfaction"), String(14), nullable=False, choices=SATISFACTION)
    follow_up_complaint_id: Mapped[int | None] = field(T("不满意已转投诉", "Complaint opened (dissatisfied)"),
                                                       ForeignKey("complaint.id"))
    follow_up_complaint = link("Complaint", T("不满意已转投诉", "Complaint opened (dissatisfied)"),
                               foreign_keys=[follow_up_complaint_id])

    def clean(self):
        if self.satisfaction not in SATISFACTION:
            return {"satisfaction": T("请选择回访结果：满意、基本满意、不满意或未联系上",
                                      "Choose the outcome: satisfied, fairly satisfied, dissatisfied or not reached")}
        followed = [x for x in (self.repair_order, self.cleaning_booking, self.complaint) if x is not None]
        if len(followed) != 1:
            return {
                "repair_order": T(
                    "请关联所回访的一张报修单、清洁委托或投诉", "Link exactly one order, booking or complaint"
                )
            }
        if followed[0].unit_id and followed[0].unit_id != self.unit_id:
            return {"unit": T("房号与所回访记录不一致", "Unit differs from the record followed up")}

    def after_create(self, session):
        """A callback entered here is the followed record's callback (its same-day deadline is met by it).

        An order awaiting its callback (已完工) takes its 回访 step with this callback; a completed cleaning booking
        gets its 回访时间; 不满意 opens a complaint, as the order's step does. A call that reached nobody
        (未联系上) is kept but satisfies nothing.
        """
        if self.satisfaction not in OUTCOME:
            return
        order, booking = self.repair_order, self.cleaning_booking
        if order is not None and order.state == "completed":
            user = session.get(StaffUser, self.created_by_id)
            fire(order, "call_back", user, scoping.roles_at(self.property_id), session, comment=self.result,
                 data={"callback_outcome": self.satisfaction, "callback": self})
        elif booking is not None:
            if booking.completed_at is not None and booking.visited_at is None:
                booking.visited_at = self.called_at
            follow_up_dissatisfied(session, self, booking)


CLEANING = {"cleaning_standard": T("标准清洁", "Standard"), "cleaning_deep": T("深度清洁", "Deep clean")}


class CleaningBooking(Record, db.Model):
    __tablename__ = "cleaning_booking"
    __label__ = T("家居清洁委托", "Cleaning bookings")
    grants = dict(clerk=KEEP, cs_admin=KEEP, finance=READ, **OVERSIGHT)
    number_prefix = "QJ"
    clock_field = "requested_at"  # the server's time (ServerClock)
    past_fields = ("confirmed_with_lead_at", "owner_called_back_at", "completed_at")
    unit_id: Mapped[int] = _unit()
    unit = link("Unit", T("房号", "Unit"))
    contact: Mapped[str] = field(T("联系人", "Contact"), String(40), nullable=False)
    phone: Mapped[str] = field(T("联系电话", "Phone"), String(20), nullable=False, index=True, validators=["phone"])
    cleaning_type: Mapped[str] = field(T("清洁类型", "Type"), String(30), nullable=False, choices=CLEANING)
    cleaners: Mapped[int] = field(
        T("清洁工人数", "Cleaners"), Integer, nullable=False, default=1, validators=["positive"]
    )
    hours: Mapped[Decimal] = field(
        T("时长(小时)", "Hours"), Numeric(5, 1), nullable=False, default=2, validators=["positive"]
    )
    requested_at: Mapped[datetime] = field(
        T("委托时间", "Requested at"), DateTime, default=now, nullable=False, index=True
    )
    scheduled_at: Mapped[datetime | None] = field(T("上门时间", "Scheduled for"), DateTime)
    confirmed_with_lead_at: Mapped[datetime | None] = field(
        T("已与保洁班长确认", "Confirmed with cleaning lead"), DateTime
    )
    owner_called_back_at: Mapped[datetime | None] = field(T("回电业主时间", "Owner called back at"), DateTime)
    completed_at: Mapped[datetime | None] = field(T("完工时间", "Completed at"), DateTime)
    visited_at: Mapped[datetime | None] = field(T("回访时间", "Called back after"), DateTime)
    unit_price: Mapped[Decimal | None] = field(T("单价(元)", "Unit price"), Numeric(10, 2))
    amount: Mapped[Decimal | None] = field(T("金额(元)", "Amount"), Numeric(10, 2))

    deadlines = (
        Deadline("cleaning.owner_callback", T("2小时内回电业主", "Call the owner back within 2 h"), "requested_at",
                 "owner_called_back_at", minutes=120),
        Deadline("cleaning.callback", T("完成当日回访", "Callback the day of completion"), "completed_at", "visited_at",
                 same_day=True),
    )
    # §9 c: the owner hears from the desk within 2 hours (an SMS at once), the desk is reminded when it is late
    tells = {"create": (Tell(phone_field="phone", text=T(
                 "已受理您的家居清洁委托，将在2小时内与您确认上门时间",
                 "Your cleaning booking is accepted; we confirm the time within 2 h")),),
             "overdue:cleaning.owner_callback": (Tell(role="clerk"), Tell(role="cs_admin", urgent=True))}

    def on_create(self, session):
        self.amount = _price(
            session, self, self.cleaning_type, Decimal(self.cleaners or 0) * Decimal(str(self.hours or 0))
        )

    def clean(self):
        if self.completed_at and self.requested_at and self.completed_at < self.requested_at:
            return {"completed_at": T("完工时间不能早于委托时间", "Completed before it was requested")}


class _Sale(Record):
    unit_id: Mapped[int] = _unit()
    quantity: Mapped[Decimal] = field(
        T("数量", "Quantity"), Numeric(8, 2), nullable=False, default=1, validators=["positive"]
    )
    unit_price: Mapped[Decimal | None] = field(T("单价(元)", "Unit price"), Numeric(10, 2))
    amount: Mapped[Decimal | None] = field(T("金额(元)", "Amount"), Numeric(10, 2))
    sold_at: Mapped[datetime] = field(T("办理时间", "At"), DateTime, default=now, nullable=False, index=True)
    fee_code = ""
    clock_field = "sold_at"  # the server's time (ServerClock)

    def on_create(self, session):
        self.amount = _price(session, self, self.fee_code, self.quantity)

    def after_create(self, session):
        """The money the desk took is a payment in finance's ledger, confirmed by finance (篇1, issue #20)."""
        item = FeeItem.in_force(session, self.property_id, self.fee_code)
        session.add(Payment(property_id=self.property_id, kind="fee", payer=str(self.resident.name),
                            unit_id=self.unit_id, fee_item_id=item.id if item else None,
                            quantity=max(int(self.quantity or 1), 1), amount=self.amount or 0,
                            linked_register=self.__tablename__, linked_id=self.id,
                            note=f"{self.__label__.zh} {self.number}"))

    def clean(self):
        if self.resident is None:
            return {"resident": T("请选择本房号的业户", "Choose a resident of this unit")}
        return _resident_of_unit(self)


class FunctionCard(_Sale, db.Model):
    __tablename__ = "function_card"
    __label__ = T("功能卡发放", "Function cards")
    grants = dict(clerk=KEEP, cs_admin=KEEP, finance=READ, **OVERSIGHT)
    number_prefix = "GN"
    fee_code = "function_card"
    unit = link("Unit", T("房号", "Unit"))
    resident_id: Mapped[int | None] = field(T("业户", "Resident"), ForeignKey("resident.id"))
    resident = link("Resident", T("业户", "Resident"))
    card_no: Mapped[str | None] = field(T("卡号", "Card number"), String(30), index=True)


class ReclaimedWaterSale(_Sale, db.Model):
    __tablename__ = "reclaimed_water_sale"
    __label__ = T("中水售卖", "Reclaimed water")
    grants = dict(clerk=KEEP, cs_admin=KEEP, finance=READ, **OVERSIGHT)
    number_prefix = "ZS"
    fee_code = "reclaimed_water"
    unit = link("Unit", T("房号", "Unit"))
    resident_id: Mapped[int | None] = field(T("业户", "Resident"), ForeignKey("resident.id"))
    resident = link("Resident", T("业户", "Resident"))


class TelecomRegistration(Record, db.Model):
    __tablename__ = "telecom_registration"
    __label__ = T("电话登记单", "Telephone requests")
    number_prefix = "DX"
    clock_field = "received_at"  # the server's time (ServerClock)
    unit_id: Mapped[int] = _unit()
    unit = link("Unit", T("房号", "Unit"))
    applicant: Mapped[str] = field(T("申请人", "Applicant"), String(40), nullable=False)
    phone: Mapped[str | None] = field(T("联系电话", "Phone"), String(20), index=True, validators=["phone"])
    request: Mapped[str] = field(
        T("受理事项", "Request"),
        String(12),
        nullable=False,
        default="new",
        choices={
            "new": T("新装", "New line"),
            "move": T("移机", "Move"),
            "stop": T("拆机", "Stop"),
            "fault": T("故障", "Fault"),
            "other": T("其他", "Other"),
        },
    )
    content: Mapped[str | None] = field(T("说明", "Details"), Text)
    received_at: Mapped[datetime] = field(
        T("受理时间", "Accepted at"), DateTime, default=now, nullable=False, index=True
    )
    faxed_at: Mapped[datetime | None] = field(T("已传真电信", "Faxed to telecom"), DateTime)


@on_sent("telecom_registration.sent")
def _telecom_sheet_sent(session, ids, at):
    """The daily sheet was accepted by the mail server: its requests count as sent to telecom."""
    for r in session.scalars(select(TelecomRegistration).where(TelecomRegistration.id.in_(ids),
                                                                 TelecomRegistration.faxed_at.is_(None))):
        r.faxed_at = at


class UtilityAccount(Record, db.Model):
    __tablename__ = "utility_account"
    __label__ = T("有线电视/电话/液化气开户", "Cable TV, phone and LPG accounts")
    number_prefix = "KH"
    clock_field = "opened_at"  # the server's time (ServerClock)
    service: Mapped[str] = field(T("业务", "Service"), String(10), nullable=False,
                                 choices={"cable_tv": T("有线电视", "Cable TV"), "phone": T("电话", "Phone"),
                                          "lpg": T("液化气", "LPG")})
    unit_id: Mapped[int] = _unit()
    unit = link("Unit", T("房号", "Unit"))
    resident_id: Mapped[int | None] = field(T("申请业户", "Applicant"), ForeignKey("resident.id"))
    resident = link("Resident", T("申请业户", "Applicant"))
    identity_checked: Mapped[bool] = field(T("已核对身份", "Identity checked"), Boolean, default=False, nullable=False)
    applicant_signed: Mapped[bool] = field(
        T("申请人已在开通登记本签字", "Applicant signed"), Boolean, default=False, nullable=False
    )
    opened_at: Mapped[datetime] = field(T("开通时间", "Opened at"), DateTime, default=now, nullable=False, index=True)

    def clean(self):
        if not self.identity_checked:
            return {"identity_checked": T("须先核对业户身份", "Check the identity first")}
        if not self.applicant_signed:
            return {"applicant_signed": T("须由申请人签字确认", "The applicant must sign")}
        if self.resident is None:
            return {"resident": T("请选择申请业户", "Choose the applicant")}
        return _resident_of_unit(self)


NETWORK_KIND = {
    "open": T("开通", "Open"),
    "change_tariff": T("变更资费", "Change tariff"),
    "pause": T("暂停", "Pause"),
    "terminate": T("终止", "Terminate"),
    "change_account": T("更改帐号", "Change account"),
    "add_info": T("增加信息(预交3个月)", "Add info (prepay 3 months)"),
    "reactivate": T("复机", "Reactivate"),
}
TARIFF = {"network_unlimited": T("包月不限时 180元/月", "Unlimited 180/month"),
          "network_60h": T("60小时 30元/月", "60 h 30/month")}


class NetworkRequest(Record, db.Model):
    __tablename__ = "network_request"
    __label__ = T("网络开通/变更", "Network requests")
    # Finance collects the fees on the ISP's behalf (篇5 §7 c, §8 c: 到财务交缴相关费用):
    # it sees the requests with a fee due.
    grants = dict(clerk=KEEP + ("reveal",), cs_admin=KEEP + ("reveal",), finance=VIEW, **OVERSIGHT)
    visible_rows = dict(finance=where(lambda m: m.amount > 0))
    number_prefix = "WL"
    clock_field = "received_at"  # the server's time (ServerClock)
    kind: Mapped[str] = field(T("业务", "Request"), String(16), nullable=False, choices=NETWORK_KIND)
    unit_id: Mapped[int] = _unit()
    unit = link("Unit", T("房号", "Unit"))
    resident_id: Mapped[int | None] = field(T("申请业户", "Applicant"), ForeignKey("resident.id"))
    resident = link("Resident", T("申请业户", "Applicant"))
    tariff: Mapped[str | None] = field(T("资费", "Tariff"), String(20), choices=TARIFF)
    account: Mapped[str | None] = field(T("上网帐号", "Account"), String(40), index=True)
    id_copy_received: Mapped[bool] = field(
        T("已收身份证复印件", "ID copy received"), Boolean, default=False, nullable=False
    )
    amount: Mapped[Decimal | None] = field(T("应交费用(元)", "Fee due"), Numeric(10, 2))
    received_at: Mapped[datetime] = field(
        T("受理时间", "Received at"), DateTime, default=now, nullable=False, index=True
    )
    sent_to_isp_at: Mapped[datetime | None] = field(T("发送网通时间", "Sent to ISP at"), DateTime, index=True)

    # 篇5 §7 d, §8 b: the owner's ID copy is taken for an opening and for every change, before the ISP batch
    documents = (Document("id_copy", T("业户身份证复印件", "Owner's ID copy"), required_before="send_to_isp",
                          personal=True, flag="id_copy_received"),)
    document_retention = Retention(start="received_at", days=2 * 365)

    deadlines = (Deadline("network.send_to_isp", T("2日内发网通", "Send to ISP within 2 days"), "received_at",
                          "sent_to_isp_at", minutes=2 * 24 * 60),)
    tells = {"overdue:network.send_to_isp": (Tell(role="cs_admin", urgent=True),)}

    def on_create(self, session):
        if self.kind == "reactivate":
            self.amount = _price(session, self, "network_reactivation", 1)
        elif self.kind == "add_info" and self.tariff:  # without a tariff, clean() says to choose one
            self.amount = _price(session, self, self.tariff, 3)

    def clean(self):
        if self.resident is None:
            return {"resident": T("请选择申请业户", "Choose the applicant")}
        if not self.resident.may_act_for_unit:
            return {"resident": T("租户申请须凭业主委托书", "A tenant needs the owner's authorisation on file")}
        if self.kind == "add_info" and not self.tariff:
            return {"tariff": T("增加信息须选择资费以预交3个月", "Choose the tariff to prepay 3 months")}
        return _resident_of_unit(self)


@on_sent("network_request.sent_to_isp")
def _isp_batch_sent(session, ids, at):
    """§7 f, §8 e: a request is sent to the ISP when the mail server accepted the batch, not when it was made."""
    for r in session.scalars(select(NetworkRequest).where(NetworkRequest.id.in_(ids),
                                                          NetworkRequest.sent_to_isp_at.is_(None))):
        r.sent_to_isp_at = at


class MailItem(Record, Workflow, db.Model):
    __tablename__ = "mail_item"
    __label__ = T("特殊邮件", "Special mail")
    open_states = ("received", "notified")
    number_prefix = "YJ"
    clock_field = "received_at"  # the server's time (ServerClock)
    states = {"received": T("已收件", "Received"), "notified": T("已通知", "Resident notified"),
              "picked_up": T("已领取", "Picked up")}
    initial_state = "received"
    locked_states = ("picked_up",)
    unit_id: Mapped[int] = _unit()
    unit = link("Unit", T("房号", "Unit"))
    addressee: Mapped[str] = field(T("收件人", "Addressee"), String(40), nullable=False)
    kind: Mapped[str] = field(T("类别", "Kind"), String(12), nullable=False, default="registered",
                              choices={"registered": T("挂号信", "Registered letter"), "parcel": T("包裹", "Parcel"),
                                       "express": T("快递", "Express"), "other": T("其他", "Other")})
    tracking_no: Mapped[str | None] = field(T("单号", "Tracking number"), String(40), index=True)
    received_at: Mapped[datetime] = field(
        T("收件时间", "Received at"), DateTime, default=now, nullable=False, index=True
    )
    notified_at: Mapped[datetime | None] = field(T("通知时间", "Notified at"), DateTime)
    picked_up_at: Mapped[datetime | None] = field(T("领取时间", "Picked up at"), DateTime)
    signed_by: Mapped[str | None] = field(T("签收人", "Signed for by"), String(40))

    @transition(source="received", target="notified", roles=DESK, label=T("已通知业户", "Resident notified"), bulk=True)
    def notify(self, ctx):
        self.notified_at = now()

    @transition(source=("received", "notified"), target="picked_up", roles=DESK, label=T("领取签收", "Picked up"),
                fields=("signed_by",), requires=("signed_by",))
    def pick_up(self, ctx):
        self.picked_up_at = now()


class MoveIn(Record, db.Model):
    __tablename__ = "move_in"
    __label__ = T("入住手续", "Move-in")
    number_prefix = "RZ"
    clock_field = "handed_over_at"  # the server's time (ServerClock)
    unit_id: Mapped[int] = _unit()
    unit = link("Unit", T("房号", "Unit"))
    resident_id: Mapped[int | None] = field(T("业主", "Owner"), ForeignKey("resident.id"))
    resident = link("Resident", T("业主", "Owner"))
    handed_over_at: Mapped[datetime] = field(
        T("收楼时间", "Handed over at"), DateTime, default=now, nullable=False, index=True
    )
    documents_checked: Mapped[bool] = field(
        T("资料已核对", "Documents checked"), Boolean, default=False, nullable=False
    )
    keys_handed: Mapped[int] = field(
        T("钥匙(把)", "Keys"), Integer, default=0, nullable=False, validators=["non_negative"]
    )
    water_reading: Mapped[Decimal | None] = field(
        T("水表读数", "Water meter"), Numeric(10, 2), validators=["non_negative"]
    )
    power_reading: Mapped[Decimal | None] = field(
        T("电表读数", "Power meter"), Numeric(10, 2), validators=["non_negative"]
    )
    note: Mapped[str | None] = field(T("备注", "Note"), Text)

    def on_create(self, session):
        """A move-in marks the unit occupied (篇1: 办理业主(新户)入住手续)."""
        unit = self.unit or (session.get(Unit, self.unit_id) if self.unit_id else None)
        if unit is not None:
            unit.status = "occupied"

    def clean(self):
        if self.resident is None or self.resident.kind != "owner":
            return {"resident": T("入住手续须由业主办理", "Move-in is done by the owner")}
        if not self.documents_checked:
            return {"documents_checked": T("须先核对入住资料", "Check the documents first")}
        return _resident_of_unit(self)


class InspectionIssue(Record, Workflow, db.Model):
    __tablename__ = "inspection_issue"
    __label__ = T("验楼工程问题", "Inspection defects")
    grants = dict(clerk=KEEP, cs_admin=KEEP, engineering=VIEW, **OVERSIGHT)
    number_prefix = "YL"
    clock_field = "inspected_at"  # the server's time (ServerClock)
    open_states = ("open",)  # defects not yet fixed are carried over at a handover
    states = {"open": T("待处理", "Open"), "fixed": T("已整改", "Fixed")}
    initial_state = "open"
    unit_id: Mapped[int] = _unit()
    unit = link("Unit", T("房号", "Unit"))
    inspected_at: Mapped[datetime] = field(
        T("验楼时间", "Inspected at"), DateTime, default=now, nullable=False, index=True
    )
    location: Mapped[str] = field(T("部位", "Where"), String(60), nullable=False)
    description: Mapped[str] = field(T("问题描述", "Defect"), Text, nullable=False)
    department_id: Mapped[int | None] = field(T("反馈部门", "Fed back to"), ForeignKey("department.id"))
    department = link("Department", T("反馈部门", "Fed back to"))
    fed_back_at: Mapped[datetime | None] = field(T("反馈时间", "Fed back at"), DateTime)
    fixed_at: Mapped[datetime | None] = field(T("整改时间", "Fixed at"), DateTime)

    deadlines = (Deadline("inspection.feed_back", T("当日反馈相关部门", "Feed back the same day"), "inspected_at",
                          "fed_back_at", same_day=True),)

    @transition(source="open", target=None, roles=DESK, label=T("反馈部门", "Feed back"), fields=("department",),
                requires=("department_id",), bulk=True)
    def feed_back(self, ctx):
        self.fed_back_at = now()

    @transition(source="open", target="fixed", roles=DESK + ("engineering",), label=T("已整改", "Fixed"))
    def fix(self, ctx):
        self.fixed_at = now()
