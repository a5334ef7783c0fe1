"""What a register is made of: labelled columns, the mixins it opts into, and the declarations beside it.

    class RepairOrder(Record, Workflow, db.Model):
        __tablename__ = "repair_order"
        __label__ = T("报修单", "Repair orders")
        grants = dict(clerk=KEEP, cs_admin=KEEP, supervisor=READ)      # role -> operations (kernel.permissions)
        open_states = ("registered", "dispatched")                     # carried over at a handover
        verify = Verify(shown=("unit", "items"), guard_step="exit")    # what the guard's check shows and does

Everything about a register is found next to it; `kernel.checks` validates the declarations at start-up.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from kernel import permissions
from kernel.clock import now
from kernel.i18n import T

FIELD_HINTS = ("pii", "choices", "validators", "description", "secret", "bounds", "staff_roles",
               "blind_index_of")


def field(label: T, *args: Any, **kw: Any) -> Any:
    """A mapped column that carries its own label (and optional form hints) in `info`."""
    info = kw.pop("info", {})
    info["label"] = label
    for hint in FIELD_HINTS:
        if hint in kw:
            info[hint] = kw.pop(hint)
    return mapped_column(*args, info=info, **kw)


def link(target: str, label: T, **kw: Any) -> Any:
    return relationship(target, info={"label": label}, **kw)


VERDICTS = {"valid": T("有效", "Valid"), "expired": T("已过期", "Expired"), "superseded": T("已换发", "Superseded"),
            "void": T("作废/未生效", "Void / not in force"), "used": T("已放行(已使用)", "Exited (used)")}


@dataclass(frozen=True)
class Verify:
    """A pass a guard checks by number or QR code: the fields the check shows, and the step the guard takes."""

    shown: tuple[str, ...]
    guard_step: str | None = None


@dataclass(frozen=True)
class Retention:
    """How long a register keeps personal data: `days` after `start` (IT changes the days: retention_rule)."""

    start: str
    days: int


@dataclass(frozen=True)
class Virtual:
    """An imported column that is not a column of the table (a staff account's roles at the property): the model
    reads it (`import_current`), parses it (`parse`, text -> tuple) and writes it (`import_write`). Its values
    only add: a row lists what must be there, an import never takes anything away."""

    name: str
    label: T
    parse: Callable[[str], tuple]
    show: Callable[[tuple], str]
    required: bool = False
    note: str = ""


@dataclass(frozen=True)
class Importable:
    """A register filled from a spreadsheet (kernel.imports): its natural keys within the property, tried in
    order (a resident: ID number, else name + unit), the columns a file may carry (a link by the linked
    register's own key, e.g. a unit by its code), and the template's sample row."""

    keys: tuple[tuple[str, ...], ...]
    columns: tuple[str | Virtual, ...]
    sample: dict[str, str]


RowRule = Callable[[type, int], Any]  # (model, user id) -> SQL clause of the rows a role may see


def own(column: str) -> RowRule:
    """Only the rows about the user themself (a clerk's own leave requests)."""
    return lambda model, user_id: getattr(model, column) == user_id


def in_states(*states: str) -> RowRule:
    """Only rows in these states (the lobby sees approved applications only)."""
    return lambda model, user_id: model.state.in_(states)


def where(clause: Callable[[type], Any]) -> RowRule:
    """Only rows matching a clause of the model (finance sees the requests with a fee due)."""
    return lambda model, user_id: clause(model)


_REGISTERS: dict[str, type] = {}


def collect_transitions(cls: type) -> dict[str, Any]:
    """The @transition methods of a class and its bases (see kernel.workflow), by method name."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name, attr in vars(klass).items():
            t = getattr(attr, "_transition", None)
            if t is not None:
                found[name] = t
    return found


def model_for(table_name: str) -> type | None:
    """The model of a register (registers are addressed by table name in URLs and audit rows)."""
    return _REGISTERS.get(table_name)


def registers() -> dict[str, type]:
    return dict(_REGISTERS)


class Register:
    """A table with a screen, or kept by the kernel. Subclasses declare; `__init_subclass__` records it."""

    __label__: ClassVar[T]
    __audited__: ClassVar[bool] = True
    grants: ClassVar[dict[str, tuple[str, ...]] | None] = None
    open_states: ClassVar[tuple[str, ...]] = ()
    verify: ClassVar[Verify | None] = None
    kept: ClassVar[bool] = False  # small reference data read on most pages: kept per process (kernel/kept.py)
    transitions: ClassVar[dict[str, Any]] = {}  # name -> kernel.workflow.Transition, collected below
    # Records about a person: nobody edits or takes a step on a record naming them in these columns.
    not_edited_by: ClassVar[tuple[str, ...]] = ()
    # Only the person in this column corrects the record (a quality check: its inspector).
    edited_only_by: ClassVar[str | None] = None
    # role -> the rows that role sees (own(...), in_states(...), where(...)); roles not named see every row.
    visible_rows: ClassVar[dict[str, RowRule]] = {}
    retention: ClassVar[Retention | None] = None
    # The copies and photos its records take (kernel.attachments.Document), and how long personal ones are kept
    # when the register keeps no ID number of its own (else `retention` applies to them too).
    documents: ClassVar[tuple[Any, ...]] = ()
    importable: ClassVar[Importable | None] = None  # filled from a spreadsheet with a preview (kernel.imports)
    imported_on_its_screen: ClassVar[bool] = False  # or by a screen of its own (a roster's month grid)
    document_retention: ClassVar[Retention | None] = None
    # The column that dates a record's work (received, happened, logged) in the daily summary; a register with
    # none (master data) is not counted there. A register with a server clock (clock_field) is dated by it.
    summary_date: ClassVar[str | None] = None

    def __init_subclass__(cls, **kw: Any):
        super().__init_subclass__(**kw)
        name = cls.__dict__.get("__tablename__")
        if not name:
            return  # an abstract layer (a mixin of records): its subclasses declare
        cls.transitions = collect_transitions(cls)
        _REGISTERS[name] = cls
        permissions.declare_steps(name, cls.transitions)
        if cls.grants is not None:
            permissions.declare(name, cls.grants)
        if any(c.info.get("pii") for c in cls.__table__.columns):
            permissions.declare_personal(name)

    def __str__(self) -> str:
        """A linked record reads as its number or name wherever it is shown."""
        for attr in ("number", "name", "code"):
            value = getattr(self, attr, None)
            if value:
                return str(value)
        return f"{self.__label__} #{getattr(self, 'id', '')}"


class PropertyScoped:
    """Belongs to exactly one property; the server sets it, the client never chooses it."""

    @declared_attr
    def property_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("property.id"), index=True, nullable=False,
                             info={"label": T("项目", "Property")})

    @declared_attr
    def property(cls):
        return relationship("Property", info={"label": T("项目", "Property")})


def summary_date_of(model: type) -> str | None:
    """The column the daily summary counts a register's records by: its own date (received, happened, logged).

    Declared (`summary_date`), or the server-clock field; a business record without one (a pass, a permit: voided,
    never deleted) was received at the desk when it was made, so its `created_at`. Master data has none: a unit or
    a price entered today is not the day's work.
    """
    declared = getattr(model, "summary_date", None) or getattr(model, "clock_field", None)
    if declared:
        return declared
    return "created_at" if "void" in (getattr(model, "states", None) or {}) else None


def pii_columns(model: type) -> list[str]:
    return [c.key for c in model.__table__.columns if c.info.get("pii")]


def blind_indexes(model: type) -> dict[str, str]:
    """{personal column: its blind-index column} (an exact search compares keyed hashes, never the number)."""
    return {c.info["blind_index_of"]: c.key for c in model.__table__.columns if c.info.get("blind_index_of")}


class Deactivatable:
    """Master data that records point at is switched off (停用), not deleted: dropdowns stop offering it."""

    @declared_attr
    def active(cls) -> Mapped[bool]:
        return mapped_column(Boolean, default=True, nullable=False, server_default=true(),
                             info={"label": T("启用", "Active")})


class Tracked:
    """Who made it and when, plus a row version that refuses lost updates."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = field(T("创建时间", "Created at"), DateTime, default=now, index=True)
    updated_at: Mapped[datetime | None] = field(T("修改时间", "Updated at"), DateTime, onupdate=now)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr
    def created_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("staff_user.id"), info={"label": T("创建人", "Created by")})

    @declared_attr
    def created_by(cls):
        return relationship("StaffUser", foreign_keys=[cls.created_by_id], info={"label": T("创建人", "Created by")})

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}


class Numbered:
    """A readable number per property and register, e.g. A-FX-20261127-0001 (see kernel.numbering)."""

    number_prefix: ClassVar[str] = "NO"

    @declared_attr
    def number(cls) -> Mapped[str | None]:
        return mapped_column(String(40), index=True, info={"label": T("编号", "Number")})

    @declared_attr.directive
    def __table_args__(cls):
        args = [UniqueConstraint("property_id", "number")]
        # "what I registered here since <date>" (the home page's counts of my month) from the index alone: with
        # created_at alone it read every property's rows of the month, 10x more at 10M rows in 50 properties
        args.append(Index(f"ix_{cls.__tablename__}_property_creator", "property_id", "created_by_id", "created_at"))
        # the list's pages (newest first, ids from the index before the rows): (property_id) alone made PostgreSQL
        # walk the primary key backwards past every other property's rows, 90 ms for page 500 at 10M rows
        args.append(Index(f"ix_{cls.__tablename__}_property_id_id", "property_id", "id"))
        if issubclass(cls, Workflow):
            # the list's state filter within a property, newest first, from one index at any size
            args.append(Index(f"ix_{cls.__tablename__}_property_state_id", "property_id", "state", "id"))
            # a work queue, the longest waiting first (app/admin/queue.py): read in this index's order, a state's
            # first 30 rows are 30 index entries, not a sort of every record in that state
            args.append(Index(f"ix_{cls.__tablename__}_property_state_since", "property_id", "state",
                              "state_changed_at", "id"))
        return tuple(args)


class Workflow:
    """A state column moved only by declared transitions (see kernel.workflow)."""

    states: ClassVar[dict[str, T]] = {}
    initial_state: ClassVar[str] = ""
    locked_states: ClassVar[tuple[str, ...]] = ()  # issued / final: the server refuses edits and deletes

    @declared_attr
    def state(cls) -> Mapped[str]:
        return mapped_column(String(20), index=True, nullable=False, default=lambda ctx: cls.initial_state,
                             info={"label": T("状态", "State")})

    @declared_attr
    def state_changed_at(cls) -> Mapped[datetime | None]:
        return mapped_column(DateTime, default=now, info={"label": T("状态时间", "State since")})

    @property
    def is_locked(self) -> bool:
        return self.state in self.locked_states

    @property
    def is_final(self) -> bool:
        """Locked and no person's step leads on from here (a locked handover still awaits a signature)."""
        return self.is_locked and not any(self.state in t.source and t.roles for t in self.transitions.values())

    @property
    def state_label(self) -> str:
        return str(self.states.get(self.state, self.state))
