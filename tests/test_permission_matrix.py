"""The permission matrix, generated from each register's declared grants and the models' @transition roles.

For every register x every role (and anonymous) x every operation: what is allowed works; what is refused
answers 403 (anonymous: a redirect to /login) and leaves the data unchanged. Then the property dimension:
a user of A x every endpoint x a record of B is refused and the record is unchanged.
"""
import pytest
from sqlalchemy import select

from kernel import permissions
from kernel.db import db
from tests.factories import make

ROLES = list(permissions.ROLES) + [None]


def registers(app):
    from app.admin import RegisterView
    admin = app.extensions["frontdesk_admin"]
    return {v.register: v for v in admin._views if isinstance(v, RegisterView)}


def _registers():
    from app.config import TestConfig
    from app.factory import create_app
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    return sorted(registers(app))


REGISTERS = _registers()
USER_OF_ROLE = {"clerk": "clerk", "cs_admin": "cs_admin", "supervisor": "supervisor", "manager": "manager",
                "engineering": "engineering", "safety": "safety", "finance": "finance", "guard": "guard", "it": "it"}


def _user_for(role):
    if role == "regional":
        return "regional"  # company-wide oversight only, at A and B
    return USER_OF_ROLE.get(role)


def _snapshot(model, rid):
    db.session.remove()
    obj = db.session.get(model, rid)
    return None if obj is None else {c.key: getattr(obj, c.key) for c in model.__table__.columns}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
@pytest.mark.parametrize("register", REGISTERS)
def test_matrix(app, world, client_as, register, role):
    view = registers(app)[register]
    model = view.model
    with app.app_context():
        user_id = world.users["it"]
        rid = make(model, world.a, user_id=user_id, commit=True).id
        before = _snapshot(model, rid)
        count_before = db.session.query(model).count()
        held = {role} if role else set()
    c = client_as(_user_for(role))
    base = f"/admin/{register}"
    # a role limited to some rows (visible_rows) meets this record only if it is one of them: else it is not found
    rule = getattr(model, "visible_rows", {}).get(role)
    with app.app_context():
        hidden = rule is not None and db.session.scalar(
            select(model.id).where(model.id == rid, rule(model, world.users.get(_user_for(role) or "", 0)))) is None

    def expect(operation, response, what):
        ok = bool(role) and permissions.allowed(held, register, operation)
        if role is None:
            assert response.status_code == 302 and "/login" in response.headers["Location"], what
        elif ok and hidden and operation not in ("list", "export", "create"):
            assert response.status_code in (302, 404), f"{role} {what} on a row it does not see: {response.status_code}"
        elif ok:
            assert response.status_code in (200, 302), f"{role} {what}: {response.status_code}"
            assert response.status_code != 403
        else:
            assert response.status_code == 403, f"{role} {what}: expected 403, got {response.status_code}"
        return ok

    expect("list", c.get(f"{base}/"), "list")
    expect("details", c.get(f"{base}/details/?id={rid}"), "details")
    expect("export", c.get(f"{base}/export/csv/"), "export csv")
    expect("create", c.get(f"{base}/new/"), "create form")
    expect("edit", c.get(f"{base}/edit/?id={rid}"), "edit form")
    if model.importable is not None:  # issue 18: import is an operation of its own, page and template alike
        expect("import", c.get(f"{base}/import/"), "import page")
        expect("import", c.get(f"{base}/import/template/"), "import template")
        expect("import", c.post(f"{base}/import/confirm/", {"token": "0" * 32}), "import confirm")
    else:
        assert c.get(f"{base}/import/").status_code in ((302,) if role is None else (403, 404))
    writes = [
        ("create", c.post(f"{base}/new/", {"name": "x"}), "create post"),
        ("edit", c.post(f"{base}/edit/?id={rid}", {"row_version": "1"}), "edit post"),
        ("edit", c.post(f"{base}/ajax/update/", {"list_form_pk": f"{rid}.1"}), "ajax update"),
    ]
    for name, t in getattr(model, "transitions", {}).items():
        writes.append((f"transition:{name}", c.post(f"{base}/transition/{name}/", {"id": rid}), f"step {name}"))
        if t.bulk:
            writes.append((f"transition:{name}", c.post(f"{base}/action/", {"action": name, "rowid": rid}),
                           f"bulk {name}"))
    writes += [  # last: an allowed delete removes the record the others need
        ("delete", c.post(f"{base}/delete/", {"id": rid}), "delete"),
        ("delete", c.post(f"{base}/action/", {"action": "delete", "rowid": rid}), "bulk delete"),
    ]
    refused_any = False
    for operation, response, what in writes:
        if operation == "edit" and what == "ajax update" and not view.column_editable_list:
            assert response.status_code in (302, 403, 404), what
            continue
        if not expect(operation, response, what):
            refused_any = True
    with app.app_context():
        if refused_any and not any(permissions.allowed(held, register, op) for op, _, _ in writes):
            assert _snapshot(model, rid) == before, f"{role} changed {register} through a refused request"
            if register != "audit_log":  # reading it (export) is itself audited
                assert db.session.query(model).count() == count_before


PROPERTY_PROBES = ("details", "edit", "edit-post", "delete", "bulk-delete", "transition")


@pytest.mark.parametrize("register", REGISTERS)
def test_a_user_of_a_cannot_reach_a_record_of_b(app, world, client_as, register):
    """Every endpoint, by a user who may do it at A, against a record of B: 404/403 and nothing changes."""
    from models import AuditLog
    view = registers(app)[register]
    model = view.model
    if not hasattr(model, "property_id") or register == "audit_log":
        pytest.skip("not property data")
    strongest = max(permissions.ROLES, key=lambda r: len(permissions.grants().get(register, {}).get(r, ())))
    username = _user_for(strongest)
    if username == "regional" or username is None:
        username = "manager"
    with app.app_context():
        rid = make(model, world.b, user_id=world.users["it"], commit=True).id
        before = _snapshot(model, rid)
    c = client_as(username)
    base = f"/admin/{register}"
    responses = [c.get(f"{base}/details/?id={rid}"), c.get(f"{base}/edit/?id={rid}"),
                 c.post(f"{base}/edit/?id={rid}", {"row_version": "1"}), c.post(f"{base}/delete/", {"id": rid}),
                 c.post(f"{base}/action/", {"action": "delete", "rowid": rid})]
    for name in getattr(model, "transitions", {}):
        responses.append(c.post(f"{base}/transition/{name}/", {"id": rid}))
    for r in responses:
        assert r.status_code in (302, 403, 404), r.status_code
        if r.status_code == 302:
            assert "/login" not in r.headers["Location"]
    with app.app_context():
        assert _snapshot(model, rid) == before
        if permissions.allowed({strongest}, register, "details"):
            denied = db.session.scalars(select(AuditLog).where(AuditLog.action == "denied",
                                                               AuditLog.register == register)).all()
            assert denied, "the attempt is in the audit log"


PAGES = {"daily_summary": "/admin/daily_summary/", "overview": "/admin/overview/"}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_follow_the_same_grants(app, world, client_as, page, role):
    c = client_as(_user_for(role))
    r = c.get(PAGES[page])
    held = {role}
    if role is None:
        assert r.status_code == 302 and "/login" in r.headers["Location"]
    elif permissions.allowed(held, page, "list"):
        assert r.status_code == 200
    else:
        assert r.status_code == 403
