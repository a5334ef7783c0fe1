"""Property master data and money: units, residents, departments, shifts, fee items, payments."""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    or_,
    select,
)
from sqlalchemy.orm import Mapped
from sqlalchemy.orm.exc import StaleDataError

from kernel.clock import now, today
from kernel.db import db
from kernel.i18n import T
from kernel.permissions import ALL, ENTER, KEEP, READ, VIEW
from kernel.pii import blind_index, encrypted_field
from kernel.register import (
    Deactivatable,
    Importable,
    Numbered,
    PropertyScoped,
    Register,
    Tracked,
    Workflow,
    field,
    link,
)
from kernel.validators import email_ok
from kernel.workflow import Voidable, WorkflowError, fire, transition

UNIT_STATUS = {"vacant": T("空置", "Vacant"), "occupied": T("已入住", "Occupied"),
               "renovating": T("装修中", "Renovating")}
RESIDENT_KIND = {"owner": T("业主", "Owner"), "tenant": T("租户", "Tenant")}
DEPARTMENT_KIND = {
    "engineering": T("工程部", "Engineering"), "security": T("保安部", "Security"),
    "finance": T("财务部", "Finance"), "admin": T("行政人事部", "HR/Admin"),
    "cleaning": T("保洁公司", "Cleaning contractor"), "telecom": T("电信部门", "Telecom"),
    "isp": T("网络运营商", "ISP"), "other": T("其他", "Other"),
}


