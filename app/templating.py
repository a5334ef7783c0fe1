"""Helpers every template may use (labels in the current language, the header's property switch)."""
from __future__ import annotations

from flask import Flask
from flask_babel import gettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from admin_views.notify import unread_count
from app.admin.saved import shared_views
from kernel import permissions, scoping
from kernel.db import db
from kernel.display import action_label, register_label
from kernel.i18n import is_english
from kernel.identity import Property
from kernel.register import model_for


def install(app: Flask) -> None:
    @app.context_processor
    def helpers() -> dict:
        return dict(fd_t=fd_t, fd_is_english=is_english,
                    fd_brand=lambda: gettext("物业客服前台"), csrf_token=generate_csrf,
                    fd_property_choices=property_choices, fd_current_property_value=current_value,
                    fd_role_labels=role_labels, fd_role_label=role_label,
                    fd_action_label=lambda register, action: action_label(model_for(register), action),
                    fd_register_label=register_label, fd_unread=unread_count,
                    fd_menu_views=menu_views)


def fd_t(zh: str, en: str) -> str:
    """Kept for templates written before the catalog: the catalog decides (tests/test_catalog.py lists a
    missing entry); the English written beside it is only a fallback."""
    text = gettext(zh)
    return en if text == zh and is_english() else text


def property_choices() -> list[tuple]:
    ids = scoping.user_property_ids()
    props = db.session.scalars(select(Property).where(Property.id.in_(ids)).order_by(Property.id)).all()
    choices: list[tuple] = [(p.id, p.name) for p in props]
    if scoping.is_company_wide():
        choices.append((scoping.ALL_PROPERTIES, gettext("全部项目")))
    return choices


def current_value() -> int | str:
    pid = scoping.current_property_id()
    return scoping.ALL_PROPERTIES if pid is None else pid


def role_label(code: str) -> str:
    return str(permissions.ROLES[code][0]) if code in permissions.ROLES else code


def role_labels() -> str:
    if not current_user.is_authenticated:
        return ""
    return "、".join(role_label(r) for r in sorted(scoping.current_roles()))


def menu_views(item: object) -> list:
    """The saved views shared under a menu entry's register (its screen's list), for the current user."""
    register = getattr(getattr(item, "_view", None), "register", None)
    return shared_views(register) if register and current_user.is_authenticated else []
