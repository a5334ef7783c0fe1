"""Who may do what: role x register x operation.

Each register declares its own row next to its model (`grants = {...}` on the class) or, for a page that is
not a table, on its view; `declare()` collects them into one table. Workflow steps name their roles on the
`@transition` that performs them; `allowed()` answers both kinds.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from kernel.i18n import T

ROLES: dict[str, tuple[T, bool]] = {  # code: (label, company-wide)
    "clerk": (T("客服助理/前台值班员", "Desk clerk"), False),
    "cs_admin": (T("客服管理员", "CS administrator"), False),
    "supervisor": (T("客户服务主管", "CS supervisor"), False),
    "manager": (T("物业服务中心经理", "Centre manager"), False),
    "engineering": (T("工程主管", "Engineering lead"), False),
    "safety": (T("安全主管", "Safety lead"), False),
    "finance": (T("财务", "Finance"), False),
    "guard": (T("保安/大堂助理", "Guard / lobby"), False),
    "it": (T("IT", "IT"), True),
    "regional": (T("区域经理", "Regional manager"), True),
}
SYSTEM = "system"  # the role a system step is recorded under (a reissue superseding the old pass)

# Operations a grant may name. Steps are "transition:<name>" and are granted on the step itself.
OPERATIONS = frozenset({"list", "details", "create", "edit", "delete", "export", "mark_read", "import"})
VIEW = ("list", "details")
READ = VIEW + ("export",)
ENTER = VIEW + ("create", "edit")
KEEP = ENTER + ("export",)
ALL = KEEP + ("delete",)

DESK = ("clerk", "cs_admin")

_GRANTS: dict[str, dict[str, frozenset[str]]] = {}
_TRANSITIONS: dict[str, Mapping] = {}  # register -> its declared steps (from the Workflow mixin)


def declare(register: str, grants: Mapping[str, Iterable[str]]) -> None:
    """Record one register's row. Declared once, at class creation; the start-up checks validate it."""
    _GRANTS[register] = {role: frozenset(ops) for role, ops in grants.items()}


def declare_steps(register: str, transitions: Mapping) -> None:
    _TRANSITIONS[register] = transitions


def grants() -> dict[str, dict[str, frozenset[str]]]:
    return _GRANTS


def allowed(roles: Iterable[str], register: str, operation: str) -> bool:
    roles = set(roles)
    if operation.startswith("transition:"):
        t = _TRANSITIONS.get(register, {}).get(operation.split(":", 1)[1])
        return t is not None and bool(roles & set(t.roles))
    row = _GRANTS.get(register, {})
    return any(operation in row.get(r, ()) for r in roles)


# Roles that see personal data (ID numbers) unmasked in lists, details and exports.
PII_ROLES = frozenset({"clerk", "cs_admin", "supervisor", "manager"})


def may_see_pii(roles: Iterable[str]) -> bool:
    return bool(set(roles) & PII_ROLES)
