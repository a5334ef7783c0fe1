"""Company-level tables: properties, accounts and roles, and the shared machinery's own tables."""
from __future__ import annotations

from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.i18n import T
from app.timeutil import now
from models.base import Register, Tracked, field, link


class Property(Tracked, Register, db.Model):
    __tablename__ = "property"
    __label__ = T("项目/管理处", "Properties")
    code: Mapped[str] = field(T("代码", "Code"), String(8), unique=True, nullable=False,
                              description=T("编号前缀，如 A", "Number prefix, e.g. A"))
    name: Mapped[str] = field(T("名称", "Name"), String(80), unique=True, nullable=False)
    address: Mapped[str | None] = field(T("地址", "Address"), String(200))
    service_phone: Mapped[str | None] = field(T("客服中心电话", "Service-centre phone"), String(20),
                                              validators=["phone"])

    def __str__(self):
        return self.name


class Role(Register, db.Model):
    __tablename__ = "role"
    __label__ = T("角色", "Roles")
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = field(T("代码", "Code"), String(20), unique=True, nullable=False)
    name: Mapped[str] = field(T("名称", "Name"), String(40), nullable=False)
    company_wide: Mapped[bool] = field(T("可跨项目查看", "Company-wide"), Boolean, default=False, nullable=False)

    def __str__(self):
        return f"{self.name} ({self.code})"


class StaffUser(UserMixin, Tracked, Register, db.Model):
    __tablename__ = "staff_user"
    __label__ = T("员工账号", "Staff accounts")
    username: Mapped[str] = field(T("用户名", "Username"), String(40), unique=True, nullable=False)
    full_name: Mapped[str] = field(T("姓名", "Full name"), String(40), nullable=False)
    phone: Mapped[str | None] = field(T("电话", "Phone"), String(20), validators=["phone"])
    password_hash: Mapped[str] = field(T("密码", "Password"), String(200), nullable=False,
                                       info={"secret": True})
    active: Mapped[bool] = field(T("启用", "Active"), Boolean, default=True, nullable=False)
    memberships = relationship("Membership", back_populates="user", cascade="all, delete-orphan",
                               foreign_keys="Membership.user_id",
                               info={"label": T("项目与角色", "Properties and roles")})

    @property
    def is_active(self):
        return self.active

    @classmethod
    def scope_clause(cls, property_id):
        """Staff belong to the properties they hold a role at (lists, dropdowns and lookups use this)."""
        from sqlalchemy import select
        return cls.id.in_(select(Membership.user_id).where(Membership.property_id == property_id))

    def works_at(self, property_id) -> bool:
        return any(m.property_id == property_id for m in self.memberships)

    def __str__(self):
        return self.full_name or self.username


class Membership(db.Model):
    """A user's role at one property: a supervisor at A may be a clerk at B."""

    __tablename__ = "membership"
    __audited__ = True
    __label__ = T("项目角色", "Memberships")
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False, index=True)
    property_id: Mapped[int] = field(T("项目", "Property"), ForeignKey("property.id"), nullable=False)
    role_id: Mapped[int] = field(T("角色", "Role"), ForeignKey("role.id"), nullable=False)
    user = relationship("StaffUser", back_populates="memberships", foreign_keys=[user_id])
    property = link("Property", T("项目", "Property"))
    role = link("Role", T("角色", "Role"))
    __table_args__ = (UniqueConstraint("user_id", "property_id", "role_id"),)

    @classmethod
    def register_name(cls):
        return cls.__tablename__

    def __str__(self):
        return f"{self.property} · {self.role}"


class AuditLog(db.Model):
    """Append-only: written by the session hooks in app/audit.py, never by a form."""

    __tablename__ = "audit_log"
    __audited__ = False
    __label__ = T("审计日志", "Audit log")
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = field(T("时间", "At"), DateTime, default=now, nullable=False, index=True)
    user_id: Mapped[int | None] = field(T("用户", "User"), ForeignKey("staff_user.id"), index=True)
    property_id: Mapped[int | None] = field(T("项目", "Property"), Integer, index=True)
    register: Mapped[str] = field(T("登记簿", "Register"), String(40), nullable=False)
    record_id: Mapped[int | None] = field(T("记录", "Record"), Integer)
    action: Mapped[str] = field(T("操作", "Action"), String(40), nullable=False, index=True)
    changes: Mapped[dict | None] = field(T("变更 (旧 → 新)", "Changes (old → new)"), JSON)
    address: Mapped[str | None] = field(T("来源地址", "From address"), String(64))
    user = link("StaffUser", T("用户", "User"))
    __table_args__ = (Index("ix_audit_log_register_record", "register", "record_id"),)

    @classmethod
    def register_name(cls):
        return cls.__tablename__


class SignOff(db.Model):
    """One row per workflow step taken: who, in which role, when, with what comment."""

    __tablename__ = "sign_off"
    __audited__ = False
    id: Mapped[int] = mapped_column(primary_key=True)
    register: Mapped[str] = mapped_column(String(40), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    transition: Mapped[str] = mapped_column(String(40), nullable=False)
    from_state: Mapped[str] = mapped_column(String(20), nullable=False)
    to_state: Mapped[str] = mapped_column(String(20), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=now, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    user = relationship("StaffUser")
    __table_args__ = (Index("ix_sign_off_register_record", "register", "record_id"),)


class NumberSequence(db.Model):
    __tablename__ = "number_sequence"
    __audited__ = False
    property_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class DeadlineRule(Tracked, Register, db.Model):
    """The minutes behind each declared deadline; IT changes them without a release."""

    __tablename__ = "deadline_rule"
    __label__ = T("时限设置", "Deadlines")
    code: Mapped[str] = field(T("代码", "Code"), String(40), unique=True, nullable=False)
    name: Mapped[str] = field(T("名称", "Name"), String(80), nullable=False)
    minutes: Mapped[int] = field(T("分钟数", "Minutes"), Integer, nullable=False,
                                 validators=["non_negative"])
    note: Mapped[str | None] = field(T("说明", "Note"), Text)

    def __str__(self):
        return self.name
