"""The current user's property and roles for this request; every query and check reads them here."""
from __future__ import annotations

from typing import Any

from flask import g, session
from flask_login import current_user
from sqlalchemy import Select, select

from kernel.db import db
from kernel.identity import Membership, Role

ALL_PROPERTIES = "all"


def _memberships() -> list:
    if "memberships" not in g:
        g.memberships = [] if not current_user.is_authenticated else db.session.execute(
            select(Membership.property_id, Membership.role_id).where(Membership.user_id == current_user.id)).all()
    return g.memberships


def _role_codes() -> dict[int, tuple[str, bool]]:
    if "role_codes" not in g:
        g.role_codes = {r.id: (r.code, r.company_wide) for r in db.session.scalars(select(Role))}
    return g.role_codes


def user_property_ids() -> list[int]:
    return sorted({m.property_id for m in _memberships()})


def is_company_wide() -> bool:
    codes = _role_codes()
    return any(codes[m.role_id][1] for m in _memberships())


def current_property_id() -> int | None:
    """The property this request works in; None means 'all properties' (company-wide roles only)."""
    if "property_id" in g:
        return g.property_id
    ids = user_property_ids()
    chosen = session.get("property_id")
    if chosen == ALL_PROPERTIES and is_company_wide():
        g.property_id = None
    elif chosen in ids:
        g.property_id = chosen
    else:
        g.property_id = ids[0] if ids else -1  # -1: no property, so nothing matches
    return g.property_id


def choose_property(value: int | str | None) -> bool:
    ids = user_property_ids()
    if value == ALL_PROPERTIES and is_company_wide():
        session["property_id"] = ALL_PROPERTIES
    elif isinstance(value, int) and value in ids:
        session["property_id"] = value
    else:
        return False
    g.pop("property_id", None)
    g.pop("roles", None)
    return True


def roles_at(property_id: int | None) -> frozenset[str]:
    """The roles held at one property; at "all properties" only the company-wide ones count."""
    codes = _role_codes()
    if property_id is None:
        return frozenset(codes[m.role_id][0] for m in _memberships() if codes[m.role_id][1])
    return frozenset(codes[m.role_id][0] for m in _memberships() if m.property_id == property_id)


def current_roles() -> frozenset[str]:
    if "roles" not in g:
        g.roles = roles_at(current_property_id()) if current_user.is_authenticated else frozenset()
    return g.roles


def scope(query: Select | Any, model: type, property_param: Any = None) -> Any:
    """Restrict a select to the current property: by its property_id, or by the model's own `scope_clause`.
    `property_param`: a bind parameter standing for the current property (a statement kept and run again)."""
    pid = current_property_id()
    if pid is None:
        return query
    if property_param is not None:
        pid = property_param
    if hasattr(model, "scope_clause"):
        return query.where(model.scope_clause(pid))
    if not hasattr(model, "property_id"):
        return query
    return query.where(model.property_id == pid)


def in_scope(obj: Any, property_id: int | None = None) -> bool:
    pid = current_property_id() if property_id is None else property_id
    if pid is None:
        return True
    if hasattr(type(obj), "works_at"):
        return obj.works_at(pid)
    return getattr(obj, "property_id", pid) == pid
