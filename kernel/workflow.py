"""Workflow declared on the model method that performs the change, django-fsm style.

    @transition(source="submitted", target="approved", roles=("manager",), label=T("批准", "Approve"),
                done=T("已批准", "Approved"), sign_off=True, bulk=True)
    def approve(self, ctx): ...

`fire()` is the only way a state changes: it asks `refusal()` (state, role, separation of duties, required
fields, conditions), runs the method, moves the state and writes a SignOff row; the audit hook records the
field changes under the step's name. `fire_set()` moves many rows of a state-only step in one UPDATE after
asking the same `refusal()` of each. A *system* step (roles=()) is never offered to a person: another step's
code fires it (a reissue supersedes the old pass), and it is signed under the role "system".
"""
from __future__ import annotations

import dis
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, Index, Integer, String, Text, insert, select, tuple_, update
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session, relationship

from kernel import attachments, audit, notify
from kernel.clock import now
from kernel.db import db
from kernel.i18n import T
from kernel.permissions import SYSTEM
from kernel.register import Workflow


class WorkflowError(Exception):
    def __init__(self, message: T | str):
        super().__init__(str(message))
        self.message = message


class SignOff(db.Model):
    """One row per workflow step taken: who, in which role, when, with what comment."""

    __tablename__ = "sign_off"
    id: Mapped[int] = mapped_column(primary_key=True)
    register: Mapped[str] = mapped_column(String(40), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    transition: Mapped[str] = mapped_column(String(40), nullable=False)
    from_state: Mapped[str] = mapped_column(String(20), nullable=False)
    to_state: Mapped[str] = mapped_column(String(20), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    at: Mapped[datetime] = mapped_column(default=now, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    user = relationship("StaffUser")
    __table_args__ = (Index("ix_sign_off_register_record", "register", "record_id"),)


@dataclass(frozen=True)
class Transition:
    name: str
    source: tuple[str, ...]
    target: str | None                 # None: a recorded step that keeps the state
    roles: tuple[str, ...]
    label: T
    method: Callable
    done: T | None = None              # past tense for messages ("已派工"); built from the label when absent
    sign_off: bool = False             # the creator of the record may not take this step
    distinct_from: tuple[str, ...] = ()  # nor may whoever took these steps
    distinct_message: T | None = None  # what to do instead, when the generic "a different person" is not enough
    together_with: tuple[str, ...] = ()  # parallel reviews: target reached when all have signed
    requires: tuple[str, ...] = ()     # fields that must be filled before the step
    fields: tuple[str, ...] = ()       # fields entered on the step's own form
    conditions: tuple[Callable, ...] = ()  # callables(record) -> message or None
    bulk: bool = False                 # offered as "批量<label>" on the list
    comment_required: bool = False
    comment_label: T | None = None     # what the comment box asks for ("不满意的原因"), when not just 意见
    destructive: bool = False          # 作废 / 驳回 / 退证: shown red and confirmed
    creator_only: bool = False         # only whoever made the record may take it (voiding one's own typing mistake)
    tell: tuple = ()                   # kernel.notify.Tell: who is told when the step is taken
    waits: bool | None = None          # the record waits in its roles' work queue for this step (None: derived)

    @property
    def queued(self) -> bool:
        """The step puts the record in its roles' queue (待我办理): a person's forward step. An alternative
        exit (驳回, 取消, 退回) is declared `waits=False`; a step that keeps the state or voids does not wait."""
        if self.waits is not None:
            return self.waits and not self.system
        return not self.system and not self.destructive and not self.creator_only and self.target is not None

    @property
    def system(self) -> bool:
        return not self.roles

    @property
    def done_label(self) -> T:
        """The one message a taken step shows and sends: `done` when declared, else the label in the past tense."""
        return self.done if self.done is not None else past_tense(self.label)

    @property
    def state_only(self) -> bool:
        """The method body is empty: the step changes nothing but the state, so many rows can move in one UPDATE."""
        return _does_nothing(self.method) and not self.fields and not self.comment_required


# Who acts, when a step's label names them first (主管审核, 经理收档): the past tense marker goes after them.
ACTORS = (
    "值班主任",
    "当值管理员",
    "工程主管",
    "安全主管",
    "工程部",
    "交班人",
    "接班人",
    "经理",
    "主管",
    "主任",
    "大堂",
    "财务",
)


def past_tense(label: T) -> T:
    """派工 → 已派工, 经理收档 → 经理已收档, 已告知业主 stays: never 已已, never 已 before the one who acts."""
    zh = label.zh
    if not zh.startswith("已"):
        actor = next((a for a in ACTORS if zh.startswith(a) and len(zh) > len(a)), "")
        zh = zh if zh[len(actor):].startswith("已") else f"{actor}已{zh[len(actor):]}"
    return T(zh, f"{label.en}: done")


def _does_nothing(fn: Callable) -> bool:
    ops = [(i.opname, i.argval) for i in dis.get_instructions(fn) if i.opname not in ("RESUME", "NOP")]
    return ops in ([("LOAD_CONST", None), ("RETURN_VALUE", None)], [("RETURN_CONST", None)])


def transition(*, source: str | Iterable[str], target: str | None, roles: Iterable[str], label: T,
               **options: Any) -> Callable:
    source = (source,) if isinstance(source, str) else tuple(source)

    def deco(fn: Callable) -> Callable:
        fn._transition = Transition(name=fn.__name__, source=source, target=target, roles=tuple(roles),
                                    label=label, method=fn, **options)
        return fn
    return deco



@dataclass
class Context:
    """What a transition method may use: who fires it, the session, the comment and entered values."""

    user: Any
    role: str
    session: Session
    comment: str = ""
    data: dict = dc_field(default_factory=dict)


class SignOffs:
    """The sign-offs `refusal()` needs: queried per record, or prefetched once for a bulk step."""

    def __init__(self, session: Session, register: str, ids: Iterable[int] | None = None,
                 names: Iterable[str] = ()):
        self.session, self.register, self._rows = session, register, None
        if ids is not None:
            rows: dict[int, list[tuple[str, int, datetime]]] = {}
            q = select(SignOff.record_id, SignOff.transition, SignOff.user_id, SignOff.at).where(
                SignOff.register == register, SignOff.record_id.in_(list(ids)), SignOff.transition.in_(list(names)))
            for rid, name, uid, at in session.execute(q):
                rows.setdefault(rid, []).append((name, uid, at))
            self._rows = rows

    def of(self, record_id: int, names: Iterable[str], since: datetime | None = None) -> list[tuple[str, int]]:
        names = set(names)
        if self._rows is not None:
            return [
                (n, u) for n, u, at in self._rows.get(record_id, ()) if n in names and (since is None or at >= since)
            ]
        q = select(SignOff.transition, SignOff.user_id).where(
            SignOff.register == self.register, SignOff.record_id == record_id, SignOff.transition.in_(names))
        if since is not None:
            q = q.where(SignOff.at >= since)
        return [tuple(r) for r in self.session.execute(q.order_by(SignOff.id))]


def column_label(model: type, name: str) -> T:
    col = model.__table__.c.get(name)
    return T.of(col.info.get("label", name)) if col is not None else T(name, name)


def about_self(record: Any, user: Any) -> bool:
    """The record names `user` in a column the register declares `not_edited_by` (a check or an absence of theirs)."""
    return any(getattr(record, col, None) == user.id for col in getattr(record, "not_edited_by", ()))


def refusal(record: Any, t: Transition, user: Any, roles: Iterable[str], session: Session,
            signoffs: SignOffs | None = None, system: bool = False, before_its_form: bool = False) -> T | None:
    """Why `user` may not take step `t` on `record` now, as a message that says what to do; None when they may.

    `before_its_form`: asked before the step's own form is filled (the details page greys a step out): only who
    may take it and when; what the form enters (fields, documents, the conditions that read them) is judged
    when it is posted.
    """
    roles = set(roles)
    if record.state not in t.source:
        wanted = "、".join(str(record.states.get(s, s)) for s in t.source)
        return T(f"当前状态为“{record.state_label}”，只有“{wanted}”的记录才能{t.label.zh}",
                 f"“{t.label.en}” needs state {wanted}; this record is “{record.state_label}”")
    if not system and (t.system or not roles & set(t.roles)):
        return T(f"您的角色不能{t.label.zh}，请交由有权限的同事办理",
                 f"Your role may not “{t.label.en}”; ask a colleague who may")
    signoffs = signoffs or SignOffs(session, record.__tablename__)
    if not system and about_self(record, user):
        return T("这条记录与您本人有关，须由其他同事办理", "This record is about you; a colleague must handle it")
    if t.creator_only and record.created_by_id != user.id:
        return T(f"只有录入人本人可以{t.label.zh}", f"Only whoever entered the record may “{t.label.en}”")
    if t.sign_off and record.created_by_id == user.id:
        return T(f"不能{t.label.zh}自己创建的记录，请由另一位同事办理",
                 f"You cannot “{t.label.en}” a record you created; another colleague must")
    if t.together_with and signoffs.of(record.id, [t.name], record.state_changed_at):
        return T(f"“{t.label.zh}”已经签过，等待其他审核", f"“{t.label.en}” is already signed; waiting for the others")
    if t.distinct_from:
        earlier = signoffs.of(record.id, t.distinct_from)
        if any(uid == user.id for _, uid in earlier):
            if t.distinct_message is not None:
                return t.distinct_message
            steps = "、".join(record.transitions[n].label.zh for n, uid in earlier if uid == user.id
                             and n in record.transitions)
            return T(f"您已办理“{steps}”，“{t.label.zh}”须由另一位同事办理",
                     f"You took an earlier step; “{t.label.en}” needs a different person")
    if before_its_form:
        return None
    for name in t.requires:
        if getattr(record, name, None) in (None, "", False):
            lab = column_label(type(record), name)
            return T(f"请先填写“{lab.zh}”再{t.label.zh}", f"Fill in “{lab.en}” before “{t.label.en}”")
    if (why := attachments.refusal(session, record, t.name, t.label)) is not None:
        return why
    for cond in t.conditions:
        msg = cond(record)
        if msg:
            return msg
    return None


def fire(record: Any, name: str, user: Any, roles: Iterable[str], session: Session, comment: str = "",
         data: dict | None = None, system: bool = False) -> Transition:
    """Take step `name` on `record`: refuse with WorkflowError, or move the state and sign it off."""
    t = record.transitions.get(name)
    if t is None:
        raise WorkflowError(T("没有这个操作", "No such step"))
    data = data or {}
    for key, value in data.items():  # values entered on the step's form count for `requires`
        if key in t.fields:
            setattr(record, key, value)
    if data:
        with audit.acting(f"transition:{name}"):  # what was entered on the step shows under the step's name
            session.flush()  # a relationship set above fills its foreign key only on flush
    roles = set(roles)
    why = refusal(record, t, user, roles, session, system=system)
    if why:
        raise WorkflowError(why)
    if t.comment_required and not comment.strip():
        raise WorkflowError(T(f"请填写{(t.comment_label or T('意见', 'a comment')).zh}",
                              f"Enter {(t.comment_label or T('意见', 'a comment')).en}"))
    role = SYSTEM if system else next(r for r in t.roles if r in roles)
    from_state = record.state
    with audit.acting(f"transition:{name}"):
        t.method(record, Context(user=user, role=role, session=session, comment=comment, data=data))
        target = t.target or from_state
        if t.together_with:
            done = {n for n, _ in SignOffs(session, record.__tablename__).of(
                record.id, t.together_with, record.state_changed_at)} | {name}
            if not set(t.together_with) <= done:
                target = from_state
        if target != from_state:
            record.state = target
            record.state_changed_at = now()
        session.add(SignOff(register=record.__tablename__, record_id=record.id, transition=name,
                            from_state=from_state, to_state=target, user_id=user.id, role=role,
                            comment=comment or None))
        session.flush()
        if t.tell:
            notify.emit(session, record, t.tell, f"step:{name}@{now():%Y%m%d%H%M%S%f}", t.done_label,
                        body=f"{notify.describe(record, t.done_label)}\n{comment}".strip())
    return t


def fire_set(session: Session, model: type, name: str, rows: list, user: Any,
             roles_at: Callable[[int], Iterable[str]], comment: str = "") -> tuple[int, list]:
    """A state-only step on many rows: `refusal()` per row, then one UPDATE and bulk inserts.

    A row changed by someone else between the read and the UPDATE (state or version moved) is skipped.
    Returns (done, skipped) like the per-row path: skipped is [(record, reason)].
    """
    t = model.transitions[name]
    names = set(t.distinct_from) | set(t.together_with)
    signoffs = SignOffs(session, model.__tablename__, [r.id for r in rows], names)
    ok, skipped = [], []
    for r in rows:
        why = refusal(r, t, user, roles_at(r.property_id), session, signoffs)
        (skipped.append((r, why)) if why else ok.append(r))
    if not ok:
        return 0, skipped
    at = now()
    table = model.__table__
    moved = set(session.execute(
        update(table).where(tuple_(table.c.id, table.c.version).in_([(r.id, r.version) for r in ok]),
                            table.c.state.in_(t.source))
        .values(state=t.target, state_changed_at=at, version=table.c.version + 1).returning(table.c.id)
    ).scalars())
    done = [r for r in ok if r.id in moved]
    skipped += [(r, T("该记录刚被他人处理，请刷新后查看", "Someone else handled this record meanwhile; reload"))
                for r in ok if r.id not in moved]
    if done:
        role_of = {r.id: next(x for x in t.roles if x in set(roles_at(r.property_id))) for r in done}
        session.execute(insert(SignOff.__table__), [dict(
            register=model.__tablename__, record_id=r.id, transition=name, from_state=r.state, to_state=t.target,
            user_id=user.id, role=role_of[r.id], at=at, comment=comment or None) for r in done])
        audit.record_bulk(session, model.__tablename__, f"transition:{name}",
                          [(r.id, r.property_id, {"state": (r.state, t.target)}) for r in done])
        for r in done if t.tell else ():  # a bulk step tells as the single step does
            notify.emit(session, r, t.tell, f"step:{name}@{at:%Y%m%d%H%M%S%f}", t.done_label)
    return len(done), skipped


# ---------------------------------------------------------------- 作废: no business record is ever deleted

VOID = "void"
IN_FORCE = {"active": T("有效", "In force")}
VOID_REASON = T("作废原因", "Reason for voiding")


def same_day_before_any_step(record: Any) -> T | None:
    """A typing mistake is voided by its creator on the day it was entered, before anyone took a step on it."""
    if record.created_at is None or record.created_at.date() != now().date():
        return T("录入人只能作废当天录入的记录，其他作废请交客服管理员或主管办理",
                 "You may void only what you entered today; ask the CS admin or supervisor")
    session = object_session(record)
    if session is not None and session.scalar(select(SignOff.id).where(
            SignOff.register == record.__tablename__, SignOff.record_id == record.id).limit(1)) is not None:
        return T("已办理过步骤的记录不能由录入人自行作废，请交客服管理员或主管办理",
                 "A step was already taken on it; ask the CS admin or supervisor to void it")
    return None


def _void(self: Any, ctx: Context) -> None:
    """The record stays, read-only, struck through in lists; deadlines and counts leave it out."""


def _void_own(self: Any, ctx: Context) -> None:
    """The creator's own same-day typing mistake."""


class Voidable(Workflow):
    """A business register: its records are voided (作废) with a reason, never deleted.

    Declared once for every register: a register without a workflow gets a state column with 有效 and 作废;
    one with a workflow gets the 作废 state added. Two steps: `void` by `void_roles` from any state, and
    `void_own` for whoever entered the record, on the same day and before any step. A register may declare its
    own `void` step (a voided renovation permit voids its passes); the start-up checks hold it to a reason.
    """

    void_roles: ClassVar[tuple[str, ...]] = ("cs_admin", "supervisor")

    def __init_subclass__(cls, **kw: Any):
        if cls.__dict__.get("__tablename__"):
            _declare_void(cls)
        super().__init_subclass__(**kw)


def _declare_void(cls: type) -> None:
    states = dict(cls.states) if cls.states else dict(IN_FORCE)
    states.setdefault(VOID, T("作废", "Void"))
    cls.states = states
    cls.initial_state = cls.initial_state or "active"
    if VOID not in cls.locked_states:
        cls.locked_states = tuple(cls.locked_states) + (VOID,)
    # A record in progress or in force is voided; a finished one (closed, exited, superseded) is history.
    sources = tuple(s for s in states if s != VOID and s not in cls.locked_states)
    if not any(getattr(vars(k).get("void"), "_transition", None) for k in cls.__mro__):
        def void(self: Any, ctx: Context) -> None:
            _void(self, ctx)
        void._transition = Transition(name="void", source=sources, target=VOID, roles=tuple(cls.void_roles),
                                      label=T("作废", "Void"), method=void, comment_required=True,
                                      comment_label=VOID_REASON, destructive=True, done=T("已作废", "Voided"))
        cls.void = void
    creators = tuple(r for r, ops in (cls.grants or {}).items() if "create" in ops)
    if creators:
        def void_own(self: Any, ctx: Context) -> None:
            _void_own(self, ctx)
        void_own._transition = Transition(
            name="void_own", source=sources, target=VOID, roles=creators, method=void_own,
            label=T("作废(本人当日录入错误)", "Void my typing mistake"), done=T("已作废", "Voided"),
            creator_only=True, comment_required=True, comment_label=VOID_REASON, destructive=True,
            conditions=(same_day_before_any_step,))
        cls.void_own = void_own


# ---------------------------------------------------------------- the clock belongs to the server

class ServerClock:
    """The time a record was received (接报/委托/发生/受理/验楼时间) is the server's, not the clerk's.

    Declared with `clock_field = "received_at"` on the register. At creation an empty box takes the server's time;
    a late entry of something received earlier (a letter opened the next morning) may give an earlier time, never
    a later one. After creation nobody edits it on a form: the edit form drops the field and a change arriving by
    any other path is refused. A supervisor corrects it through the step `correct_time`, with a reason: the
    sign-off keeps the reason and the audit log the old and new time under the step's name. Deadlines that start
    from this field therefore count from a time the server vouches for.
    """

    clock_field: ClassVar[str | None] = None
    clock_roles: ClassVar[tuple[str, ...]] = ("supervisor",)
    # times the clerk types for something that already happened (回电业主, 报告, 转达): never in the future either
    past_fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kw: Any):
        if cls.__dict__.get("__tablename__") and cls.clock_field:
            _declare_clock(cls)
        super().__init_subclass__(**kw)

    def clock_refusal(self, is_created: bool, changed: dict) -> dict | None:
        """On a form's save: stamp or check the time of receipt; {field: message} when refused."""
        for past in self.past_fields:
            value = getattr(self, past, None)
            if value is not None and value > now() and (is_created or past in changed):
                lab = column_label(type(self), past)
                return {past: T(f"“{lab.zh}”是已发生的时间，不能晚于当前时间", f"“{lab.en}” cannot be in the future")}
        name = self.clock_field
        if not name:
            return None
        label = column_label(type(self), name)
        if not is_created:
            if name in changed:
                return {
                    name: T(
                        f"“{label.zh}”由系统记录，创建后不能修改；如确有错误，请主管办理“更正{label.zh}”并说明原因",
                        f"“{label.en}” is recorded by the system; a supervisor corrects it with a reason",
                    )
                }
            return None
        value = getattr(self, name, None)
        if value is None:
            setattr(self, name, now())
        elif value > now():
            return {name: T(f"“{label.zh}”不能晚于当前时间；补录的事项请填写实际收到的（较早的）时间",
                            f"“{label.en}” cannot be in the future; for a late entry give the earlier time")}
        return None


def _correct_time(self: Any, ctx: Context) -> None:
    value = getattr(self, self.clock_field, None)
    if value is None or value > now():
        label = column_label(type(self), self.clock_field)
        raise WorkflowError(T(f"更正后的“{label.zh}”须填写，且不能晚于当前时间",
                              f"The corrected “{label.en}” is required and cannot be in the future"))


def _declare_clock(cls: type) -> None:
    column = getattr(cls, cls.clock_field)  # still the declared mapped_column: the table is made after this hook
    label = T.of(getattr(column, "column", column).info.get("label", cls.clock_field))

    def correct_time(self: Any, ctx: Context) -> None:
        _correct_time(self, ctx)
    states = dict(cls.states) if cls.states else dict(IN_FORCE)
    sources = tuple(s for s in states if s != VOID and s not in cls.locked_states)
    correct_time._transition = Transition(
        name="correct_time", source=sources, target=None, roles=tuple(cls.clock_roles), method=correct_time,
        label=T(f"更正{label.zh}", f"Correct “{label.en}”"), done=T(f"已更正{label.zh}", f"“{label.en}” corrected"),
        fields=(cls.clock_field,), requires=(cls.clock_field,), comment_required=True,
        comment_label=T("更正原因", "the reason for the correction"))
    cls.correct_time = correct_time
