"""make(Model, property_id): a valid row of any register, its required columns filled by type.

Used by the generated tests so that a new register is covered without writing a fixture for it.
"""
import itertools
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String, Text, Time, inspect, select

from kernel.db import db
from kernel.register import model_for

_seq = itertools.count(1)


def _value(col, property_id, user_id):
    info = col.info
    if "choices" in info:
        return next(iter(info["choices"]))
    if col.foreign_keys:
        table = next(iter(col.foreign_keys)).column.table.name
        if table == "property":
            return property_id
        if table == "staff_user":
            return user_id
        target = model_for(table)
        existing = db.session.scalar(select(target).where(target.property_id == property_id).limit(1)) \
            if hasattr(target, "property_id") else db.session.scalar(select(target).limit(1))
        return (existing or make(target, property_id, user_id=user_id)).id
    t = col.type
    if isinstance(t, Boolean):
        return False
    if isinstance(t, DateTime):
        return datetime(2026, 11, 27, 9, 0)
    if isinstance(t, Date):
        return date(2026, 11, 27)
    if isinstance(t, Time):
        return time(8, 0)
    if isinstance(t, Numeric):
        return Decimal("1")
    if isinstance(t, Integer):
        return 1
    if isinstance(t, (String, Text)):
        n = next(_seq)
        length = getattr(t, "length", None) or 20
        return f"样{n}"[:length]
    return None


def make(model, property_id, user_id=None, commit=False, **overrides):
    obj = model()
    for col in inspect(model).columns:
        key = inspect(model).get_property_by_column(col).key
        if key in overrides or col.primary_key or col.nullable or col.default is not None \
                or col.server_default is not None or key in ("version",):
            continue
        setattr(obj, key, _value(col, property_id, user_id))
    if hasattr(model, "property_id"):
        obj.property_id = property_id
    if hasattr(model, "initial_state") and not overrides.get("state"):
        obj.state = model.initial_state
    for k, v in overrides.items():
        setattr(obj, k, v)
    db.session.add(obj)
    db.session.flush()
    if hasattr(model, "works_at"):  # staff belong to a property through a membership
        from models import Membership, Role
        db.session.add(Membership(user_id=obj.id, property_id=property_id,
                                  role_id=db.session.scalar(select(Role.id).where(Role.code == "clerk"))))
        db.session.flush()
    if commit:
        db.session.commit()
    return obj
