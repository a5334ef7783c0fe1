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
from kernel.pii import Encrypted
from kernel.register import FIELD_HINTS, Virtual, blind_indexes, pii_columns, registers
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


@check
def personal_rules_are_consistent(app: Any) -> Iterator[str]:
    """Records about a person, rows per role, retention, and how personal data is stored."""
    for name, model in registers().items():
        attrs = attributes(model)
        for col in getattr(model, "not_edited_by", ()):
            if col not in attrs:
                yield f"{name}.not_edited_by: '{col}' is not a column"
        owner = getattr(model, "edited_only_by", None)
        if owner and owner not in attrs:
            yield f"{name}.edited_only_by: '{owner}' is not a column"
        grants = permissions.grants().get(name, {})
        for role in getattr(model, "visible_rows", {}) or {}:
            if role not in permissions.ROLES:
                yield f"{name}.visible_rows: unknown role '{role}'"
            elif "list" not in grants.get(role, ()):
                yield f"{name}.visible_rows: role '{role}' may not list this register"
        personal = pii_columns(model)
        kept = getattr(model, "retention", None)
        if kept is not None:
            if kept.start not in attrs:
                yield f"{name}.retention: start '{kept.start}' is not a column"
            if not personal:
                yield f"{name}.retention: the register keeps no personal data (no pii=True column)"
        indexes = blind_indexes(model)
        for col in personal:
            if not isinstance(model.__table__.c[col].type, Encrypted):
                yield f"{name}.{col}: personal data must be stored encrypted (use kernel.pii.encrypted_field)"
            if col not in indexes:
                yield f"{name}.{col}: personal data needs a blind index for exact search (kernel.pii.blind_index)"
        personal_documents = any(getattr(d, "personal", False) for d in getattr(model, "documents", ()) or ())
        if "reveal" in {op for ops in grants.values() for op in ops} and not personal and not personal_documents:
            yield f"{name}.grants: 'reveal' on a register without personal data"


@check
def business_records_are_voided_not_deleted(app: Any) -> Iterator[str]:
    for name, model in registers().items():
        if "void" not in (getattr(model, "states", None) or {}):
            continue
        t = model.transitions.get("void")
        if t is None:
            yield f"{name}.void: a register with the void state needs a `void` step"
        elif not (t.comment_required and t.destructive):
            yield f"{name}.void: voiding needs a reason (comment_required) and is destructive"
        for role, ops in permissions.grants().get(name, {}).items():
            if "delete" in ops:
                yield f"{name}.grants: '{role}' may delete a business record (void it instead)"


@check
def imports_are_consistent(app: Any) -> Iterator[str]:
    """A register filled from spreadsheets (kernel.imports): its keys among its columns, its columns real, no state
    imported (nobody imports into a workflow's states), and `import` granted only where there is an import."""
    for name, model in registers().items():
        decl = getattr(model, "importable", None)
        granted = [r for r, ops in permissions.grants().get(name, {}).items() if "import" in ops]
        if decl is None:
            for role in () if model.imported_on_its_screen else granted:
                yield f"{name}.grants: '{role}' may import, but the register declares no `importable`"
            continue
        if not granted:
            yield f"{name}.importable: nobody is granted 'import'"
        mapper = sa_inspect(model)
        names = []
        for col in decl.columns:
            if isinstance(col, Virtual):
                names.append(col.name)
                for hook in ("import_current", "import_write"):
                    if not hasattr(model, hook):
                        yield f"{name}.importable: virtual column '{col.name}' needs `{hook}` on the model"
                continue
            names.append(col)
            if col in ("state", "id", "version", "property_id"):
                yield f"{name}.importable: '{col}' is kept by the system and never imported"
            elif col not in attributes(model):
                yield f"{name}.importable: '{col}' is not a column or relationship"
            elif col in mapper.relationships:
                target = mapper.relationships[col].mapper.class_
                if getattr(target, "importable", None) is None and "code" not in target.__table__.c:
                    yield f"{name}.importable: linked '{col}' has no key to find it by (importable or a code)"
        for key in decl.keys:
            for part in key:
                if part not in names:
                    yield f"{name}.importable.keys: '{part}' is not one of its columns"
