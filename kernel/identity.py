"""Who works where: properties, staff accounts, roles and the memberships that join them.

The kernel keeps these because scoping, audit and sign-offs point at them; their screens are declared here.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false, not_, select, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement
from werkzeug.security import generate_password_hash

from kernel.db import db
from kernel.i18n import T
from kernel.permissions import ALL, READ, VIEW
from kernel.register import PropertyScoped, Register, Tracked, Workflow, field, link
from kernel.workflow import transition


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
    not_edited_by = ("id",)  # IT never changes its own account (roles, password, active): another IT does
    username: Mapped[str] = field(T("用户名", "Username"), String(40), unique=True, nullable=False)
    full_name: Mapped[str] = field(T("姓名", "Full name"), String(40), nullable=False)
    phone: Mapped[str | None] = field(T("电话", "Phone"), String(20), validators=["phone"])
    password_hash: Mapped[str] = field(T("密码", "Password"), String(200), nullable=False, secret=True)
    active: Mapped[bool] = field(T("启用", "Active"), Boolean, default=True, nullable=False)
    # An initial or reset password is IT's; the user must choose their own at the next login.
    must_change_password: Mapped[bool] = field(T("下次登录须修改密码", "Must change password at next login"),
                                               Boolean, default=False, nullable=False, server_default=false())
    # Bumped to end every session of the user (password reset, deactivation); see end_sessions().
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

    @classmethod
    def unassigned_clause(cls) -> ColumnElement[bool]:
        """Accounts without any role yet (just created, or waiting for a manager's confirmation)."""
        return not_(cls.id.in_(select(Membership.user_id)))

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


class MembershipGrant(PropertyScoped, Tracked, Register, Workflow, db.Model):
    """A role IT asked to give that waits for a manager of that property (four eyes).

    Granting manager, finance, the company-wide roles, IT, or any role that reads personal data is confirmed by
    a manager of the property, never by IT itself and never by the person who receives it.
    """

    __tablename__ = "membership_grant"
    __label__ = T("角色授予(经理确认)", "Role grants (manager confirms)")
    grants = dict(it=VIEW, manager=VIEW)
    not_edited_by = ("user_id",)
    open_states = ("pending",)
    states = {"pending": T("待经理确认", "Awaiting the manager"), "granted": T("已生效", "Granted"),
              "rejected": T("已驳回", "Rejected")}
    initial_state = "pending"
    locked_states = ("granted", "rejected")
    user_id: Mapped[int] = field(T("员工", "Staff"), ForeignKey("staff_user.id"), nullable=False, index=True)
    user = link("StaffUser", T("员工", "Staff"), foreign_keys=[user_id])
    role_id: Mapped[int] = field(T("角色", "Role"), ForeignKey("role.id"), nullable=False)
    role = link("Role", T("角色", "Role"))
    note: Mapped[str | None] = field(T("说明", "Note"), Text)

    def __str__(self) -> str:
        return f"{self.user} · {self.property} · {self.role}"

    @transition(source="pending", target="granted", roles=("manager",), label=T("确认授予", "Confirm the grant"),
                sign_off=True, bulk=True)
    def confirm(self, ctx: Any) -> None:
        exists = ctx.session.scalar(select(Membership.id).where(
            Membership.user_id == self.user_id, Membership.property_id == self.property_id,
            Membership.role_id == self.role_id))
        if exists is None:
            ctx.session.add(Membership(user_id=self.user_id, property_id=self.property_id, role_id=self.role_id))

    @transition(source="pending", target="rejected", roles=("manager",), label=T("驳回", "Reject"),
                sign_off=True, comment_required=True, destructive=True)
    def reject(self, ctx: Any) -> None:
        pass


def pending_clause(property_id: int) -> ColumnElement[bool]:
    """Accounts with a grant waiting at `property_id` (IT finds them at that property)."""
    return StaffUser.id.in_(select(MembershipGrant.user_id).where(MembershipGrant.property_id == property_id,
                                                                  MembershipGrant.state == "pending"))
