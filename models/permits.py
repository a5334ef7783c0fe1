"""Passes and permits (source 篇5 §1-5, §11-12): applications, reviews, stamps; immutable once issued."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Numeric, String, Text, select
from sqlalchemy.orm import Mapped

from kernel.attachments import Document
from kernel.clock import now, today
from kernel.db import db
from kernel.i18n import T
from kernel.permissions import DESK, KEEP, READ, VIEW
from kernel.pii import blind_index, encrypted_field
from kernel.register import Numbered, PropertyScoped, Register, Retention, Tracked, Verify, field, in_states, link
from kernel.workflow import VOID_REASON, Voidable, WorkflowError, fire, transition
from models.master import FeeItem, Payment

# Those who approve read every application. Company-wide oversight is totals per property, never the passes.
APPROVERS = dict(supervisor=READ, manager=READ)
DUTY_SUPERVISOR = ("supervisor", "cs_admin")  # 值班主任: whoever supervises the desk on duty
WORK_KIND = {
    "wall": T("打墙", "Wall"),
    "drilling": T("打孔", "Drilling"),
    "security_door": T("安装防盗门", "Security door"),
    "guard_rail": T("防护栏", "Guard rails"),
    "screen": T("防蚊纱窗", "Screens"),
}


def owner_refusal(applicant, unit_id: int) -> dict | None:
    """An application made by a resident: only the owner of that unit (篇5 §2 c, §3 a: 业主或业主委托的装修负责人)."""
    if applicant.unit_id != unit_id:
        return {"applicant": T("该业户不是此房号的住户", "This resident does not live in this unit")}
    if applicant.kind != "owner":
        return {"applicant": T("只能由业主或业主委托的装修负责人办理",
                               "Only the owner or the owner's renovation lead may apply")}
    return None


def months_later(d: date, months: int) -> date:
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(y, m, day)
        except ValueError:
            continue


class Application(Voidable, Numbered, PropertyScoped, Tracked, Register):
    """Applied for by the owner or the owner's renovation lead (source 篇5: 确认是业主或装修负责人)."""

    grants = dict(clerk=KEEP, cs_admin=KEEP, engineering=VIEW, **APPROVERS)
    void_roles = ("cs_admin", "manager")

    unit_id: Mapped[int] = field(T("房号", "Unit"), ForeignKey("unit.id"), nullable=False, index=True)
    applicant_id: Mapped[int | None] = field(T("申请业主", "Applying owner"), ForeignKey("resident.id"))
    lead_name: Mapped[str | None] = field(T("或：装修负责人", "Or: renovation lead"), String(40))

    def applicant_refusal(self, session):
        if self.applicant is not None:
            return owner_refusal(self.applicant, self.unit_id)
        if self.lead_name:
            permit = RenovationPermit.active_for(session, self.unit_id)
            if permit is None or permit.lead_name != self.lead_name.strip():
                return {
                    "lead_name": T(
                        "不是本房号有效装修许可证上的装修负责人",
                        "Not the renovation lead of a valid permit for this unit",
                    )
                }
            return None
        return {"applicant": T("请选择申请业主或填写装修负责人", "Choose the owner or enter the renovation lead")}

    def clean(self):
        return self.applicant_refusal(db.session)


class RenovationPermit(Application, db.Model):
    __tablename__ = "renovation_permit"
    __label__ = T("装修申请/许可证", "Renovation permits")
    grants = dict(clerk=KEEP + ("reveal",), cs_admin=KEEP + ("reveal",), engineering=VIEW, finance=VIEW, **APPROVERS)
    number_prefix = "ZX"
    states = {"submitted": T("已提交", "Submitted"), "approved": T("已批准", "Approved"),
              "rejected": T("已驳回", "Rejected"), "void": T("作废", "Void")}
    initial_state = "submitted"
    locked_states = ("approved", "rejected", "void")
    unit = link("Unit", T("房号", "Unit"))
    applicant = link("Resident", T("申请业主", "Applying owner"))
    lead_name: Mapped[str] = field(T("装修负责人", "Renovation lead"), String(40), nullable=False)
    lead_phone: Mapped[str | None] = field(T("负责人电话", "Lead's phone"), String(20), validators=["phone"])
    lead_id_number: Mapped[str | None] = encrypted_field(T("负责人身份证号", "Lead's ID number"),
                                                         validators=["id_number"])
    lead_id_number_hash: Mapped[str | None] = blind_index("lead_id_number")
    retention = Retention(start="end_on", days=3 * 365)
    content: Mapped[str] = field(T("装修内容", "Works"), Text, nullable=False)
    start_on: Mapped[date] = field(T("开工日期", "Start"), Date, nullable=False, default=today)
    end_on: Mapped[date | None] = field(T("完工期限", "End"), Date,
                                        description=T("留空则为开工后3个月", "Empty: 3 months after the start"))

    def __str__(self):
        return f"{self.number} {self.unit}"

    def clean(self):
        if self.applicant is None:
            return {"applicant": T("装修申请须由业主办理", "The owner applies for the permit")}
        if self.end_on is None and self.start_on:
            self.end_on = months_later(self.start_on, 3)
        if self.end_on and self.start_on and self.end_on < self.start_on:
            return {"end_on": T("完工期限不能早于开工日期", "The end is before the start")}
        return self.applicant_refusal(db.session)

    @classmethod
    def active_for(cls, session, unit_id, on: date | None = None):
        on = on or today()
        return session.scalars(select(cls).where(cls.unit_id == unit_id, cls.state == "approved",
                                                 cls.start_on <= on, cls.end_on >= on)
                               .order_by(cls.end_on.desc()).limit(1)).first()

    @transition(source="submitted", target="approved", roles=("manager",), label=T("批准", "Approve"),
                sign_off=True, bulk=True)
    def approve(self, ctx):
        pass

    @transition(source="submitted", target="rejected", roles=("manager",), label=T("驳回", "Reject"),
                sign_off=True, comment_required=True, waits=False, destructive=True)
    def reject(self, ctx):
        pass

    @transition(source=("submitted", "approved"), target="void", roles=("manager",), label=T("作废", "Void"),
                comment_required=True, destructive=True)
    def void(self, ctx):
        for p in ctx.session.scalars(select(WorkerPass).where(WorkerPass.permit_id == self.id,
                                                              WorkerPass.state == "issued")).all():
            fire(
                p, "void_with_permit", ctx.user, (), ctx.session, comment=f"装修许可证 {self.number} 作废", system=True
            )


