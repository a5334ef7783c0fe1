"""Helpers every template may use (labels in the current language, the header's property switch)."""
from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, g, has_request_context, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from admin_views.notify import unread_count
from app.admin.saved import shared_views, visible_views
from app.admin.statements import Kept
from kernel import permissions, scoping
from kernel.db import db
from kernel.display import action_label, register_label
from kernel.i18n import is_english
from kernel.identity import Property
from kernel.register import model_for

_menus = Kept(512)
_parts = Kept(512)  # the base layout's header and scripts (fd_master.html), per language, name, roles...
# where a kept part takes what changes on every request (fd_slot): random, so that no name typed in can match it
_SLOT = "\x00" + secrets.token_hex(8) + ":{}\x00"


_hooked = False


def install(app: Flask) -> None:
    global _hooked
    if not _hooked:  # session events are process-wide, like observe's engine hooks
        event.listen(Session, "after_flush", _written)
        _hooked = True

    @app.context_processor
    def helpers() -> dict:
        return dict(fd_t=fd_t, fd_is_english=is_english,
                    fd_brand=lambda: gettext("物业客服前台"), csrf_token=generate_csrf,
                    fd_property_choices=property_choices, fd_current_property_value=current_value,
                    fd_role_labels=role_labels, fd_role_label=role_label,
                    fd_action_label=lambda register, action: action_label(model_for(register), action),
                    fd_register_label=register_label, fd_unread=unread,
                    fd_menu_views=menu_views, fd_kept_menu=kept_menu, fd_kept=kept_part,
                    fd_kept_header=kept_header, fd_slot=slot)


def fd_t(zh: str, en: str) -> str:
    """Kept for templates written before the catalog: the catalog decides (tests/test_catalog.py lists a
    missing entry); the English written beside it is only a fallback."""
    text = gettext(zh)
    return en if text == zh and is_english() else text


def property_choices() -> list[tuple]:
    ids = scoping.user_property_ids()
    names = g.get("fd_property_names")  # read with the user this request (app/auth.py load_user)
    if names is None or any(i not in names for i in ids):
        names = dict(db.session.execute(select(Property.id, Property.name).where(Property.id.in_(ids))).all())
    choices: list[tuple] = [(i, names[i]) for i in ids if i in names]
    if scoping.is_company_wide():
        choices.append((scoping.ALL_PROPERTIES, gettext("全部项目")))
    return choices


def unread() -> int:
    """The bell's count: read with the user at the start of this request (app/auth.py load_user), unless the
    request wrote anything since (a flush drops it, see `_written`) or is not a GET; else asked now."""
    if request.method in ("GET", "HEAD") and "fd_unread" in g:
        return g.fd_unread
    return unread_count()


def _written(session: Any, context: Any) -> None:
    if has_request_context():
        g.pop("fd_unread", None)


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


def menu_key(admin_view: Any) -> tuple | None:
    """Everything the header's menu depends on: which entries a user may open follows from their memberships
    (roles at each property: the overview and charts look at every property), the property worked in, the
    language, the page shown (its entry is active) and the saved views shared under the entries."""
    if not current_user.is_authenticated:
        return None
    codes = scoping._role_codes()
    memberships = tuple(sorted((m.property_id, *codes[m.role_id]) for m in scoping._memberships()))
    shared = tuple((v.register, v.id, v.name) for v in visible_views() if v.shared_role)
    return (memberships, scoping.current_property_id(), str(get_locale()), getattr(admin_view, "endpoint", None),
            request.script_root, shared)


def kept_menu(admin_view: Any, caller: Any) -> Markup:
    """The menu `caller` renders, rendered once per `menu_key` (it walked every entry's permissions each page)."""
    key = menu_key(admin_view)
    if key is None:
        return caller()
    return _menus.get(key, lambda: Markup(caller()))


def where() -> tuple:
    """What any kept part depends on besides its own inputs: the language, and the prefix and host the app is
    served at (its URLs)."""
    return (str(get_locale()), request.script_root, request.host)


def kept_part(name: str, *inputs: Any, caller: Any) -> Markup:
    """What `caller` renders, rendered once per language, prefix and host and `inputs` (fd_master.html's scripts:
    Flask-Admin's static files and the widgets' words, 11 translations and their JSON on every page before)."""
    key = (name, *where(), *(tuple(i) if isinstance(i, list) else i for i in inputs))
    return _parts.get(key, lambda: Markup(caller()))


def slot(name: str) -> Markup:
    """A place in a kept part that `kept_header` fills on every request."""
    return Markup(_SLOT.format(name))


UNREAD = Markup(' <span class="badge badge-warning" id="fd-unread">{}</span>')


def kept_header(caller: Any) -> Markup:
    """The header's right side (property switch, bell, name and roles, password, language, sign-out) rendered
    once per everything it shows: the name, the properties and the one worked in, the roles there, the language
    (`where`). Each request fills in its own CSRF token, the bell's count (app/auth.py reads it with the user) and
    the language link's way back to this page."""
    key = ("header", current_user.full_name, tuple(property_choices()), current_value(),
           tuple(sorted(scoping.current_roles())), *where())
    html = str(_parts.get(key, lambda: Markup(caller())))
    n = unread()
    english = is_english()
    token = escape(generate_csrf())
    back = escape(url_for("auth.language", code="en" if not english else "zh_Hans_CN", next=request.full_path))
    return Markup(html.replace(_SLOT.format("csrf"), token).replace(_SLOT.format("unread"), UNREAD.format(n) if n
                                                                     else "").replace(_SLOT.format("language"), back))
