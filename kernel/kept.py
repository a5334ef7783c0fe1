"""Reference data kept in the process between requests, as fresh as the database on every request.

A few small tables are read on almost every page: the deadlines' minutes (every overdue badge), the departments
(the list's filter), the saved views (the menu, the 视图 menu). A register declares `kept = True`; any write to
such a table through the session (a flushed object, an ORM bulk UPDATE/DELETE) sets `data_generation` to a new
random value in the same transaction. Each request reads that value with the signed-in user, in the one statement
app/auth.py already sends, and takes a kept value only when it was read under the same value: an edit shows on
the next request in every process, and no statement is spent asking whether anything changed.

    minutes = kept(("deadline_minutes",), lambda: dict(db.session.execute(...).all()))

No generation read (no user signed in, a request that wrote a kept table itself, the row not there yet: it appears
with the first write to a kept table): the value is read from the database, as without this module. Random values,
not a counter: a test database emptied between tests, or a transaction rolled back, never meets a value it kept
before. A write outside the app's sessions (psql) is not seen until the next write through them.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import BigInteger, String, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from kernel.db import db
from kernel.register import registers

NAME = "reference"
SIZE = 4096  # kept values per app; past it they are dropped and read again (one per property, language, user)


class DataGeneration(db.Model):
    """The random value that changes with every write to a kept table (see the module's docstring)."""

    __tablename__ = "data_generation"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)


# the value as a scalar subquery, for the statement that reads the signed-in user (app/auth.py)
CURRENT = select(DataGeneration.value).where(DataGeneration.name == NAME).scalar_subquery()


def is_kept(model: Any) -> bool:
    return bool(getattr(model, "kept", False))


def read(value: int | None) -> None:
    """This request's generation, read with the signed-in user (None: keep nothing this request)."""
    if has_request_context() and "fd_generation_changed" not in g:
        g.fd_generation = value


def kept(key: Hashable, load: Callable[[], Any]) -> Any:
    """`load()`, or the value it gave under this request's generation in this app's process."""
    generation = g.get("fd_generation") if has_request_context() else None
    if generation is None:
        return load()
    store = current_app.extensions.setdefault("fd_kept", {})
    hit = store.get(key)
    if hit is not None and hit[0] == generation:
        return hit[1]
    value = load()
    if g.get("fd_generation") == generation:  # this request did not write a kept table meanwhile
        if len(store) >= SIZE:
            store.clear()
        store[key] = (generation, value)
    return value


def bump(session: Session) -> None:
    """A kept table is written in this transaction: a new generation, committed (or rolled back) with it."""
    value = secrets.randbits(62)
    conn = session.connection()
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = upsert(DataGeneration).values(name=NAME, value=value)
    conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"value": value}))
    if has_request_context():  # the rest of this request reads the tables themselves
        g.fd_generation = None
        g.fd_generation_changed = True


def _before_flush(session: Session, context: Any, instances: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if is_kept(type(obj)) and (obj not in session.dirty or session.is_modified(obj)):
            bump(session)
            return


def _bulk(state: Any) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    if mapper is not None:
        model = mapper.class_
    else:  # a Core statement on a table, through the session
        model = registers().get(getattr(getattr(state.statement, "table", None), "name", ""))
    if is_kept(model):
        bump(state.session)


def install() -> None:
    """Session hooks are process-wide (SQLAlchemy's Session class): listened to once, however many apps."""
    for name, hook in (("before_flush", _before_flush), ("do_orm_execute", _bulk)):
        if not event.contains(Session, name, hook):
            event.listen(Session, name, hook)
