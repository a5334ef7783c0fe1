"""Identity and sessions: roles at one property never leak to another, a session ends when the account is
deactivated or its roles change, `next=` never leaves the site."""
import pytest
from sqlalchemy import delete, select

from kernel.db import db
from kernel.identity import end_sessions
from models import Membership, Role, StaffUser


def test_a_user_with_different_roles_at_two_properties(app, world, client_as):
    with app.app_context():
        roles = {r.code: r.id for r in db.session.scalars(select(Role))}
        u = StaffUser(username="twohats", full_name="两个项目", password_hash=db.session.get(
            StaffUser, world.users["clerk"]).password_hash)
        db.session.add(u)
        db.session.flush()
        db.session.add_all([Membership(user_id=u.id, property_id=world.a, role_id=roles["clerk"]),
                            Membership(user_id=u.id, property_id=world.b, role_id=roles["supervisor"])])
        db.session.commit()
    c = client_as("twohats")
    assert c.get("/admin/resident/").status_code == 200           # a clerk at A lists residents
    assert c.get("/admin/audit_log/").status_code in (302, 403)     # but is no supervisor at A
    c.post("/property", {"property_id": world.b})
    assert c.get("/admin/audit_log/").status_code == 200            # at B: the supervisor's screens
    assert c.get("/admin/resident/new/").status_code in (302, 403)  # and not the clerk's entry forms


@pytest.mark.parametrize("change", ["deactivate", "end_sessions", "roles_removed"])
def test_a_session_does_not_outlive_the_account(app, world, client_as, change):
    c = client_as("clerk")
    assert c.get("/admin/resident/").status_code == 200
    with app.app_context():
        u = db.session.get(StaffUser, world.users["clerk"])
        if change == "deactivate":
            u.active = False
            end_sessions(u)
        elif change == "end_sessions":
            end_sessions(u)
        else:
            db.session.execute(delete(Membership).where(Membership.user_id == u.id))
        db.session.commit()
    r = c.get("/admin/resident/")
    assert r.status_code in (302, 403)
    if change != "roles_removed":
        assert "/login" in r.headers["Location"]


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "https://evil.example/",
                                    "javascript:alert(1)", "evil.example"],
                         ids=["protocol-relative", "backslash", "absolute", "scheme", "relative"])
def test_next_never_leaves_the_site(app, world, client_as, target):
    c = client_as()
    r = c.http.post(f"/login?next={target}", data={"username": "clerk", "password": "demo1234",
                                                   "csrf_token": c.token()})
    assert r.status_code == 302
    assert "evil" not in r.headers["Location"] and "javascript" not in r.headers["Location"]


def test_next_within_the_site_is_followed(app, world, client_as):
    c = client_as()
    r = c.http.post("/login?next=/admin/resident/", data={"username": "clerk", "password": "demo1234",
                                                         "csrf_token": c.token()})
    assert r.headers["Location"].endswith("/admin/resident/")


def test_login_on_a_browser_someone_else_used(app, world, client_as):
    c = client_as("supervisor")
    assert c.get("/admin/audit_log/").status_code == 200
    c.post("/logout")
    c.login("clerk")
    assert c.get("/admin/audit_log/").status_code in (302, 403)  # nothing of the supervisor's session is left
