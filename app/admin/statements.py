"""Statements the home page and the lists run on every request, built once per set of roles and kept.

Building the SQLAlchemy statements for every register's queue and counts (and SQLAlchemy's cache key of each)
cost most of the home page's time (issue 14). What such a statement says depends only on the declarations and
the roles held at the property worked in, so it is kept under exactly that key and run again with the user's
and the property's ids and the moment's values as parameters (`params`, kernel.deadlines.late_params). A role
given or taken, another property chosen: another key or other parameters, seen at once. Only statements are kept, never
rows or counts: every request still asks the database.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask_login import current_user
from sqlalchemy import Integer, bindparam, func, select

from kernel import scoping


class Kept:
    """A bounded store of things built once per key (the least recently used goes first)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_statements = Kept(512)  # a few per register and set of roles in use


# who asks and where: parameters, so one statement serves every user holding the same roles at any property
USER = bindparam("fd_user", type_=Integer())
PROPERTY = bindparam("fd_property", type_=Integer())


def capped_count(query: Any, key: Any, cap: int) -> Any:
    """SQL: how many rows `query` has, reading at most cap + 1 of them (its `key` column alone, unordered): the
    lists' count ("more than N"), the state tabs', the home page's. A select; `.scalar_subquery()` to embed it."""
    return select(func.count()).select_from(query.with_entities(key).order_by(None).limit(cap + 1).subquery())


def who() -> tuple:
    """Everything a kept statement may depend on about the request besides the user and the property (the
    parameters `USER`, `PROPERTY`): whether one property is worked in at all, and the roles held there."""
    if not current_user.is_authenticated:
        return (None, ())
    return (scoping.current_property_id() is None, tuple(sorted(scoping.current_roles())))


def params(**values: Any) -> dict:
    """A kept statement's parameters: the current user's id, the current property's and `values`."""
    if not current_user.is_authenticated:
        return {"fd_user": None, "fd_property": None, **values}
    return {"fd_user": current_user.id, "fd_property": scoping.current_property_id(), **values}


def kept(key: Hashable, build: Callable[[], Any]) -> Any:
    """The statement kept under `key` (which must include `who()`), built by `build()` the first time."""
    return _statements.get(key, build)


def forget() -> None:
    """Drop every kept statement (tests that change declarations at run time)."""
    _statements.clear()
