"""Workflow declared on the model method that performs the change, django-fsm style.

    @transition(source="submitted", target="approved", roles=("manager",), label=T("批准", "Approve"),
                sign_off=True, bulk=True)
    def approve(self, ctx): ...

`fire()` is the only way a state changes: it checks state, role, separation of duties, required
fields and conditions, runs the method, moves the state and writes a SignOff row; the audit hook
records the field changes under the transition's name.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Callable

from sqlalchemy import select

from app.i18n import T
from app.timeutil import now


class WorkflowError(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class Transition:
    name: str
    source: tuple[str, ...]
    target: str | None
    roles: tuple[str, ...]
    label: T
    method: Callable
    sign_off: bool = False           # the creator of the record may not take this step
    distinct_from: tuple[str, ...] = ()  # nor may whoever took these steps
    together_with: tuple[str, ...] = ()  # parallel reviews: target reached when all have signed
    requires: tuple[str, ...] = ()   # fields that must be filled before the step
    fields: tuple[str, ...] = ()     # fields entered on the step's own form
    conditions: tuple[Callable, ...] = ()  # callables(record) -> message or None
    bulk: bool = False               # offered as "<label> selected" on the list
    comment_required: bool = False

    @property
    def description(self):
        return self.label

    @property
    def state_only(self) -> bool:
        """The method body is empty: the step changes nothing but the state, so many rows can move in one UPDATE."""
        return _does_nothing(self.method) and not self.fields and not self.comment_required


def _does_nothing(fn) -> bool:
    import dis
    ops = [(i.opname, i.argval) for i in dis.get_instructions(fn) if i.opname not in ("RESUME", "NOP")]
    return ops in ([("LOAD_CONST", None), ("RETURN_VALUE", None)], [("RETURN_CONST", None)])


def transition(*, source, target, roles, label, **options):
    source = (source,) if isinstance(source, str) else tuple(source)

    def deco(fn):
        fn._transition = Transition(name=fn.__name__, source=source, target=target, roles=tuple(roles),
                                    label=label, method=fn, **options)
        return fn
    return deco


@dataclass
class Context:
    """What a transition method may use: who fires it, the session, the comment and entered values."""
    user: object
    role: str
    session: object
    comment: str = ""
    data: dict = dc_field(default_factory=dict)


def _signoffs(session, record, names=None, since=None):
    from models.core import SignOff
    q = select(SignOff).where(SignOff.register == record.__tablename__, SignOff.record_id == record.id)
    if names:
        q = q.where(SignOff.transition.in_(names))
    if since is not None:
        q = q.where(SignOff.at >= since)
    return session.scalars(q.order_by(SignOff.id)).all()


def refusal(record, t: Transition, user, roles, session) -> T | str | None:
    """Why `user` may not take step `t` now; None when they may."""
    if record.state not in t.source:
        return T(f"当前状态“{record.state_label}”不能执行“{t.label.zh}”",
                 f"“{t.label.en}” is not possible in state “{record.state}”")
    if not set(roles) & set(t.roles):
        return T(f"您的角色不能执行“{t.label.zh}”", f"Your role may not “{t.label.en}”")
    if t.sign_off and record.created_by_id == user.id:
        return T("不能审批或签字确认自己创建的记录", "You cannot sign off a record you created")
    since = record.state_changed_at
    if t.together_with and _signoffs(session, record, [t.name], since):
        return T(f"“{t.label.zh}”已经签过", f"“{t.label.en}” has already been signed")
    if t.distinct_from:
        earlier = _signoffs(session, record, list(t.distinct_from))
        if any(s.user_id == user.id for s in earlier):
            return T("同一记录的两个审核步骤须由不同的人完成", "Two review steps need two different people")
    for name in t.requires:
        if getattr(record, name, None) in (None, "", False):
            col = record.__class__.__table__.c.get(name) if hasattr(record.__class__, "__table__") else None
            label = col.info.get("label", name) if col is not None else name
            lab = label if isinstance(label, T) else T(str(label), str(label))
            return T(f"请先填写“{lab.zh}”", f"Fill in “{lab.en}” first")
    for cond in t.conditions:
        msg = cond(record)
        if msg:
            return msg
    return None


def available(record, user, roles, session) -> list[Transition]:
    return [t for t in record.transitions.values()
            if record.state in t.source and refusal(record, t, user, roles, session) is None]


def fire(record, name: str, user, roles, session, comment: str = "", data: dict | None = None) -> Transition:
    from app import audit
    from models.core import SignOff
    t = record.transitions.get(name)
    if t is None:
        raise WorkflowError(T("没有这个操作", "No such step"))
    data = data or {}
    for key, value in data.items():  # values entered on the step's form count for `requires`
        if key in t.fields:
            setattr(record, key, value)
    if data:
        session.flush()  # a relationship set above fills its foreign key only on flush
    why = refusal(record, t, user, roles, session)
    if why:
        raise WorkflowError(why)
    if t.comment_required and not comment.strip():
        raise WorkflowError(T("请填写意见", "A comment is required"))
    role = next(r for r in t.roles if r in roles)
    from_state = record.state
    with audit.acting(f"transition:{name}"):
        t.method(record, Context(user=user, role=role, session=session, comment=comment, data=data))
        target = t.target or from_state  # None: a recorded step that keeps the state
        if t.together_with:
            done = {s.transition for s in _signoffs(session, record, list(t.together_with), record.state_changed_at)}
            done.add(name)
            if not set(t.together_with) <= done:
                target = from_state
        if target != from_state:
            record.state = target
            record.state_changed_at = now()
        session.add(SignOff(register=record.__tablename__, record_id=record.id, transition=name,
                            from_state=from_state, to_state=target, user_id=user.id, role=role,
                            comment=comment or None))
        session.flush()
    return t


def fire_set(session, model, name, rows, user, roles_at, comment=""):
    """Bulk firing of a state-only step: the same checks as fire(), then one UPDATE and bulk inserts.

    Returns (done, skipped) like the per-row path: skipped is [(record, reason)].
    """
    from sqlalchemy import insert, update
    from app import audit
    from models.core import SignOff
    t = model.transitions[name]
    ids = [r.id for r in rows]
    earlier = {}
    if t.distinct_from and ids:
        for rid, uid in session.execute(select(SignOff.record_id, SignOff.user_id).where(
                SignOff.register == model.__tablename__, SignOff.record_id.in_(ids),
                SignOff.transition.in_(t.distinct_from))):
            earlier.setdefault(rid, set()).add(uid)
    ok, skipped = [], []
    for r in rows:
        roles = roles_at(r.property_id)
        if r.state not in t.source:
            why = T(f"当前状态“{r.state_label}”不能执行“{t.label.zh}”", f"“{t.label.en}” is not possible in state “{r.state}”")
        elif not set(roles) & set(t.roles):
            why = T(f"您的角色不能执行“{t.label.zh}”", f"Your role may not “{t.label.en}”")
        elif t.sign_off and r.created_by_id == user.id:
            why = T("不能审批或签字确认自己创建的记录", "You cannot sign off a record you created")
        elif user.id in earlier.get(r.id, ()):
            why = T("同一记录的两个审核步骤须由不同的人完成", "Two review steps need two different people")
        else:
            why = next((m for m in (c(r) for c in t.conditions) if m), None) or next(
                (T("缺少必填项", "A required field is missing") for f in t.requires if getattr(r, f, None) in (None, "", False)), None)
        if why:
            skipped.append((r, why))
        else:
            ok.append(r)
    if not ok:
        return 0, skipped
    at = now()
    table = model.__table__
    moved = session.execute(
        update(table).where(table.c.id.in_([r.id for r in ok]), table.c.state.in_(t.source))
        .values(state=t.target, state_changed_at=at, version=table.c.version + 1).returning(table.c.id)
    ).scalars().all()
    moved = set(moved)
    for r in ok:
        if r.id not in moved:  # changed by someone else between the read and the update
            skipped.append((r, T("该记录已被他人处理", "Someone else handled this record meanwhile")))
    done = [r for r in ok if r.id in moved]
    role_of = {r.id: next(x for x in t.roles if x in roles_at(r.property_id)) for r in done}
    if done:
        session.execute(insert(SignOff.__table__), [dict(
            register=model.__tablename__, record_id=r.id, transition=name, from_state=r.state, to_state=t.target,
            user_id=user.id, role=role_of[r.id], at=at, comment=comment or None) for r in done])
        audit.record_bulk(session, model.__tablename__, f"transition:{name}",
                          [(r.id, r.property_id, {"state": (r.state, t.target)}) for r in done])
    session.commit()
    session.expire_all()
    return len(done), skipped
