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
OPERATIONS = frozenset({"list", "details", "create", "edit", "delete", "export", "mark_read", "import", "reveal"})
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


_PERSONAL: set[str] = set()  # registers holding personal data (a column declared pii=True)

# Granting these needs a manager's confirmation (four eyes), besides every role that reads personal data:
# an approver, money, the company-wide view, and IT itself (an IT account could otherwise grant itself anything).
CONFIRMED_ROLES = frozenset({"manager", "finance", "regional", "it"})
# Roles that may search a register by a full ID number (the desk identifies people at the counter).
PII_SEARCH_ROLES = frozenset(DESK)


def declare_personal(register: str) -> None:
    _PERSONAL.add(register)


def may_see_pii(roles: Iterable[str]) -> bool:
    """Nobody sees a full ID number outside the moment it is captured (PIPL art. 6, 51; GB/T 35273).

    Lists, details, exports, prints and the audit log show the masked form to every role; the desk reveals one
    record's number with a reason through the audited `reveal` operation instead.
    """
    return False


def may_search_pii(roles: Iterable[str]) -> bool:
    """An exact full ID number may be searched by the desk only (audited); nobody searches by a prefix."""
    return bool(set(roles) & PII_SEARCH_ROLES)


def reads_personal_data(role: str) -> bool:
    """The role lists, opens or reveals records of a register holding personal data."""
    return any({"list", "details", "reveal"} & _GRANTS.get(register, {}).get(role, frozenset())
               for register in _PERSONAL)


def needs_confirmation(role: str) -> bool:
    """Granting `role` to someone waits for a manager of that property (four eyes)."""
    return role in CONFIRMED_ROLES or reads_personal_data(role)
