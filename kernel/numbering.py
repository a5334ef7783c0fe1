"""Readable numbers per property, register and day: A-FX-20261127-0001.

One counter row per (property, prefix, day), bumped with UPDATE ... RETURNING; the row lock makes
concurrent transactions on PostgreSQL take turns, so two desks never get the same number.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, Date, Integer, String, event, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from kernel.clock import today
from kernel.db import db
from kernel.identity import Property
from kernel.register import Numbered


class NumberSequence(db.Model):
    __tablename__ = "number_sequence"
    property_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


def next_value(connection: Connection, property_id: int, prefix: str, day: date) -> int:
    table = NumberSequence.__table__
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(insert(table).values(property_id=property_id, prefix=prefix, day=day, last=0)
                       .on_conflict_do_nothing())
    return connection.execute(
        update(table).where(table.c.property_id == property_id, table.c.prefix == prefix, table.c.day == day)
        .values(last=table.c.last + 1).returning(table.c.last)
    ).scalar_one()


def assign(session: Session, obj: Any) -> str:
    prop = session.get(Property, obj.property_id)
    day = today()
    n = next_value(session.connection(), obj.property_id, obj.number_prefix, day)
    obj.number = f"{prop.code}-{obj.number_prefix}-{day:%Y%m%d}-{n:04d}"
    return obj.number


def _before_flush(session: Session, ctx: Any, instances: Any) -> None:
    for obj in list(session.new):
        if isinstance(obj, Numbered) and not obj.number and obj.property_id:
            assign(session, obj)


_installed = False


def install() -> None:
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _before_flush)
        _installed = True
