"""Demo records for the registers, so each screen opens with something to click through. Idempotent."""
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from kernel.clock import now, today
from kernel.db import db
from kernel.identity import StaffUser
from models.desk import Complaint, MailItem, PhoneLog, RepairOrder
from models.duty import ChecklistItem, DutyLog, Roster, RosterAssignment
from models.master import Department, Receipt, Resident, Shift, Unit
from models.permits import GoodsPass, HotWorkPermit, RenovationPermit, WorkerPass


def _user(name):
    return db.session.scalar(select(StaffUser).where(StaffUser.username == name))


def desk_and_permits(props):
    for prop in props:
        if db.session.scalar(select(RepairOrder.id).where(RepairOrder.property_id == prop.id).limit(1)):
            continue
        clerk = _user("clerk" if prop.code == "A" else "clerk_b")
        pid, t = prop.id, now()
        units = db.session.scalars(select(Unit).where(Unit.property_id == pid).order_by(Unit.id).limit(40)).all()
        owners = {r.unit_id: r for r in db.session.scalars(select(Resident).where(
            Resident.property_id == pid, Resident.kind == "owner", Resident.unit_id.in_([u.id for u in units])))}
        eng = db.session.scalar(
            select(Department).where(Department.property_id == pid, Department.kind == "engineering")
        )
        samples = [("registered", "卫生间下水道堵塞", 2, False), ("registered", "入户门锁损坏，业主无法进门", 20, True),
                   ("dispatched", "客厅灯不亮", 30, False), ("completed", "厨房水龙头漏水", 300, False),
                   ("closed", "阳台排水不畅", 2000, False)]
        for i, (state, content, minutes_ago, urgent) in enumerate(samples):
            u = units[i]
            o = owners.get(u.id)
            received = t - timedelta(minutes=minutes_ago)
            db.session.add(
                RepairOrder(
                    property_id=pid,
                    unit_id=u.id,
                    contact=o.name if o else "业主",
                    phone=o.phone if o else "13800138000",
                    content=content,
                    urgent=urgent,
                    source="phone",
                    received_at=received,
                    state=state,
                    department_id=eng.id if state != "registered" else None,
                    dispatched_at=received + timedelta(minutes=2) if state != "registered" else None,
                    completed_at=received + timedelta(hours=2) if state in ("completed", "closed") else None,
                    visited_at=received + timedelta(hours=3) if state == "closed" else None,
                    created_by_id=clerk.id,
                )
            )
        db.session.add(Complaint(property_id=pid, unit_id=units[5].id, complainant="刘女士", phone="13912345678",
                                 content="楼上夜间装修噪音", created_by_id=clerk.id))
        db.session.add(PhoneLog(property_id=pid, caller="王先生", phone="13700001111", unit_id=units[6].id,
                                content="询问停水时间", created_by_id=clerk.id))
        db.session.add(MailItem(property_id=pid, unit_id=units[7].id, addressee="陈先生", kind="express",
                                tracking_no="SF1234567890", created_by_id=clerk.id))
        lead_unit = units[8]
        permit = RenovationPermit(
            property_id=pid,
            unit_id=lead_unit.id,
            applicant_id=owners[lead_unit.id].id if lead_unit.id in owners else None,
            lead_name="装修张师傅",
            lead_phone="13600001234",
            content="厨卫改造",
            start_on=today() - timedelta(days=10),
            end_on=today() + timedelta(days=80),
            state="approved",
            created_by_id=clerk.id,
        )
        db.session.add(permit)
        db.session.flush()
        fin = _user("finance") if prop.code == "A" else clerk
        used = Receipt(property_id=pid, receipt_no="CW-DEMO-1", amount=Decimal("105"), payer="装修张师傅",
                       unit_id=lead_unit.id, purpose="worker_pass", state="used", created_by_id=fin.id)
        db.session.add_all([used, Receipt(property_id=pid, receipt_no="CW-DEMO-2", amount=Decimal("105"),
                                          payer="装修张师傅", unit_id=lead_unit.id, purpose="worker_pass",
                                          created_by_id=fin.id)])
        db.session.flush()
        card = WorkerPass(
            property_id=pid,
            permit_id=permit.id,
            worker_name="王木工",
            worker_id_number="11010519491231002X",
            photo_on_file=True,
            id_copy_on_file=True,
            valid_until=permit.end_on,
            deposit=Decimal("100"),
            fee=Decimal("5"),
            receipt_id=used.id,
            receipt_no="CW-DEMO-1",
            signed_by_lead=True,
            lead_name="装修张师傅",
            signed_for_by="装修张师傅",
            state="issued",
            created_by_id=clerk.id,
        )
        db.session.add(card)
        db.session.flush()
        used.consumed_register, used.consumed_id, used.consumed_number, used.consumed_at = \
            "worker_pass", card.id, card.number, now()
        for state in ("draft", "signed"):
            u = units[9]
            db.session.add(
                GoodsPass(
                    property_id=pid,
                    unit_id=u.id,
                    applicant_id=owners[u.id].id if u.id in owners else None,
                    carrier_name="搬家公司李师傅",
                    carrier_id_number="11010519491231002X",
                    items="旧沙发一套、衣柜一个",
                    owner_signed=True,
                    state=state,
                    created_by_id=clerk.id,
                )
            )
        db.session.add(
            HotWorkPermit(
                property_id=pid,
                unit_id=lead_unit.id,
                lead_name="装修张师傅",
                welder_name="焊工赵",
                welder_certificate_on_file=True,
                id_copy_on_file=True,
                location="阳台护栏",
                window_start=t + timedelta(days=1),
                window_end=t + timedelta(days=1, hours=4),
                created_by_id=clerk.id,
            )
        )
        for name, qty in (("对讲机", 2), ("前台钥匙", 1), ("收据本", 1), ("放行条本", 1)):
            db.session.add(ChecklistItem(property_id=pid, name=name, quantity=qty))
        db.session.add(DutyLog(property_id=pid, content="3栋2单元电梯异响，已通知工程部", priority="high",
                               escalation="cs_admin", follow_up="following", created_by_id=clerk.id,
                               logged_at=t - timedelta(days=1), escalated_to="cs_admin",
                               escalated_at=t - timedelta(days=1)))
        shifts = {s.code: s for s in db.session.scalars(select(Shift).where(Shift.property_id == pid))}
        desk = [u for u in (_user("clerk"), _user("cs_admin")) if prop.code == "A"] or [
            _user("clerk_b"),
            _user("supervisor_b"),
        ]
        first = today().replace(day=1)
        roster = Roster(property_id=pid, month=first, state="filed", submitted_at=t - timedelta(days=40))
        roster.due_at = roster.submitted_at + timedelta(days=5)
        db.session.add(roster)
        db.session.flush()
        day = first
        while day.month == first.month:
            db.session.add(RosterAssignment(roster_id=roster.id, property_id=pid, staff_id=desk[0].id, day=day,
                                            shift_id=shifts["early"].id))
            db.session.add(RosterAssignment(roster_id=roster.id, property_id=pid, staff_id=desk[1].id, day=day,
                                            shift_id=shifts["late"].id))
            day += timedelta(days=1)
    db.session.commit()