class WorkerPass(Voidable, Numbered, PropertyScoped, Tracked, Register, db.Model):
    """Never edited after issue: a change is a reissue (new number, old one superseded and linked)."""

    __tablename__ = "worker_pass"
    __label__ = T("装修人员出入证", "Worker passes")
    grants = dict(clerk=KEEP + ("reveal",), cs_admin=KEEP + ("reveal",), finance=READ, engineering=VIEW,
                  **APPROVERS)
    retention = Retention(start="valid_until", days=365)
    # 篇5 §2 e: the worker's ID copy and a one-inch photo, before the pass is issued
    documents = (Document("id_copy", T("身份证复印件", "ID copy"), required_before="issue", personal=True,
                          flag="id_copy_on_file"),
                 Document("photo", T("一寸照片", "One-inch photo"), required_before="issue", personal=True,
                          flag="photo_on_file"))
    verify = Verify(shown=("worker_name", "unit", "valid_until"))
    number_prefix = "CZ"
    states = {"draft": T("草稿", "Draft"), "issued": T("已签发", "Issued"), "superseded": T("已换发", "Superseded"),
              "returned": T("已退证(待退押金)", "Card returned"), "refunded": T("已退押金", "Deposit refunded"),
              "void": T("作废", "Void")}
    initial_state = "draft"
    locked_states = ("issued", "superseded", "returned", "refunded", "void")
    permit_id: Mapped[int] = field(
        T("装修许可证", "Permit"), ForeignKey("renovation_permit.id"), nullable=False, index=True
    )
    permit = link("RenovationPermit", T("装修许可证", "Permit"))
    # 篇5 §2 a-c: who applies (办证人) is the unit's owner or this permit's renovation lead, checked like any
    # application
    applicant_id: Mapped[int | None] = field(T("申请业主", "Applying owner"), ForeignKey("resident.id"))
    applicant = link("Resident", T("申请业主", "Applying owner"))
    lead_name: Mapped[str | None] = field(T("或：装修负责人", "Or: renovation lead"), String(40))
    worker_name: Mapped[str] = field(T("施工人员姓名", "Worker"), String(40), nullable=False, index=True)
    worker_id_number: Mapped[str | None] = encrypted_field(T("身份证号", "ID number"),
                                                           validators=["required", "id_number"])
    worker_id_number_hash: Mapped[str | None] = blind_index("worker_id_number")
    photo_on_file: Mapped[bool] = field(T("已收一寸照片", "Photo on file"), Boolean, default=False, nullable=False)
    id_copy_on_file: Mapped[bool] = field(
        T("已收身份证复印件", "ID copy on file"), Boolean, default=False, nullable=False
    )
    valid_until: Mapped[date | None] = field(T("有效期至", "Valid until"), Date,
                                             description=T("不得超过装修许可证期限；留空即为许可证期限",
                                                           "Not past the permit's end; empty: the permit's end"))
    deposit: Mapped[Decimal | None] = field(T("押金(元)", "Deposit"), Numeric(10, 2))
    fee: Mapped[Decimal | None] = field(T("工本费(元)", "Fee"), Numeric(10, 2))
    # 篇5 §2 d-e: the lead pays at finance; the desk takes that receipt and strikes it 已办: used once (Receipt)
    receipt_id: Mapped[int | None] = field(T("财务收据", "Finance receipt"), ForeignKey("receipt.id"), index=True)
    receipt = link("Receipt", T("财务收据", "Finance receipt"))
    receipt_no: Mapped[str | None] = field(T("财务收据号", "Finance receipt"), String(30), index=True)
    signed_by_lead: Mapped[bool] = field(
        T("装修负责人已签收", "Signed for by the lead"), Boolean, default=False, nullable=False
    )
    # 篇5 §2 g: the renovation lead signs the register's 签收人 column, then finance stamps it
    signed_for_by: Mapped[str | None] = field(T("签收人(装修负责人)", "Signed for by (the lead)"), String(40))
    finance_stamped_at: Mapped[datetime | None] = field(T("财务盖章时间", "Stamped by finance at"), DateTime)
    supersedes_id: Mapped[int | None] = field(T("换发自", "Reissue of"), ForeignKey("worker_pass.id"))
    supersedes = link(
        "WorkerPass", T("换发自", "Reissue of"), remote_side="WorkerPass.id", foreign_keys=[supersedes_id]
    )
    superseded_by_id: Mapped[int | None] = field(T("已换发为", "Replaced by"), ForeignKey("worker_pass.id"))
    superseded_by = link("WorkerPass", T("已换发为", "Replaced by"), remote_side="WorkerPass.id",
                         foreign_keys=[superseded_by_id], post_update=True)
    reissue_reason: Mapped[str | None] = field(T("换发原因", "Reissue reason"), String(80))
    reissue_valid_until: Mapped[date | None] = field(T("换发后有效期至", "New valid until"), Date)
    return_reason: Mapped[str | None] = field(T("退证原因", "Return reason"), String(80))

    def __str__(self):
        return f"{self.number} {self.worker_name}"

    @property
    def unit(self):
        return self.permit.unit if self.permit is not None else None

    def applicant_refusal(self):
        """篇5 §2 c: 确认办证人是否是业主或装修负责人: the owner of the permit's unit or the lead named on this
        permit."""
        permit = self.permit
        if self.applicant is not None:
            return owner_refusal(self.applicant, permit.unit_id)
        if self.lead_name:
            if self.lead_name.strip() != (permit.lead_name or "").strip():
                return {"lead_name": T(f"不是该装修许可证上的装修负责人（许可证登记为：{permit.lead_name}）",
                                       f"Not the renovation lead on this permit ({permit.lead_name})")}
            return None
        return {"applicant": T("请选择申请业主或填写装修负责人", "Choose the owner or enter the renovation lead")}

    def clean(self):
        permit = self.permit
        if permit is None or permit.state != "approved" or (permit.end_on and permit.end_on < today()):
            return {"permit": T("须凭已批准且未过期的装修许可证办理", "Needs an approved, unexpired renovation permit")}
        if (why := self.applicant_refusal()) is not None:
            return why
        if self.valid_until is None:
            self.valid_until = permit.end_on
        if self.valid_until > permit.end_on:
            return {
                "valid_until": T(
                    f"有效期不能超过许可证期限 {permit.end_on}",
                    f"Cannot be valid past the permit's end {permit.end_on}",
                )
            }
        if self.valid_until < today():
            return {"valid_until": T("有效期已过", "Already expired")}

    def on_create(self, session):
        permit = self.permit or (session.get(RenovationPermit, self.permit_id) if self.permit_id else None)
        if permit is None:
            return
        for attr, code in (("deposit", "worker_pass_deposit"), ("fee", "worker_pass_fee")):
            item = FeeItem.in_force(session, self.property_id, code)
            if item is None:
                raise WorkflowError(T(f"价格表中没有当前有效的“{code}”", f"No price in force for “{code}”"))
            setattr(self, attr, item.amount)

    def _payment(self, session, kind, amount, code, receipt_no):
        session.add(Payment(property_id=self.property_id, receipt_no=receipt_no, kind=kind,
                            payer=self.permit.lead_name, unit_id=self.permit.unit_id,
                            fee_item_id=(FeeItem.in_force(session, self.property_id, code) or FeeItem()).id,
                            quantity=1, amount=amount, linked_register=self.__tablename__, linked_id=self.id))

    @property
    def verdict(self) -> str:
        if self.state == "superseded":
            return "superseded"
        if self.state in ("void", "returned", "refunded", "draft"):
            return "void"
        if self.valid_until and self.valid_until < today():
            return "expired"
        return "valid"

    @transition(source="draft", target="issued", roles=DESK, label=T("签发", "Issue"),
                requires=("receipt_id", "signed_for_by"), fields=("receipt", "signed_for_by"),  # and `documents`
                conditions=(lambda r: None if (r.signed_for_by or "").strip() == (r.permit.lead_name or "").strip()
                            else T(f"签收人须为该装修许可证上的装修负责人“{r.permit.lead_name}”本人签字",
                                   f"The renovation lead on the permit, {r.permit.lead_name}, signs for the card"),))
    def issue(self, ctx):
        if self.clean():
            raise WorkflowError(next(iter(self.clean().values())))
        self.signed_for_by, self.signed_by_lead = self.signed_for_by.strip(), True
        self.receipt.consume(ctx.session, self, ctx.user, "worker_pass", (self.deposit or 0) + (self.fee or 0))
        self.receipt_no = self.receipt.receipt_no
        self._payment(ctx.session, "deposit", self.deposit, "worker_pass_deposit", self.receipt_no)
        self._payment(ctx.session, "fee", self.fee, "worker_pass_fee", self.receipt_no)

    @transition(source="issued", target="superseded", roles=DESK, label=T("换发(重办)", "Reissue"),
                fields=("reissue_reason", "reissue_valid_until"), requires=("reissue_reason",))
    def reissue(self, ctx):
        self.reissue_to(ctx.session, ctx.user, self.reissue_valid_until or self.valid_until, supersede=False)

    def reissue_to(self, session, user, valid_until, supersede=True):
        """The new pass carries everything over; no new deposit: the one held moves with the worker."""
        valid_until = valid_until or self.permit.end_on
        if valid_until is None or self.permit.end_on is None:
            raise WorkflowError(
                T("装修许可证没有完工期限，请先补全许可证", "The permit has no end date; complete it first")
            )
        if valid_until > self.permit.end_on:
            raise WorkflowError(
                T(f"有效期不能超过许可证期限 {self.permit.end_on}", f"Cannot be valid past {self.permit.end_on}")
            )
        new = WorkerPass(property_id=self.property_id, permit_id=self.permit_id, worker_name=self.worker_name,
                         worker_id_number=self.worker_id_number, photo_on_file=True, id_copy_on_file=True,
                         valid_until=valid_until, deposit=self.deposit, fee=Decimal("0"), receipt_id=self.receipt_id,
                         receipt_no=self.receipt_no, applicant_id=self.applicant_id, lead_name=self.lead_name,
                         signed_for_by=self.signed_for_by, finance_stamped_at=self.finance_stamped_at,
                         signed_by_lead=self.signed_by_lead, supersedes_id=self.id, state="draft")
        session.add(new)
        session.flush()
        fire(new, "issue_reissued", user, (), session, comment=f"换发自 {self.number}", system=True)
        self.superseded_by_id = new.id
        if supersede:  # the reissue step moves this pass itself; an extension supersedes it here
            fire(self, "supersede", user, (), session, comment=f"换发为 {new.number}", system=True)
        return new

    @transition(source="draft", target="issued", roles=(), label=T("换发签发", "Issued as a reissue"))
    def issue_reissued(self, ctx):
        """System step: the new pass of a reissue is issued with the old one's deposit, no new payment."""

    @transition(source="issued", target="superseded", roles=(), label=T("已换发", "Superseded"))
    def supersede(self, ctx):
        """System step: an extension of the permit re-makes every active pass (source 篇5 §3 f)."""

    @transition(source="issued", target="void", roles=(), label=T("随许可证作废", "Void with the permit"))
    def void_with_permit(self, ctx):
        """System step: a voided renovation permit voids the passes issued under it."""

    # 篇5 §2 g: 再到财务处盖章: finance stamps the register line of an issued card, once.
    @transition(
        source="issued",
        target=None,
        roles=("finance",),
        label=T("财务盖章", "Finance stamps"),
        done=T("财务已盖章", "Stamped by finance"),
        sign_off=True,
        conditions=(lambda r: T("财务已盖过章", "Finance has already stamped it") if r.finance_stamped_at else None,),
    )
    def finance_stamp(self, ctx):
        self.finance_stamped_at = now()

    # The desk takes the card back; finance pays the deposit back and books it (篇5 §2 d: 押金 is finance's).
    @transition(source="issued", target="returned", roles=DESK, label=T("收回出入证", "Card returned"),
                done=T("已收回出入证，待财务退押金", "Card returned; finance refunds the deposit"),
                fields=("return_reason",))
    def return_pass(self, ctx):
        pass

    @transition(source="returned", target="refunded", roles=("finance",), label=T("退押金", "Refund the deposit"),
                destructive=True, waits=True)
    def refund_deposit(self, ctx):
        self._payment(ctx.session, "refund", self.deposit, "worker_pass_deposit", f"{self.receipt_no}-R")

    @transition(source=("draft", "issued"), target="void", roles=("cs_admin", "manager"), label=T("作废", "Void"),
                comment_required=True, destructive=True)
    def void(self, ctx):
        pass


