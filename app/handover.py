"""What a handover carries over, and who may take over: read from the registers, not typed again."""

from sqlalchemy import func, select

from models.base import model_for


# register -> states that are still open at a handover
OPEN_STATES = {
    "repair_order": ("registered", "dispatched", "on_site", "completed"),
    "complaint": ("recorded", "forwarded", "replied"),
    "incident": ("open",),
    "goods_pass": ("draft", "signed"),
    "mail_item": ("received", "notified"),
    "hot_work_permit": ("submitted", "reviewed", "approved"),
    "renovation_extension": ("submitted", "reviewed", "approved"),
    "leave_request": ("submitted",),
}



def open_records(session, property_id):
    """(register label, count, up to 5 numbers) for every register with open records."""
    out = []
    for name, states in OPEN_STATES.items():
        model = model_for(name)
        q = select(model.number).where(model.property_id == property_id, model.state.in_(states))
        numbers = session.scalars(q.order_by(model.id).limit(5)).all()
        if numbers:
            count = session.scalar(select(func.count()).select_from(model).where(
                model.property_id == property_id, model.state.in_(states)))
            out.append((model.__label__, count, numbers))
    return out


def open_items_text(session, property_id) -> str:
    from models.duty import DutyLog
    lines = [f"[值班记录] {n}: {c[:40]}" for n, c in session.execute(
        select(DutyLog.number, DutyLog.content).where(DutyLog.property_id == property_id, DutyLog.follow_up != "done")
        .order_by(DutyLog.logged_at).limit(50))]
    for label, count, numbers in open_records(session, property_id):
        lines.append(f"[{label.zh}] {count} 条未完结: {', '.join(numbers)}{' …' if count > len(numbers) else ''}")
    return "\n".join(lines) or "无"


def checklist_text(session, property_id) -> str:
    from models.duty import ChecklistItem
    items = session.scalars(select(ChecklistItem).where(ChecklistItem.property_id == property_id)
                            .order_by(ChecklistItem.id)).all()
    return "\n".join(f"{i.name} ×{i.quantity}：" for i in items)


def may_take_over(session, handover, user_id) -> bool:
    """Rostered for the incoming shift that day; approved leave has already moved the roster to the substitute."""
    from models.duty import RosterAssignment
    return user_id in RosterAssignment.on_duty(session, handover.property_id, handover.day, handover.to_shift_id)
