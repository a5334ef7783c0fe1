"""Mixins every register opts into by inheriting: property scope, tracking, numbering, workflow."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from app.i18n import T
from app.timeutil import now


def model_for(table_name: str):
    """The model class mapped to a table (registers are addressed by table name in URLs and audit rows)."""
    from app.extensions import db
    for mapper in db.Model.registry.mappers:
        if mapper.local_table.name == table_name:
            return mapper.class_
    return None


def field(label: T, *args, **kw):
    """A mapped column that carries its own label (and optional form hints) in `info`."""
    info = kw.pop("info", {})
    info["label"] = label
    for hint in ("pii", "choices", "validators", "description", "lookup"):
        if hint in kw:
            info[hint] = kw.pop(hint)
    return mapped_column(*args, info=info, **kw)


def link(target: str, label: T, **kw):
    return relationship(target, info={"label": label}, **kw)


class Register:
    """Marker with the register's own labels; `__label__` names the screen."""

    __label__: T
    __audited__ = True

    @classmethod
    def register_name(cls) -> str:
        return cls.__tablename__


class PropertyScoped:
    """Belongs to exactly one property; the server sets it, the client never chooses it."""

    @declared_attr
    def property_id(cls) -> Mapped[int]:
        return mapped_column(
            ForeignKey("property.id"), index=True, nullable=False,
            info={"label": T("项目", "Property")},
        )

    @declared_attr
    def property(cls):
        return relationship("Property", info={"label": T("项目", "Property")})


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
        return relationship(
            "StaffUser", foreign_keys=[cls.created_by_id], info={"label": T("创建人", "Created by")}
        )

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.version}


class Numbered:
    """A readable number per property and register, e.g. A-FX-20261127-0001 (see app/numbering)."""

    number_prefix: str = "NO"

    @declared_attr
    def number(cls) -> Mapped[str | None]:
        return mapped_column(String(40), index=True, info={"label": T("编号", "Number")})

    @declared_attr.directive
    def __table_args__(cls):
        args = [UniqueConstraint("property_id", "number")]
        if issubclass(cls, Workflow):
            # the list's state filter within a property, newest first, from one index at any size
            args.append(Index(f"ix_{cls.__tablename__}_property_state_id", "property_id", "state", "id"))
        return tuple(args)


class Workflow:
    """A state column moved only by declared transitions (see app/workflow)."""

    states: dict[str, T] = {}
    initial_state: str = ""
    locked_states: tuple[str, ...] = ()  # issued / final: the server refuses edits and deletes
    transitions: dict = {}

    @declared_attr
    def state(cls) -> Mapped[str]:
        return mapped_column(
            String(20), index=True, nullable=False,
            default=lambda ctx: cls.initial_state,
            info={"label": T("状态", "State")},
        )

    @declared_attr
    def state_changed_at(cls) -> Mapped[datetime | None]:
        return mapped_column(DateTime, default=now, info={"label": T("状态时间", "State since")})

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        found = {}
        for klass in reversed(cls.__mro__):
            for name, attr in vars(klass).items():
                t = getattr(attr, "_transition", None)
                if t is not None:
                    found[name] = t
        cls.transitions = found

    @property
    def is_locked(self) -> bool:
        return self.state in self.locked_states

    @property
    def state_label(self) -> str:
        return str(self.states.get(self.state, self.state))