class GoodsPass(Voidable, Numbered, PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "goods_pass"
    __label__ = T("物品放行条", "Goods passes")
    grants = dict(clerk=KEEP + ("reveal",), cs_admin=KEEP + ("reveal",), **APPROVERS)
    retention = Retention(start="valid_on", days=365)
    # 篇5 §1 b: the carrier's ID is written on the pass; its copy is on file before the duty supervisor signs
    documents = (
        Document("id_copy", T("运出人身份证复印件", "Carrier's ID copy"), required_before="sign", personal=True),
    )
    open_states = ("draft", "signed")
    verify = Verify(shown=("unit", "carrier_name", "items", "valid_on"), guard_step="exit")
    number_prefix = "FX"
    states = {"draft": T("草稿", "Draft"), "signed": T("值班主任已签字", "Signed"), "issued": T("已盖章签发", "Issued"),
              "exited": T("已放行", "Exited"), "void": T("作废", "Void")}
    initial_state = "draft"
    locked_states = ("issued", "exited", "void")
    unit_id: Mapped[int] = field(T("房号", "Unit"), ForeignKey("unit.id"), nullable=False, index=True)
    unit = link("Unit", T("房号", "Unit"))
    applicant_id: Mapped[int | None] = field(T("办证人", "Applicant"), ForeignKey("resident.id"))
    applicant = link("Resident", T("办证人", "Applicant"))
    lead_name: Mapped[str | None] = field(T("或：装修负责人", "Or: renovation lead"), String(40))
    carrier_name: Mapped[str] = field(T("运出人姓名", "Carrier"), String(40), nullable=False)
    carrier_id_number: Mapped[str | None] = encrypted_field(T("运出人身份证号", "Carrier's ID number"),
                                                            validators=["required", "id_number"])
    carrier_id_number_hash: Mapped[str | None] = blind_index("carrier_id_number")
    items: Mapped[str] = field(T("搬出物品", "Items"), Text, nullable=False)
    owner_signed: Mapped[bool] = field(T("办证人已签字", "Applicant signed"), Boolean, default=False, nullable=False)
    owner_consent: Mapped[bool] = field(T("租户搬出已获业主同意", "Owner consents (tenant)"), Boolean, default=False,
                                        nullable=False)
    exited_at: Mapped[datetime | None] = field(T("放行时间", "Exited at"), DateTime)
    valid_on: Mapped[date] = field(T("放行日期", "For the date"), Date, nullable=False, default=today)

    applicant_refusal = Application.applicant_refusal

    def clean(self):
        if self.applicant is not None and self.applicant.kind == "tenant":
            if self.applicant.unit_id != self.unit_id:
                return {"applicant": T("该业户不是此房号的住户", "This resident does not live in this unit")}
            if not self.owner_consent:
                return {"owner_consent": T("租户搬出物品须经业主同意", "A tenant needs the owner's consent")}
        elif (why := self.applicant_refusal(db.session)):
            return why
        if not self.owner_signed:
            return {"owner_signed": T("须由办证人签字确认", "The applicant must sign")}

    @property
    def verdict(self) -> str:
        if self.state == "void" or self.state in ("draft", "signed"):
            return "void"
        if self.state == "exited":
            return "used"
        return "expired" if self.valid_on < today() else "valid"

    @transition(
        source="draft",
        target="signed",
        roles=DUTY_SUPERVISOR,
        label=T("值班主任签字", "Duty supervisor signs"),
        sign_off=True,
        bulk=True,
    )
    def sign(self, ctx):
        pass

    @transition(source="signed", target="issued", roles=("manager",), label=T("盖章", "Stamp"), sign_off=True,
                distinct_from=("sign",), bulk=True)
    def stamp(self, ctx):
        pass

    @transition(
        source="issued", target="exited", roles=("guard",), label=T("放行", "Let out"), done=T("已放行", "Let out")
    )
    def exit(self, ctx):
        if self.valid_on < today():
            raise WorkflowError(T("放行条已过期", "This pass has expired"))
        self.exited_at = now()

    @transition(
        source=("draft", "signed", "issued"),
        target="void",
        roles=("cs_admin", "manager"),
        label=T("作废", "Void"),
        comment_required=True,
        destructive=True,
    )
    def void(self, ctx):
        pass


class ReviewedByEngineering:
    """The engineering lead reviews, then the manager approves (source 篇5 §3c, §4c); either may reject."""

    @transition(
        source="submitted",
        target="reviewed",
        roles=("engineering",),
        label=T("工程部审核", "Engineering review"),
        sign_off=True,
    )
    def review(self, ctx):
        pass

    @transition(source="reviewed", target="approved", roles=("manager",), label=T("批准", "Approve"), sign_off=True,
                distinct_from=("review",), bulk=True)
    def approve(self, ctx):
        pass

    @transition(source=("submitted", "reviewed"), target="rejected", roles=("engineering", "manager"),
                label=T("驳回", "Reject"), comment_required=True, sign_off=True, waits=False,
                destructive=True)
    def reject(self, ctx):
        pass


class RenovationExtension(ReviewedByEngineering, Voidable, Numbered, PropertyScoped, Tracked, Register, db.Model):
    __tablename__ = "renovation_extension"
    __label__ = T("装修延期申请", "Renovation extensions")
    grants = dict(clerk=KEEP, cs_admin=KEEP, engineering=VIEW, finance=VIEW, **APPROVERS)
    void_roles = ("cs_admin", "manager")
    open_states = ("submitted", "reviewed", "approved")
    number_prefix = "YQ"
    states = {"submitted": T("已提交", "Submitted"), "reviewed": T("工程部已审核", "Reviewed"),
              "approved": T("已批准", "Approved"), "done": T("已延期", "Extended"), "rejected": T("已驳回", "Rejected")}
    initial_state = "submitted"
    locked_states = ("approved", "done", "rejected")
    permit_id: Mapped[int] = field(
        T("装修许可证", "Permit"), ForeignKey("renovation_permit.id"), nullable=False, index=True
    )
    permit = link("RenovationPermit", T("装修许可证", "Permit"))
    new_end_on: Mapped[date] = field(T("延期至", "Extend to"), Date, nullable=False)
    reason: Mapped[str] = field(T("延期原因", "Reason"), Text, nullable=False)
    fee_due: Mapped[Decimal] = field(T("应交费用(元)", "Fee due"), Numeric(10, 2), nullable=False, default=0,
                                     validators=["non_negative"])
    fee_receipt_id: Mapped[int | None] = field(T("交费收据", "Fee receipt"), ForeignKey("receipt.id"))
    fee_receipt = link("Receipt", T("交费收据", "Fee receipt"))
    fee_receipt_no: Mapped[str | None] = field(T("交费收据号", "Fee receipt"), String(30))

    def clean(self):
        p = self.permit
        if p is None or p.state != "approved":
            return {"permit": T("只能延期已批准的装修许可证", "Only an approved permit can be extended")}
        if self.new_end_on and p.end_on and self.new_end_on <= p.end_on:
            return {"new_end_on": T(f"延期日期须晚于原期限 {p.end_on}", f"Must be after the current end {p.end_on}")}

    # 篇5 §3 d-f: the desk tells the applicant to pay, re-registers the date and re-makes the passes; finance only
    # issues the receipt the desk enters here.
    @transition(
        source="approved",
        target="done",
        roles=DESK,
        label=T("登记延期并重办出入证", "Extend and reissue passes"),
        fields=("fee_receipt",),
        conditions=(
            lambda r: (
                T("应交费用尚未交纳(请选择财务收据)", "The fee is not paid yet (pick the receipt)")
                if r.fee_due and r.fee_receipt_id is None
                else None
            ),
        ),
    )
    def extend(self, ctx):
        """Source 篇5 §3 e-f: the new end goes into the register and every pass is re-made, never re-dated."""
        if self.fee_due:
            self.fee_receipt.consume(ctx.session, self, ctx.user, "renovation_extension", self.fee_due)
            self.fee_receipt_no = self.fee_receipt.receipt_no
        else:
            self.fee_receipt = None  # nothing due: no receipt is used up
        self.permit.end_on = self.new_end_on
        for p in ctx.session.scalars(select(WorkerPass).where(WorkerPass.permit_id == self.permit_id,
                                                              WorkerPass.state == "issued")).all():
            p.reissue_reason = f"装修延期 {self.number}"
            p.reissue_to(ctx.session, ctx.user, self.new_end_on)
        if self.fee_due:
            ctx.session.add(Payment(property_id=self.property_id, receipt_no=self.fee_receipt_no, kind="fee",
                                    payer=self.permit.lead_name, unit_id=self.permit.unit_id, quantity=1,
                                    amount=self.fee_due, linked_register=self.__tablename__, linked_id=self.id))


class AdditionalWorks(ReviewedByEngineering, Application, db.Model):
    __tablename__ = "additional_works"
    __label__ = T("装修增加项目申请", "Additional works")
    number_prefix = "ZJ"
    states = {
        "submitted": T("已提交", "Submitted"),
        "reviewed": T("工程部已审核", "Reviewed"),
        "approved": T("已批准", "Approved"),
        "archived": T("已存档", "Archived"),
        "rejected": T("已驳回", "Rejected"),
    }
    initial_state = "submitted"
    locked_states = ("approved", "archived", "rejected")
    unit = link("Unit", T("房号", "Unit"))
    applicant = link("Resident", T("申请业主", "Applying owner"))
    work_kind: Mapped[str] = field(T("项目", "Works"), String(16), nullable=False, choices=WORK_KIND)
    # 篇5 §4 c: once approved, a copy is kept on file and the original goes back to the applicant
    documents = (Document("approved_copy", T("已批申请表复印件(存档)", "Approved application copy"),
                          required_before="archive"),)
    description: Mapped[str] = field(T("说明", "Description"), Text, nullable=False)

    @transition(
        source="approved",
        target="archived",
        roles=DESK,
        label=T("复印存档，原件交申请人", "Archive (copy kept)"),
        done=T("已复印存档，原件已交申请人", "Copy filed, original handed to the applicant"),
    )
    def archive(self, ctx):
        pass


class HotWorkPermit(Application, db.Model):
    __tablename__ = "hot_work_permit"
    __label__ = T("动火许可证", "Hot-work permits")
    grants = dict(clerk=KEEP + ("reveal",), cs_admin=KEEP + ("reveal",), engineering=VIEW, safety=VIEW, **APPROVERS)
    open_states = ("submitted", "reviewed", "approved", "prepared", "stamped")
    verify = Verify(shown=("unit", "welder_name", "location", "window_start", "window_end"))
    # 篇5 §5 b, d: the welder's certificate and ID copies go with the application to the reviews (the reviewers
    # read the certificate, so it is not held back as personal; the ID copy is); §5 e: the issued permit is
    # copied for the file when the desk issues it.
    documents = (Document("welder_certificate", T("焊工证复印件", "Welder certificate copy"),
                          required_before=("review_engineering", "review_safety"), flag="welder_certificate_on_file"),
                 Document("id_copy", T("动火人身份证复印件", "Welder's ID copy"),
                          required_before=("review_engineering", "review_safety"), personal=True,
                          flag="id_copy_on_file"),
                 Document("permit_copy", T("许可证复印件(存档)", "Permit copy (file)"), required_before="issue"))
    document_retention = Retention(start="window_end", days=365)
    number_prefix = "DHZ"
    # 篇5 §5 e: approved → the desk writes the permit out → the director (主任) stamps it → the desk files a copy and
    # hands the original over: only then is it in force.
    states = {
        "submitted": T("已提交", "Submitted"),
        "reviewed": T("工程与安全已审核", "Reviewed"),
        "approved": T("已批准", "Approved"),
        "prepared": T("已开具，待主任盖章", "Written out, awaiting the stamp"),
        "stamped": T("主任已盖章，待交申请人", "Stamped, to hand over"),
        "issued": T("已签发", "Issued"),
        "rejected": T("已驳回", "Rejected"),
        "void": T("作废", "Void"),
    }
    initial_state = "submitted"
    locked_states = ("approved", "prepared", "stamped", "issued", "rejected", "void")
    unit = link("Unit", T("房号", "Unit"))
    applicant = link("Resident", T("申请业主", "Applying owner"))
    welder_name: Mapped[str] = field(T("动火人", "Welder"), String(40), nullable=False)
    welder_certificate_on_file: Mapped[bool] = field(T("已收焊工证复印件", "Welder certificate on file"), Boolean,
                                                     default=False, nullable=False)
    id_copy_on_file: Mapped[bool] = field(
        T("已收身份证复印件", "ID copy on file"), Boolean, default=False, nullable=False
    )
    location: Mapped[str] = field(T("动火部位", "Where"), String(80), nullable=False)
    window_start: Mapped[datetime] = field(T("动火开始", "From"), DateTime, nullable=False)
    window_end: Mapped[datetime] = field(T("动火结束", "Until"), DateTime, nullable=False)

    def clean(self):
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            return {"window_end": T("结束时间必须晚于开始时间", "The end must be after the start")}
        return self.applicant_refusal(db.session)

    @property
    def verdict(self) -> str:
        if self.state != "issued":
            return "void"
        return "expired" if self.window_end < now() else "valid"

    @transition(
        source="submitted",
        target="reviewed",
        roles=("engineering",),
        label=T("工程主管审核", "Engineering review"),
        sign_off=True,
        together_with=("review_engineering", "review_safety"),
        distinct_from=("review_safety",),
    )
    def review_engineering(self, ctx):
        pass

    @transition(
        source="submitted",
        target="reviewed",
        roles=("safety",),
        label=T("安全主管审核", "Safety review"),
        sign_off=True,
        together_with=("review_engineering", "review_safety"),
        distinct_from=("review_engineering",),
    )
    def review_safety(self, ctx):
        pass

    @transition(source="reviewed", target="approved", roles=("manager",), label=T("主任审批", "Approve"), sign_off=True,
                distinct_from=("review_engineering", "review_safety"), bulk=True)
    def approve(self, ctx):
        pass

    @transition(source=("submitted", "reviewed"), target="rejected", roles=("engineering", "safety", "manager"),
                label=T("驳回", "Reject"), comment_required=True, sign_off=True, waits=False,
                destructive=True)
    def reject(self, ctx):
        pass

    @transition(source="approved", target="prepared", roles=DESK, label=T("开具许可证", "Write out the permit"),
                done=T("许可证已开具，请交主任盖章", "Permit written out; take it to the director to stamp"))
    def prepare(self, ctx):
        pass

    # 篇5 §5 e: 交主任盖章: the director's own step, never part of the desk's button.
    @transition(source="prepared", target="stamped", roles=("manager",), label=T("主任盖章", "Director stamps"),
                done=T("主任已盖章", "Stamped by the director"), sign_off=True, bulk=True)
    def stamp(self, ctx):
        pass

    @transition(source="stamped", target="issued", roles=DESK, label=T("复印存档并交申请人", "File a copy, hand over"),
                done=T("许可证已签发：复印件已存档，原件已交申请人", "Issued: copy filed, original handed over"))
    def issue(self, ctx):
        pass

    # Rule 12: a permit is withdrawn (unsafe work, job cancelled, typing error found late) by those who supervise
    # hot work: the safety lead (安全主管, who reviews it) and the director (主任, who approves and stamps it), at
    # any point until it is finished; the desk voids only its own same-day typing mistake (void_own).
    @transition(source=("submitted", "reviewed", "approved", "prepared", "stamped", "issued"), target="void",
                roles=("safety", "manager"), label=T("作废", "Void"), done=T("许可证已作废", "Permit voided"),
                comment_required=True, comment_label=VOID_REASON, destructive=True)
    def void(self, ctx):
        pass


class StairElevatorUse(Application, db.Model):
    __tablename__ = "stair_elevator_use"
    __label__ = T("使用楼梯/电梯申请", "Stair / elevator use")
    number_prefix = "LT"
    # The lobby (guard) sees the applications handed to it and confirms the 承诺书 (篇5 §11 c, §12 d).
    grants = dict(clerk=KEEP, cs_admin=KEEP, engineering=VIEW, guard=VIEW, **APPROVERS)
    visible_rows = dict(guard=in_states("approved", "handed_over", "letter_received"))
    # 篇5 §11 c: the signed 承诺书 reaches the lobby assistant, who keeps a scan of it when confirming
    documents = (Document("commitment_letter", T("承诺书(签字)", "Signed commitment letter"),
                          required_before="confirm_letter"),)
    states = {"submitted": T("已提交", "Submitted"), "reviewed": T("工程部已审核", "Reviewed"),
              "approved": T("已批准", "Approved"), "handed_over": T("已交大堂", "Handed to lobby"),
              "letter_received": T("大堂已收承诺书", "Letter received by the lobby"),
              "rejected": T("已驳回", "Rejected")}
    initial_state = "submitted"
    locked_states = ("approved", "handed_over", "letter_received", "rejected")
    unit = link("Unit", T("房号", "Unit"))
    applicant = link("Resident", T("申请业主", "Applying owner"))
    kind: Mapped[str] = field(T("申请类别", "Kind"), String(16), nullable=False, default="stairs",
                              choices={"stairs": T("走楼梯(大件物品)", "Stairs (bulky items)"),
                                       "fire_elevator": T("消防梯(红砖、砂、石)", "Fire elevator (bricks, sand)")})
    materials: Mapped[str] = field(T("搬运物品", "Materials"), Text, nullable=False)
    use_on: Mapped[date] = field(T("使用日期", "Date of use"), Date, nullable=False, default=today)
    commitment_letter: Mapped[bool] = field(
        T("已签承诺书", "Commitment letter signed"), Boolean, default=False, nullable=False
    )
    letter_received_at: Mapped[datetime | None] = field(T("大堂收到承诺书时间", "Letter received at"), DateTime)

    def clean(self):
        if not self.commitment_letter:
            return {"commitment_letter": T("须签署承诺书", "The commitment letter is required")}
        return self.applicant_refusal(db.session)

    @transition(
        source="submitted",
        target="reviewed",
        roles=("engineering",),
        label=T("工程主管审核", "Engineering review"),
        sign_off=True,
        conditions=(
            lambda r: (
                None if r.kind == "fire_elevator" else T("走楼梯无需工程审核", "Stairs need no engineering review")
            ),
        ),
    )
    def review(self, ctx):
        pass

    # 当值管理员审批 (篇5 §12 c): the admin on duty, a supervisor when the CS admin entered it (nobody signs their own).
    @transition(source="reviewed", target="approved", roles=("cs_admin", "supervisor"),
                label=T("当值管理员审批", "Duty admin approves"), sign_off=True, distinct_from=("review",), bulk=True)
    def approve(self, ctx):
        pass

    @transition(
        source=("submitted", "approved"),
        target="handed_over",
        roles=DESK,
        label=T("交大堂助理", "Hand to lobby"),
        conditions=(
            lambda r: (
                T("消防梯须经工程审核、当值管理员审批", "The fire elevator needs review and approval first")
                if r.kind == "fire_elevator" and r.state != "approved"
                else None
            ),
        ),
    )
    def hand_over(self, ctx):
        pass

    # 篇5 §11 c, §12 d: the applicant brings the application and the 承诺书 to the lobby assistant, who confirms it.
    @transition(source="handed_over", target="letter_received", roles=("guard",),
                label=T("大堂确认收到承诺书", "Lobby confirms the commitment letter"))
    def confirm_letter(self, ctx):
        self.letter_received_at = now()
