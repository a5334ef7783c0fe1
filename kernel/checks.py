"""Start-up checks of the declarations, in the spirit of Django's checks framework.

Each check yields messages that name the register and the option, e.g.
`repair_order.lookups: 'resident' is not a relationship`. The factory runs every check when the app is
created and refuses to start on any message; `flask --app wsgi check` prints them. The kernel checks the
models' declarations here; the web shell adds checks of the views (app/admin/checks.py).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import inspect as sa_inspect

from kernel import permissions
from kernel.register import FIELD_HINTS, registers
from kernel.validators import BY_NAME

Check = Callable[[Any], Iterable[str]]
_CHECKS: list[Check] = []


class ConfigurationError(Exception):
    def __init__(self, messages: list[str]):
        super().__init__("the declarations have mistakes:\n  " + "\n  ".join(messages))
        self.messages = messages


def check(fn: Check) -> Check:
    """Add a check; it receives the app (or None) and yields messages."""
    _CHECKS.append(fn)
    return fn


def run(app: Any = None) -> list[str]:
    return [m for fn in _CHECKS for m in fn(app)]


def enforce(app: Any = None) -> None:
    messages = run(app)
    if messages:
        raise ConfigurationError(messages)


def attributes(model: type) -> set[str]:
    """Column and relationship names of a model (what a declaration may name)."""
    mapper = sa_inspect(model)
    return {a.key for a in mapper.column_attrs} | {r.key for r in mapper.relationships}


def properties(cls: type) -> set[str]:
    """Python properties of a class and its bases (read without evaluating any descriptor)."""
    return {name for klass in cls.__mro__ for name, attr in vars(klass).items() if isinstance(attr, property)}


@check
def grants_name_known_roles_and_operations(app: Any) -> Iterator[str]:
    for register, row in permissions.grants().items():
        for role, ops in row.items():
            if role not in permissions.ROLES:
                yield f"{register}.grants: unknown role '{role}'"
            for op in sorted(set(ops) - permissions.OPERATIONS):
                yield f"{register}.grants: unknown operation '{op}' for role '{role}'"


@check
def fields_declare_known_hints(app: Any) -> Iterator[str]:
    for name, model in registers().items():
        for col in model.__table__.columns:
            for v in col.info.get("validators", ()):
                if v not in BY_NAME:
                    yield f"{name}.{col.key}: unknown validator '{v}'"
            choices = col.info.get("choices")
            if choices is not None and not isinstance(choices, dict):
                yield f"{name}.{col.key}: choices must be a dict of code -> label"
            for hint in col.info:
                if hint not in FIELD_HINTS + ("label",):
                    yield f"{name}.{col.key}: unknown field hint '{hint}'"


@check
def workflows_are_consistent(app: Any) -> Iterator[str]:
    for name, model in registers().items():
        states = getattr(model, "states", None) or {}
        attrs = attributes(model)
        if states:
            if model.initial_state not in states:
                yield f"{name}.initial_state: '{model.initial_state}' is not a state"
            for s in model.locked_states:
                if s not in states:
                    yield f"{name}.locked_states: '{s}' is not a state"
        for s in getattr(model, "open_states", ()):
            if s not in states:
                yield f"{name}.open_states: '{s}' is not a state"
        for t in model.transitions.values():
            where = f"{name}.{t.name}"
            for s in t.source:
                if s not in states:
                    yield f"{where}: source '{s}' is not a state"
            if t.target is not None and t.target not in states:
                yield f"{where}: target '{t.target}' is not a state"
            for r in t.roles:
                if r not in permissions.ROLES:
                    yield f"{where}: unknown role '{r}'"
            for f in t.requires + t.fields:
                if f not in attrs:
                    yield f"{where}: '{f}' is not a column or relationship"
            for other in t.distinct_from + t.together_with:
                if other not in model.transitions:
                    yield f"{where}: '{other}' is not a step of {name}"
            if t.bulk and t.system:
                yield f"{where}: a system step cannot be offered in bulk"


@check
def deadlines_are_consistent(app: Any) -> Iterator[str]:
    seen: dict[str, str] = {}
    for name, model in registers().items():
        attrs = attributes(model)
        states = getattr(model, "states", None) or {}
        for d in getattr(model, "deadlines", ()):
            if d.code in seen:
                yield f"{name}.deadlines: code '{d.code}' is also used by {seen[d.code]}"
            seen[d.code] = name
            for col in (d.start, d.done):
                if col not in attrs:
                    yield f"{name}.deadlines[{d.code}]: '{col}' is not a column"
            for s in d.open_states or ():
                if s not in states:
                    yield f"{name}.deadlines[{d.code}]: open state '{s}' is not a state"


@check
def verifications_are_consistent(app: Any) -> Iterator[str]:
    for name, model in registers().items():
        v = getattr(model, "verify", None)
        if v is None:
            continue
        attrs = attributes(model) | properties(model)
        for f in v.shown:
            if f not in attrs:
                yield f"{name}.verify.shown: '{f}' is not a field"
        if v.guard_step and v.guard_step not in model.transitions:
            yield f"{name}.verify.guard_step: '{v.guard_step}' is not a step"
        if not hasattr(model, "verdict"):
            yield f"{name}.verify: the model needs a `verdict` property"
