"""Who may do what: role x register x operation, declared once as data.

Workflow transitions name their roles next to the method that performs them (models, @transition);
`allowed()` answers both kinds, and the tests generate the whole matrix from these two sources.
"""
from app.i18n import T

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

OPERATIONS = ("list", "details", "create", "edit", "delete", "export")
VIEW = ("list", "details")
READ = VIEW + ("export",)
ENTER = VIEW + ("create", "edit")
KEEP = ENTER + ("export",)
ALL = KEEP + ("delete",)

DESK = ("clerk", "cs_admin")
OVERSIGHT = ("supervisor", "manager")


def _g(**by_role):
    return {role: frozenset(ops) for role, ops in by_role.items()}


GRANTS: dict[str, dict[str, frozenset[str]]] = {
    # company and master data (IT keeps accounts, prices and the clock; the desk reads)
    "property": _g(it=ALL, regional=READ, manager=VIEW),
    "role": _g(it=VIEW),
    "staff_user": _g(it=ALL),
    "deadline_rule": _g(it=("list", "details", "edit"), supervisor=VIEW, manager=VIEW),
    "shift": _g(it=ALL, cs_admin=VIEW, supervisor=VIEW, manager=VIEW, clerk=VIEW),
    "fee_item": _g(it=ALL, finance=READ, clerk=VIEW, cs_admin=VIEW, supervisor=READ, manager=READ, regional=READ),
    "unit": _g(it=ALL, clerk=VIEW, cs_admin=KEEP, supervisor=READ, manager=READ, engineering=VIEW,
               finance=VIEW, regional=READ),
    "resident": _g(clerk=ENTER, cs_admin=ALL, supervisor=READ, manager=READ, finance=VIEW, engineering=VIEW,
                   regional=READ),
    "department": _g(it=ALL, cs_admin=KEEP, clerk=VIEW, supervisor=VIEW, manager=VIEW),
    "payment": _g(finance=KEEP, clerk=VIEW, cs_admin=VIEW, supervisor=READ, manager=READ, regional=READ),
    "audit_log": _g(supervisor=READ, manager=READ, regional=READ, it=VIEW),
}

# Roles that see personal data (ID numbers) unmasked in lists, details and exports.
PII_ROLES = frozenset({"clerk", "cs_admin", "supervisor", "manager"})


def grant(register: str, **by_role) -> None:
    """Registers in other modules add their rows here at import; still one table in the end."""
    GRANTS[register] = _g(**by_role)


def allowed(roles, register: str, operation: str, model=None) -> bool:
    if operation.startswith("transition:"):
        t = (getattr(model, "transitions", {}) or {}).get(operation.split(":", 1)[1])
        return t is not None and bool(set(roles) & set(t.roles))
    row = GRANTS.get(register, {})
    return any(operation in row.get(r, ()) for r in roles)


def may_see_pii(roles) -> bool:
    return bool(set(roles) & PII_ROLES)
