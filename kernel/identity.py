"""Who works where: properties, staff accounts, roles and the memberships that join them.

The kernel keeps these because scoping, audit and sign-offs point at them; their screens are declared here.
"""
from __future__ import annotations

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, select, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement
from werkzeug.security import generate_password_hash

from kernel.db import db
from kernel.i18n import T
from kernel.permissions import ALL, READ, VIEW
from kernel.register import Register, Tracked, field, link


def hash_password(password: str) -> str:
    """The configured hash (scrypt in production; a cheap one in tests, where hashing is not what is measured)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


class Property(Tracked, Register, db.Model):
    __tablename__ = "property"
    __label__ = T("项目/管理处", "Properties")
    grants = dict(it=ALL, regional=READ, manager=VIEW)
    code: Mapped[str] = field(T("代码", "Code"), String(8), unique=True, nullable=False,
                              description=T("编号前缀，如 A", "Number prefix, e.g. A"))
    name: Mapped[str] = field(T("名称", "Name"), String(80), unique=True, nullable=False)
    address: Mapped[str | None] = field(T("地址", "Address"), String(200))
    service_phone: Mapped[str | None] = field(T("客服中心电话", "Service-centre phone"), String(20),
                                              validators=["phone"])

    def __str__(self) -> str:
        return self.name


class Role(Register, db.Model):
    __tablename__ = "role"
    __label__ = T("角色", "Roles")
    grants = dict(it=VIEW)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = field(T("代码", "Code"), String(20), unique=True, nullable=False)
    name: Mapped[str] = field(T("名称", "Name"), String(40), nullable=False)
    company_wide: Mapped[bool] = field(T("可跨项目查看", "Company-wide"), Boolean, default=False, nullable=False)

    def __str__(self) -> str:
        return self.name


class StaffUser(UserMixin, Tracked, Register, db.Model):
    __tablename__ = "staff_user"
    __label__ = T("员工账号", "Staff accounts")
    grants = dict(it=ALL)
    username: Mapped[str] = field(T("用户名", "Username"), String(40), unique=True, nullable=False)
    full_name: Mapped[str] = field(T("姓名", "Full name"), String(40), nullable=False)
    phone: Mapped[str | None] = field(T("电话", "Phone"), String(20), validators=["phone"])
    password_hash: Mapped[str] = field(T("密码", "Password"), String(200), nullable=False, secret=True)
    active: Mapped[bool] = field(T("启用", "Active"), Boolean, default=True, nullable=False)
    # Bumped to end every session of the user (logout, password change, deactivation, "log out everywhere").
    session_generation: Mapped[int] = field(T("会话代次", "Session generation"), Integer, default=0, nullable=False,
                                            server_default="0")
    memberships = relationship("Membership", back_populates="user", cascade="all, delete-orphan",
                               foreign_keys="Membership.user_id",
                               info={"label": T("项目与角色", "Properties and roles")})

    @property
    def is_active(self) -> bool:
        return self.active

    @classmethod
    def scope_clause(cls, property_id: int) -> ColumnElement[bool]:
        """Staff belong to the properties they hold a role at (lists, dropdowns and lookups use this)."""
        return cls.id.in_(select(Membership.user_id).where(Membership.property_id == property_id))

    def works_at(self, property_id: int) -> bool:
        return any(m.property_id == property_id for m in self.memberships)

    def __str__(self) -> str:
        return self.full_name or self.username


def end_sessions(user: StaffUser) -> None:
    """Every session of `user`, in every browser, ends at its next request (the session holds the generation)."""
    user.session_generation = (user.session_generation or 0) + 1


class Membership(Register, db.Model):
    """A user's role at one property: a supervisor at A may be a clerk at B."""

    __tablename__ = "membership"
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
    def scope_clause(cls, property_id: int) -> ColumnElement[bool]:
        """Edited inline with its account, whose own scope decides who sees it."""
        return true()

    def __str__(self) -> str:
        return f"{self.property} · {self.role}"
