"""Who works where: properties, staff accounts, roles and the memberships that join them.

The kernel keeps these because scoping, audit and sign-offs point at them; their screens are declared here.
"""
from __future__ import annotations

import re
import secrets
from typing import Any

from flask import current_app
from flask_login import UserMixin, current_user
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false, not_, or_, select, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement
from werkzeug.security import generate_password_hash

from kernel.db import db
from kernel.i18n import T
from kernel.permissions import ALL, READ, ROLES, VIEW, needs_confirmation
from kernel.register import Importable, PropertyScoped, Register, Tracked, Virtual, Workflow, field, link
from kernel.workflow import transition


def hash_password(password: str) -> str:
    """The configured hash (scrypt in production; a cheap one in tests, where hashing is not what is measured)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


PASSWORD_RULE = T("新密码至少8位，不能全是数字，也不能与用户名相同",
                  "The new password needs at least 8 characters, not only digits, and not the username")


def password_weakness(username: str, password: str) -> T | None:
    """The one strength rule for a password a person chooses: at least 8 characters (at most 128), not only
    digits (a phone or ID number is guessed first), not the username. None when it passes."""
    if len(password) < 8 or len(password) > 128 or password.isdigit():
        return PASSWORD_RULE
    if password.strip().lower() == (username or "").strip().lower():
        return PASSWORD_RULE
    return None


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


def parse_roles(text: str) -> tuple[str, ...]:
    """"客服助理、财务" or "clerk, finance" -> ('clerk', 'finance'); an unknown name raises ValueError."""
    names = {}
    for code, (label, _) in ROLES.items():
        for alias in (code, label.en, *label.zh.split("/")):
            names[alias.lower().replace(" ", "")] = code
    codes = set()
    for part in re.split(r"[,，、;；\s]+", text):
        if part:
            code = names.get(part.lower()) or names.get(part.lower().replace(" ", ""))
            if code is None:
                raise ValueError(f"“{part[:20]}”不是角色（可填：{'、'.join(lbl.zh for lbl, _ in ROLES.values())}）")
            codes.add(code)
    return tuple(sorted(codes))


def show_roles(codes: tuple) -> str:
    return "、".join(str(ROLES[c][0]) if c in ROLES else c for c in codes)


class StaffUser(UserMixin, Tracked, Register, db.Model):
    __tablename__ = "staff_user"
    __label__ = T("员工账号", "Staff accounts")
    grants = dict(it=ALL + ("import",))
    # a new property's staff list: accounts by username with their roles at the current property; a role that needs
    # four eyes becomes a grant a manager confirms, as on the form; a new account has no password until IT sets one
    importable = Importable(
        keys=(("username",),),
        columns=("username", "full_name", "phone",
                 Virtual("roles", T("角色", "Roles"), parse_roles, show_roles, required=True,
                         note="本项目的角色，多个用顿号分隔；只增加不删除；需经理确认的角色导入后待确认")),
        sample=dict(username="zhangsan", full_name="张三", phone="13800138000", roles="客服助理"))
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

    @classmethod
    def import_current(cls, session: Any, property_id: int) -> dict[int, dict[str, tuple]]:
        """Each account's roles at the property, granted or waiting for the manager (kernel.imports)."""
        out: dict[int, set] = {}
        for uid, code in session.execute(select(Membership.user_id, Role.code).join(Role).where(
                Membership.property_id == property_id)):
            out.setdefault(uid, set()).add(code)
        for uid, code in session.execute(select(MembershipGrant.user_id, Role.code).join(Role).where(
                MembershipGrant.property_id == property_id, MembershipGrant.state == "pending")):
            out.setdefault(uid, set()).add(code)
        return {uid: {"roles": tuple(sorted(codes))} for uid, codes in out.items()}

    @classmethod
    def import_rules(cls, session: Any, property_id: int, rows: list) -> list:
        """An account of another property is not IT's here to change; nor is IT's own account (not_edited_by)."""
        ids = [r.record_id for r in rows if r.record_id is not None and r.status != "error"]
        if not ids:
            return []
        here = set(session.scalars(select(cls.id).where(cls.id.in_(ids), or_(
            cls.scope_clause(property_id), cls.unassigned_clause(), pending_clause(property_id)))))
        me = current_user.id if current_user and current_user.is_authenticated else None
        out = []
        for r in rows:
            if r.record_id is None or r.status == "error":
                continue
            if r.record_id == me:
                out.append((r, "不能通过导入修改自己的账号"))
            elif r.record_id not in here:
                out.append((r, "该用户名已被其他项目的员工使用，请换一个用户名"))
        return out

    def import_write(self, session: Any, property_id: int, extra: dict, created: bool) -> None:
        """A new account gets an unusable random password it must change; roles are added, never removed."""
        if created:
            self.password_hash = hash_password(secrets.token_urlsafe(32))
            self.must_change_password = True
        have = self.import_current_of(session, property_id) if not created else set()
        for code in extra.get("roles", ()):
            role = session.scalar(select(Role).where(Role.code == code))
            if role is None or code in have:
                continue
            if needs_confirmation(code):
                session.add(MembershipGrant(property_id=property_id, user=self, role_id=role.id,
                                            note="导入员工名单"))
            else:
                session.add(Membership(user=self, property_id=property_id, role_id=role.id))

    def import_current_of(self, session: Any, property_id: int) -> set[str]:
        granted = session.scalars(select(Role.code).join(Membership, Membership.role_id == Role.id).where(
            Membership.user_id == self.id, Membership.property_id == property_id))
        pending = session.scalars(select(Role.code).join(MembershipGrant, MembershipGrant.role_id == Role.id).where(
            MembershipGrant.user_id == self.id, MembershipGrant.property_id == property_id,
            MembershipGrant.state == "pending"))
        return set(granted) | set(pending)

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