class Unit(Deactivatable, PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "unit"
    __label__ = T("房号", "Units")
    grants = dict(it=ALL + ("import",), clerk=VIEW, cs_admin=KEEP + ("import",), supervisor=READ, manager=READ,
                  engineering=VIEW, finance=VIEW)
    importable = Importable(keys=(("code",),), columns=("code", "building", "entrance", "room", "floor_area", "status"),
                            sample=dict(code="3-2-1501", building="3", entrance="2", room="1501", floor_area="89.50",
                                        status="已入住"))
    code: Mapped[str] = field(T("房号", "Unit"), String(20), nullable=False, index=True,
                              description=T("楼栋-单元-房号，如 3-2-1501", "Building-entrance-room, e.g. 3-2-1501"))
    building: Mapped[str] = field(T("楼栋", "Building"), String(10), nullable=False)
    entrance: Mapped[str] = field(T("单元", "Entrance"), String(10), nullable=False)
    room: Mapped[str] = field(T("房间", "Room"), String(10), nullable=False)
    floor_area: Mapped[Decimal | None] = field(T("建筑面积(㎡)", "Floor area (m²)"), Numeric(8, 2),
                                               validators=["positive"])
    status: Mapped[str] = field(T("状态", "Status"), String(12), nullable=False, default="vacant",
                                choices=UNIT_STATUS)
    __table_args__ = (UniqueConstraint("property_id", "code"),)

    def __str__(self):
        return self.code


RESIDENT_STATES = {"active": T("在册", "On file"), "erasure_requested": T("待经理批准注销", "Erasure requested"),
                   "anonymised": T("已注销(匿名化)", "Erased (anonymised)")}


class Resident(PropertyScoped, Tracked, Register, Workflow, db.Model):
    """The desk keeps the owners' and tenants' file (篇2 §5); erasing one is a manager-approved anonymisation."""

    __tablename__ = "resident"
    __label__ = T("业户档案", "Residents")
    grants = dict(clerk=ENTER + ("reveal",), cs_admin=KEEP + ("reveal", "import"), supervisor=READ, manager=READ,
                  finance=VIEW)
    # resident = ID number, else name + unit (a tenant's file often lacks the number); the state is never imported
    importable = Importable(keys=(("id_number",), ("name", "unit")),
                            columns=("name", "kind", "unit", "phone", "id_number", "move_in_date",
                                     "owner_authorisation", "note"),
                            sample=dict(name="张三", kind="业主", unit="3-2-1501", phone="13800138000",
                                        id_number="11010519491231002X", move_in_date="2026-01-31",
                                        owner_authorisation="否", note=""))
    states = RESIDENT_STATES
    initial_state = "active"
    locked_states = ("anonymised",)
    name: Mapped[str] = field(T("姓名", "Name"), String(40), nullable=False, index=True)
    kind: Mapped[str] = field(T("类别", "Kind"), String(10), nullable=False, default="owner",
                              choices=RESIDENT_KIND)
    unit_id: Mapped[int] = field(T("房号", "Unit"), ForeignKey("unit.id"), nullable=False, index=True)
    unit = link("Unit", T("房号", "Unit"))
    phone: Mapped[str | None] = field(T("电话", "Phone"), String(20), index=True, validators=["phone"])
    id_number: Mapped[str | None] = encrypted_field(T("身份证号", "ID number"), validators=["id_number"])
    id_number_hash: Mapped[str | None] = blind_index("id_number")
    move_in_date: Mapped[date | None] = field(T("入住日期", "Move-in date"), Date)
    owner_authorisation: Mapped[bool] = field(T("业主委托书已备案", "Owner authorisation on file"), Boolean,
                                              default=False, nullable=False)
    note: Mapped[str | None] = field(T("备注", "Note"), Text)

    def __str__(self):
        return f"{self.name} ({self.unit}, {RESIDENT_KIND.get(self.kind, self.kind)})"

    @property
    def may_act_for_unit(self) -> bool:
        """An owner, or a tenant whose owner's authorisation is on file (source 篇5 §7-8)."""
        return self.kind == "owner" or self.owner_authorisation

    @classmethod
    def import_rules(cls, session, property_id: int, rows: list) -> list:
        """A tenant needs the unit's owner: on record, or a good row of the same file (篇5 §7-8)."""
        owners = set(session.scalars(select(cls.unit_id).where(
            cls.property_id == property_id, cls.kind == "owner", cls.state == "active")))
        owners |= {r.values.get("unit_id") for r in rows
                   if r.status != "error" and r.values.get("kind", "owner") == "owner"}
        return [(r, "租户所在房号没有业主档案（请先登记业主，或在同一文件中包含业主）") for r in rows
                if r.status != "error" and r.values.get("kind") == "tenant" and r.values.get("unit_id") not in owners]

    @transition(source="active", target="erasure_requested", roles=("cs_admin",),
                label=T("申请注销个人信息", "Request erasure"), comment_required=True,
                comment_label=T("注销原因(如已迁出)", "Reason (e.g. moved out)"))
    def request_erasure(self, ctx):
        pass

    @transition(source="erasure_requested", target="anonymised", roles=("manager",),
                label=T("批准注销(匿名化)", "Approve erasure (anonymise)"), sign_off=True,
                distinct_from=("request_erasure",), destructive=True, waits=True)
    def approve_erasure(self, ctx):
        """PIPL art. 47: the person's data goes; the record stays for what points at it (orders, passes)."""
        self.name = f"已注销业户{self.id}"
        self.phone = None
        self.id_number = None
        self.note = None

    @transition(source="erasure_requested", target="active", roles=("manager",), label=T("驳回注销", "Refuse erasure"),
                sign_off=True, comment_required=True, waits=False)
    def refuse_erasure(self, ctx):
        pass


class Department(Deactivatable, PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "department"
    __label__ = T("联系部门", "Departments")
    grants = dict(it=ALL + ("import",), cs_admin=KEEP + ("import",), clerk=VIEW, supervisor=VIEW, manager=VIEW)
    kept = True  # the lists' 部门 filter offers them on every page
    importable = Importable(keys=(("name", "kind"),), columns=("name", "kind", "contact", "phone", "email"),
                            sample=dict(name="工程部", kind="工程部", contact="李工", phone="0755-88886666",
                                        email="eng@example.com"))
    name: Mapped[str] = field(T("名称", "Name"), String(40), nullable=False)
    kind: Mapped[str] = field(T("类别", "Kind"), String(12), nullable=False, choices=DEPARTMENT_KIND)
    contact: Mapped[str | None] = field(T("联系人", "Contact"), String(40))
    phone: Mapped[str | None] = field(T("电话", "Phone"), String(20), validators=["phone"])
    # where the desk's e-mails go (the ISP's batch, the telecom daily sheet, an incident): master data IT keeps
    email: Mapped[str | None] = field(T("电子邮箱", "E-mail"), String(200), validators=["email"])

    def clean(self):
        if self.email and not email_ok(self.email):
            return {"email": T("电子邮箱格式不正确（例如 isp@example.com），只填一个地址",
                               "Invalid e-mail address (e.g. isp@example.com); one address only")}
        return None

    def __str__(self):
        """Two departments may share a name (两个"工程部"): the kind and contact tell them apart."""
        kind = str(DEPARTMENT_KIND.get(self.kind, ""))
        extra = "，".join(x for x in (kind if kind != self.name else "", self.contact or "") if x)
        return f"{self.name}（{extra}）" if extra else self.name


class Shift(Deactivatable, PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "shift"
    __label__ = T("班次", "Shifts")
    grants = dict(it=ALL, cs_admin=VIEW, supervisor=VIEW, manager=VIEW, clerk=VIEW)
    code: Mapped[str] = field(T("代码", "Code"), String(12), nullable=False)
    name: Mapped[str] = field(T("名称", "Name"), String(20), nullable=False)
    starts_at: Mapped[time] = field(T("开始", "Starts"), Time, nullable=False)
    ends_at: Mapped[time] = field(T("结束", "Ends"), Time, nullable=False)
    __table_args__ = (UniqueConstraint("property_id", "code"),)

    def __str__(self):
        return f"{self.name} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"

    def clean(self):
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            return {"ends_at": T("结束时间必须晚于开始时间", "The end must be after the start")}


class FeeItem(PropertyScoped, Tracked, Register, db.Model):
    """A price in force between two dates; records copy the amount, so a change never rewrites history."""

    __tablename__ = "fee_item"
    __label__ = T("收费/有偿服务价格", "Fees and prices")
    grants = dict(it=ALL + ("import",), finance=READ, clerk=VIEW, cs_admin=VIEW, supervisor=READ, manager=READ,
                  regional=READ)
    # a price = its code from a date: a new price is a new row (a change of one in force is refused by refuse_change)
    importable = Importable(keys=(("code", "effective_from"),),
                            columns=("code", "name", "unit_of_charge", "amount", "effective_from", "effective_to"),
                            sample=dict(code="worker_pass_deposit", name="出入证押金", unit_of_charge="人",
                                        amount="100.00", effective_from="2026-01-01", effective_to=""))
    code: Mapped[str] = field(T("代码", "Code"), String(30), nullable=False, index=True)
    name: Mapped[str] = field(T("名称", "Name"), String(60), nullable=False)
    unit_of_charge: Mapped[str] = field(T("计价单位", "Charged per"), String(20), nullable=False)
    amount: Mapped[Decimal] = field(T("金额(元)", "Amount (CNY)"), Numeric(10, 2), nullable=False,
                                    validators=["non_negative"])
    effective_from: Mapped[date] = field(T("生效日期", "Effective from"), Date, nullable=False)
    effective_to: Mapped[date | None] = field(T("失效日期", "Effective to"), Date)

    def __str__(self):
        return f"{self.name} {self.amount}元/{self.unit_of_charge}"

    def clean(self):
        if self.effective_to and self.effective_from and self.effective_to < self.effective_from:
            return {"effective_to": T("失效日期不能早于生效日期", "The end date is before the start date")}

    def in_force_since(self) -> bool:
        return self.effective_from is not None and self.effective_from <= today()

    def refuse_change(self, changed: dict) -> dict | None:
        """A price that has been in force is history: only its end date may be set (a change is a new row)."""
        was = changed.get("effective_from", (self.effective_from,))[0]
        frozen = sorted(set(changed) - {"effective_to"})
        if frozen and was is not None and was <= today():
            return {frozen[0]: T("已生效的价格不能修改：请给旧价格设置失效日期，再新增一条价格",
                                 "A price in force is never edited: end it and add a new price")}
        return None

    def delete_refusal(self) -> T | None:
        if self.in_force_since():
            return T("已生效过的价格不能删除，请设置失效日期",
                     "A price that has been in force is kept; set its end date")
        return None

    @classmethod
    def in_force(cls, session, property_id: int, code: str, on: date | None = None) -> FeeItem | None:
        on = on or now().date()
        return session.scalars(
            select(cls).where(cls.property_id == property_id, cls.code == code,
                              cls.effective_from <= on,
                              or_(cls.effective_to.is_(None), cls.effective_to >= on))
            .order_by(cls.effective_from.desc()).limit(1)
        ).first()


PAYMENT_KIND = {"fee": T("收费", "Fee"), "deposit": T("押金", "Deposit"), "refund": T("退还押金", "Deposit refund"),
                "management_fee": T("物业管理费", "Management fee"), "reversal": T("红冲", "Reversal")}


class Payment(Numbered, PropertyScoped, Tracked, Register, Workflow, db.Model):
    """Finance's ledger. Never edited after saving: a correction is a reversal entry (红冲) beside the original."""

    __tablename__ = "payment"
    __label__ = T("收费记录", "Payments")
    summary_date = "paid_at"
    grants = dict(finance=("list", "details", "create", "export"), clerk=VIEW, cs_admin=VIEW, supervisor=READ,
                  manager=READ)
    number_prefix = "SF"
    states = {"recorded": T("待财务确认", "Awaiting finance"), "confirmed": T("财务已确认", "Confirmed"),
              "reversed": T("已红冲", "Reversed")}
    initial_state = "recorded"
    locked_states = ("recorded", "confirmed", "reversed")  # a payment is never edited: steps only
    open_states = ("recorded",)
    receipt_no: Mapped[str | None] = field(T("收据号", "Receipt number"), String(30), index=True,
                                           validators=["required"])
    kind: Mapped[str] = field(T("类别", "Kind"), String(16), nullable=False, default="fee", choices=PAYMENT_KIND)
    payer: Mapped[str] = field(T("交款人", "Payer"), String(40), nullable=False)
    unit_id: Mapped[int | None] = field(T("房号", "Unit"), ForeignKey("unit.id"), index=True)
    unit = link("Unit", T("房号", "Unit"))
    fee_item_id: Mapped[int | None] = field(T("收费项目", "Fee item"), ForeignKey("fee_item.id"))
    fee_item = link("FeeItem", T("收费项目", "Fee item"))
    quantity: Mapped[int] = field(T("数量", "Quantity"), Integer, nullable=False, default=1, validators=["positive"])
    amount: Mapped[Decimal] = field(T("金额(元)", "Amount (CNY)"), Numeric(10, 2), nullable=False,
                                    validators=["non_negative"])
    paid_at: Mapped[datetime] = field(T("收款时间", "Paid at"), DateTime, nullable=False, default=now)
    linked_register: Mapped[str | None] = field(T("关联登记簿", "Linked register"), String(40))
    linked_id: Mapped[int | None] = field(T("关联记录", "Linked record"), Integer)
    note: Mapped[str | None] = field(T("备注", "Note"), Text)

    def __str__(self):
        return f"{self.receipt_no or self.number} {self.amount}元"

    # The desk takes money for sales and fees; finance confirms it against its receipt (篇5 §2 d, g).
    @transition(source="recorded", target="confirmed", roles=("finance",), label=T("财务确认", "Finance confirms"),
                sign_off=True, fields=("receipt_no",), requires=("receipt_no",))
    def confirm(self, ctx):
        pass

    @transition(source=("recorded", "confirmed"), target="reversed", roles=("finance",), label=T("红冲", "Reverse"),
                comment_required=True, comment_label=T("红冲原因", "Reason for the reversal"), destructive=True)
    def reverse(self, ctx):
        """The original stays as it was; a reversal entry of the opposite amount cancels it in every total."""
        ctx.session.add(Payment(property_id=self.property_id, kind="reversal", payer=self.payer, unit_id=self.unit_id,
                                fee_item_id=self.fee_item_id, quantity=self.quantity, amount=-(self.amount or 0),
                                receipt_no=f"{self.receipt_no or self.number}-红冲", state="confirmed",
                                linked_register=self.__tablename__, linked_id=self.id, note=ctx.comment))


RECEIPT_PURPOSE = {"worker_pass": T("装修人员出入证押金及工本费", "Worker pass deposit and fee"),
                   "renovation_extension": T("装修延期费用", "Renovation extension fee"),
                   "other": T("其他", "Other")}


class Receipt(Voidable, PropertyScoped, Tracked, Register, db.Model):
    """A receipt finance wrote (篇5 §2 d-e): the desk strikes it "已办" when a pass is made on it, so it backs one
    record only. Entered by finance (who issued it: 创建人); used by a worker pass or an extension, once."""

    __tablename__ = "receipt"
    __label__ = T("财务收据", "Finance receipts")
    grants = dict(finance=KEEP, clerk=VIEW, cs_admin=VIEW, supervisor=READ, manager=READ)
    void_roles = ("finance",)
    states = {"unused": T("未使用", "Unused"), "used": T("已办(已使用)", "Used")}
    initial_state = "unused"
    locked_states = ("used",)
    receipt_no: Mapped[str] = field(T("收据号", "Receipt number"), String(30), nullable=False, index=True)
    amount: Mapped[Decimal] = field(T("金额(元)", "Amount (CNY)"), Numeric(10, 2), nullable=False,
                                    validators=["non_negative"])
    payer: Mapped[str] = field(T("交款人", "Payer"), String(40), nullable=False)
    unit_id: Mapped[int | None] = field(T("房号", "Unit"), ForeignKey("unit.id"), index=True)
    unit = link("Unit", T("房号", "Unit"))
    purpose: Mapped[str] = field(T("所付项目", "Paid for"), String(24), nullable=False, default="worker_pass",
                                 choices=RECEIPT_PURPOSE)
    issued_on: Mapped[date] = field(T("开据日期", "Issued on"), Date, nullable=False, default=today)
    consumed_register: Mapped[str | None] = field(
        T("使用登记簿", "Used by register"),
        String(40),
        choices={
            "worker_pass": T("装修人员出入证", "Worker pass"),
            "renovation_extension": T("装修延期申请", "Renovation extension"),
        },
    )
    consumed_id: Mapped[int | None] = field(T("使用记录", "Used by record"), Integer)
    consumed_number: Mapped[str | None] = field(T("已用于(编号)", "Used by (number)"), String(40))
    consumed_at: Mapped[datetime | None] = field(T("使用时间", "Used at"), DateTime)
    __table_args__ = (UniqueConstraint("property_id", "receipt_no"),
                      UniqueConstraint("consumed_register", "consumed_id"))

    def __str__(self):
        return f"{self.receipt_no} {self.amount}元 {self.payer}"

    def on_create(self, session):
        self.issued_on = self.issued_on or today()

    @classmethod
    def offered(cls):
        """What a pass or an extension may pick: receipts of the property not used and not voided."""
        return cls.state == "unused"

    def not_offered(self) -> T:
        if self.state == "used":
            return T(f"收据 {self.receipt_no} 已用于 {self.consumed_number}，不能重复使用；请选择一张未使用的收据",
                     f"Receipt {self.receipt_no} was already used by {self.consumed_number}; pick an unused receipt")
        return T(f"收据 {self.receipt_no} 已作废，请选择一张未使用的收据",
                 f"Receipt {self.receipt_no} is void; pick an unused receipt")

    def consume(self, session, record, user, purpose: str, due: Decimal | None) -> None:
        """Mark this receipt used by `record`, once. A used receipt is refused naming the record that used it; of two
        desks using the same receipt at the same moment one wins (row version) and the other is refused the same."""
        if self.state != "unused":
            raise WorkflowError(self.not_offered())
        if self.purpose != purpose:
            raise WorkflowError(
                T(
                    f"收据 {self.receipt_no} 所付项目为“{RECEIPT_PURPOSE[self.purpose].zh}”，不能用于此登记",
                    f"Receipt {self.receipt_no} paid for something else",
                )
            )
        if due is not None and self.amount < due:
            raise WorkflowError(T(f"收据 {self.receipt_no} 金额 {self.amount} 元少于应交 {due} 元",
                                  f"Receipt {self.receipt_no} is for {self.amount}, less than the {due} due"))
        try:
            with session.begin_nested():  # the row version makes the second of two concurrent uses miss the row
                fire(self, "use", user, (), session, comment=f"{record.number}", data={"record": record}, system=True)
        except StaleDataError:
            session.refresh(self)
            if self.state == "unused":  # changed by finance meanwhile, not used
                raise WorkflowError(
                    T("收据刚被财务修改，请刷新后再办理", "Finance changed the receipt; reload")
                ) from None
            raise WorkflowError(self.not_offered()) from None

    @transition(source="unused", target="used", roles=(), label=T("划“已办”", "Mark used"),
                done=T("收据已划“已办”", "Receipt marked used"))
    def use(self, ctx):
        """System step: a worker pass or an extension takes this receipt (篇5 §2 e: 在收据上划上"已办"字样)."""
        record = ctx.data["record"]
        self.consumed_register, self.consumed_id = record.__tablename__, record.id
        self.consumed_number, self.consumed_at = record.number, now()


PAY_METHOD = {"cash": T("现金", "Cash"), "card": T("刷卡", "Bank card"), "wechat": T("微信", "WeChat Pay"),
              "alipay": T("支付宝", "Alipay"), "transfer": T("银行转账", "Bank transfer")}
MANAGEMENT_FEE = "management_fee"


def month_start(d: date, months: int = 0) -> date:
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


class FeePayment(Voidable, Numbered, PropertyScoped, Tracked, Register, db.Model):
    """物业管理费的收缴 at the desk (篇2 §4): the clerk takes the payment and writes the receipt; the amount comes
    from the fee table (rate x floor area x months), never typed; finance confirms it against the money, which
    books it."""

    __tablename__ = "fee_payment"
    __label__ = T("物业管理费收缴", "Management fee collection")
    grants = dict(clerk=KEEP, cs_admin=KEEP, finance=READ, supervisor=READ, manager=READ)
    void_roles = ("cs_admin", "finance")
    number_prefix = "WY"
    states = {"recorded": T("待财务确认", "Awaiting finance"), "confirmed": T("财务已确认", "Confirmed by finance")}
    initial_state = "recorded"
    locked_states = ("confirmed",)
    open_states = ("recorded",)
    unit_id: Mapped[int] = field(T("房号", "Unit"), ForeignKey("unit.id"), nullable=False, index=True)
    unit = link("Unit", T("房号", "Unit"))
    payer: Mapped[str] = field(T("交款人", "Payer"), String(40), nullable=False)
    period_from: Mapped[date] = field(T("缴费起始月", "From month"), Date, nullable=False,
                                      description=T("填该月任意一天即可", "Any day of the first month"))
    months: Mapped[int] = field(T("缴费月数", "Months"), Integer, nullable=False, default=1, validators=["positive"])
    period_to: Mapped[date | None] = field(T("缴费截止月", "To month"), Date)
    floor_area: Mapped[Decimal | None] = field(T("建筑面积(㎡)", "Floor area (m²)"), Numeric(8, 2))
    rate: Mapped[Decimal | None] = field(T("收费标准(元/㎡·月)", "Rate (CNY/m²·month)"), Numeric(10, 2))
    fee_item_id: Mapped[int | None] = field(T("收费项目", "Fee item"), ForeignKey("fee_item.id"))
    fee_item = link("FeeItem", T("收费项目", "Fee item"))
    amount: Mapped[Decimal | None] = field(T("金额(元)", "Amount (CNY)"), Numeric(10, 2))
    method: Mapped[str] = field(T("付款方式", "Paid by"), String(12), nullable=False, default="cash",
                                choices=PAY_METHOD)
    receipt_no: Mapped[str] = field(T("收据号", "Receipt number"), String(30), nullable=False, index=True)
    # fee_payment replaces Numbered's table arguments: its indexes repeated here
    __table_args__ = (UniqueConstraint("property_id", "number"), UniqueConstraint("property_id", "receipt_no"),
                      Index("ix_fee_payment_property_state_id", "property_id", "state", "id"),
                      Index("ix_fee_payment_property_creator", "property_id", "created_by_id", "created_at"),
                      Index("ix_fee_payment_property_id_id", "property_id", "id"))

    def __str__(self):
        return f"{self.number} {self.unit} {self.amount}元"

    def clean(self):
        """The server prices it from the fee table in force and the unit's floor area; a month is paid once."""
        session = db.session
        if self.months is None or self.months < 1 or self.months > 36:
            return {"months": T("缴费月数须在1到36之间", "Between 1 and 36 months")}
        self.period_from = month_start(self.period_from)
        self.period_to = month_start(self.period_from, self.months - 1)
        unit = self.unit or (session.get(Unit, self.unit_id) if self.unit_id else None)
        if unit is None or not unit.floor_area:
            return {"unit": T("该房号没有建筑面积，无法按收费标准计算；请先在房号资料中补全建筑面积",
                              "The unit has no floor area on file; complete the unit first")}
        item = FeeItem.in_force(session, self.property_id, MANAGEMENT_FEE)
        if item is None:
            return {"unit": T("价格表中没有当前有效的物业管理费标准，请IT先录入", "No management fee in force; ask IT")}
        self.fee_item_id, self.rate, self.floor_area = item.id, item.amount, unit.floor_area
        self.amount = (item.amount * unit.floor_area * self.months).quantize(Decimal("0.01"))
        paid = session.scalar(select(FeePayment).where(
            FeePayment.property_id == self.property_id, FeePayment.unit_id == unit.id, FeePayment.state != "void",
            FeePayment.id != (self.id or 0), FeePayment.period_from <= self.period_to,
            FeePayment.period_to >= self.period_from).limit(1))
        if paid is not None:
            return {
                "period_from": T(
                    f"该房号 {paid.period_from:%Y-%m} 至 {paid.period_to:%Y-%m} 的物业管理费已由 {paid.number} "
                    f"收取，请勿重复收费",
                    f"Those months were already paid ({paid.number})",
                )
            }
        return None

    # 篇2 §4: the desk collects; finance reconciles the money with the receipt and books it in its ledger.
    @transition(source="recorded", target="confirmed", roles=("finance",), label=T("财务确认入账", "Finance confirms"),
                done=T("财务已确认，已入账", "Confirmed and booked"), sign_off=True, bulk=True,
                requires=("amount", "period_to", "receipt_no"))
    def confirm(self, ctx):
        ctx.session.add(Payment(property_id=self.property_id, receipt_no=self.receipt_no, kind=MANAGEMENT_FEE,
                                payer=self.payer, unit_id=self.unit_id, fee_item_id=self.fee_item_id,
                                quantity=self.months, amount=self.amount, state="confirmed",
                                linked_register=self.__tablename__, linked_id=self.id,
                                note=f"{self.period_from:%Y-%m}～{self.period_to:%Y-%m} {PAY_METHOD[self.method].zh}"))
