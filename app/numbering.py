"""Readable numbers per property, register and day: A-FX-20261127-0001.

One counter row per (property, prefix, day), bumped with UPDATE ... RETURNING; the row lock makes
concurrent transactions on PostgreSQL take turns, so two desks never get the same number.
"""
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from app.timeutil import today


def _insert(dialect_name):
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def next_value(connection, property_id: int, prefix: str, day) -> int:
    from models.core import NumberSequence
    table = NumberSequence.__table__
    ins = _insert(connection.dialect.name)(table).values(property_id=property_id, prefix=prefix, day=day, last=0)
    connection.execute(ins.on_conflict_do_nothing())
    return connection.execute(
        update(table).where(table.c.property_id == property_id, table.c.prefix == prefix, table.c.day == day)
        .values(last=table.c.last + 1).returning(table.c.last)
    ).scalar_one()


def assign(session: Session, obj) -> str:
    from models.core import Property
    prop = session.get(Property, obj.property_id)
    day = today()
    n = next_value(session.connection(), obj.property_id, obj.number_prefix, day)
    obj.number = f"{prop.code}-{obj.number_prefix}-{day:%Y%m%d}-{n:04d}"
    return obj.number


def _before_flush(session, ctx, instances):
    from models.base import Numbered
    for obj in list(session.new):
        if isinstance(obj, Numbered) and not obj.number and obj.property_id:
            assign(session, obj)


def install():
    event.listen(Session, "before_flush", _before_flush)
