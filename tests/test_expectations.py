"""Expectations written apart from the grants, from the source's duties, asked of kernel.permissions.allowed().

tests/test_duties.py pins every register's row; this file pins the answers a person relies on, including the
steps (granted on the @transition, not in the rows), so a changed grant or a changed `allowed()` both fail here.
"""

import pytest

from kernel.permissions import allowed

# the small world (tests/conftest.py) only for a test that names it: these stay fast under `make mutate`
WORLD_WHEN_NAMED = True


# (roles held, register, operation, expected)
EXPECTED = [
    (("clerk",), "resident", "delete", False),          # 客服助理 may not delete residents
    (("clerk",), "resident", "export", False),          # nor take the residents' list home
    (("clerk",), "resident", "reveal", True),           # the desk reveals one number, audited
    (("supervisor",), "resident", "reveal", False),
    (("cs_admin",), "resident", "export", True),
    (("guard",), "resident", "list", False),            # the lobby sees no residents
    (("regional",), "resident", "list", False),         # company-wide oversight: totals, not people
    (("it",), "resident", "list", False),
    (("it",), "audit_log", "export", False),
    (("supervisor",), "audit_log", "edit", False),      # the audit log is read-only for everyone
    (("manager",), "audit_log", "delete", False),
    (("it",), "staff_user", "create", True),            # accounts are IT's
    (("manager",), "staff_user", "create", False),
    (("clerk",), "deadline_rule", "edit", False),        # IT changes the minutes
    (("it",), "deadline_rule", "edit", True),
    (("finance",), "payment", "create", True),
    (("clerk",), "payment", "create", False),            # the desk takes no money
    (("engineering",), "repair_order", "create", False),
    (("engineering",), "repair_order", "list", True),
    (("clerk",), "repair_order", "transition:close", False),  # closing a repair is the admin's or supervisor's
    (("cs_admin",), "repair_order", "transition:close", True),
    (("engineering",), "repair_order", "transition:arrive", True),
    (("engineering",), "repair_order", "transition:dispatch", False),
    (("cs_admin",), "roster", "transition:review", False),     # the supervisor reviews the roster
    (("supervisor",), "roster", "transition:review", True),
    (("supervisor",), "roster", "transition:file", False),     # the manager files it
    (("manager",), "roster", "transition:file", True),
    (("clerk",), "roster", "transition:void", False),
    (("guard", "clerk"), "repair_order", "create", True),      # any one role that may is enough
    ((), "repair_order", "list", False),
]


@pytest.mark.parametrize("roles, register, operation, expected", EXPECTED,
                         ids=[f"{'+'.join(r) or 'nobody'}-{g}-{o}" for r, g, o, _ in EXPECTED])
def test_pinned_expectation(app, roles, register, operation, expected):
    assert allowed(roles, register, operation) is expected


@pytest.mark.parametrize("register", ["repair_order", "complaint", "incident", "resident", "unit", "roster",
                                      "goods_pass", "renovation_permit", "payment", "phone_log"])
@pytest.mark.parametrize("role", ["clerk", "cs_admin", "supervisor", "manager", "guard", "regional", "finance"])
def test_nobody_deletes_the_desks_records(app, role, register):
    assert not allowed([role], register, "delete")
