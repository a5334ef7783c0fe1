"""Issue 14: what every request sets up (the user, memberships, roles, the property switch, the bell) comes in one
statement (app/auth.py load_user), and the home page's counts take shortcuts (app/admin/queue.py mine_clause,
queue_and_late). Nothing is kept across requests but statements: a change shows on the very next page, and a
shortcut gives the same rows as the long way."""
import re
from datetime import timedelta

from flask import g, session
from flask_login import current_user, login_user
from sqlalchemy import and_, delete, event, false, or_, select

from app.admin.queue import step_clause
from kernel import permissions, scoping
from kernel.clock import now, travel
from kernel.db import db
from kernel.deadlines import open_states_of, overdue_clause
from kernel.identity import Membership, Property, Role, StaffUser
from kernel.notify import Notification
from models.desk import RepairOrder
from models.permits import GoodsPass
from tests.factories import make
from tests.test_kept import counts_row


def switch_options(page):
    form = page.split('class="form-inline fd-prop')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', form)


def test_the_user_memberships_and_role_codes_are_one_statement_and_what_the_kernel_reads(app, world):
    with app.test_request_context("/admin/"):
        user = db.session.get(StaffUser, world.users["manager_ab"])
        login_user(user)
        session["fd_gen"] = user.session_generation
        db.session.expunge_all()
        g.pop("_login_user", None)
        seen = []
        listen = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            assert current_user.is_authenticated and current_user.id == world.users["manager_ab"]
            loaded = list(seen)
            memberships = {(m.property_id, m.role_id) for m in scoping._memberships()}
            codes = scoping._role_codes()
            assert scoping.user_property_ids() == [world.a, world.b]
            assert scoping.current_roles() == {"manager"}
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        assert len(loaded) == 1 and len(seen) == 1  # memberships and roles came with the user
        expected = set(db.session.execute(select(Membership.property_id, Membership.role_id)
                                          .where(Membership.user_id == world.users["manager_ab"])).all())
        assert memberships == expected
        every = {r.id: (r.code, r.company_wide) for r in db.session.scalars(select(Role))}
        assert codes == {rid: every[rid] for _, rid in expected}
        assert g.fd_property_names == {world.a: "翠湖花园", world.b: "云顶华庭"}
        other = next(rid for rid in every if rid not in codes)  # a role granted later in the request
        assert codes[other] == every[other] and dict(codes) == every  # read then, like the kernel reads them


def test_a_user_without_memberships_signs_in_with_none(app, world, client_as):
    c = client_as("clerk")
    with app.app_context():
        db.session.execute(delete(Membership).where(Membership.user_id == world.users["clerk"]))
        db.session.commit()
    with app.test_request_context("/admin/"):
        user = db.session.get(StaffUser, world.users["clerk"])
        login_user(user)
        session["fd_gen"] = user.session_generation
        g.pop("_login_user", None)
        assert current_user.is_authenticated
        assert scoping._memberships() == [] and scoping.current_roles() == frozenset()
        assert scoping.current_property_id() == -1
    assert c.get("/admin/resident/").status_code in (302, 403)


def test_the_property_switch_follows_a_membership_and_a_name_changed(app, world, client_as):
    c = client_as("manager_ab")
    assert switch_options(c.get("/admin/").get_data(as_text=True)) == [(str(world.a), "翠湖花园"),
                                                                        (str(world.b), "云顶华庭")]
    with app.app_context():
        db.session.get(Property, world.b).name = "云顶华庭二期"
        db.session.commit()
    assert switch_options(c.get("/admin/").get_data(as_text=True))[1] == (str(world.b), "云顶华庭二期")
    with app.app_context():
        db.session.execute(delete(Membership).where(Membership.user_id == world.users["manager_ab"],
                                                    Membership.property_id == world.b))
        db.session.commit()
    assert switch_options(c.get("/admin/").get_data(as_text=True)) == [(str(world.a), "翠湖花园")]


def notify(app, world, username, n=1):
    with app.app_context():
        for i in range(n):
            db.session.add(Notification(key=f"test/{username}/{now().timestamp()}/{i}", user_id=world.users[username],
                                        property_id=world.a, register="repair_order", title="测试通知"))
        db.session.commit()


def test_the_bell_counts_what_is_unread_now(app, world, client_as):
    c = client_as("clerk")
    assert 'id="fd-unread"' not in c.get("/admin/resident/").get_data(as_text=True)
    notify(app, world, "clerk", 2)
    notify(app, world, "clerk2")  # someone else's
    assert 'id="fd-unread">2<' in c.get("/admin/resident/").get_data(as_text=True)
    assert c.post("/admin/inbox/read/", {}).status_code == 302
    assert 'id="fd-unread"' not in c.get("/admin/resident/").get_data(as_text=True)


def test_a_request_that_writes_asks_for_the_bell_again(app, world, client_as):
    """The count read with the user is dropped once the request flushes anything (it may have notified me)."""
    notify(app, world, "clerk")
    with app.test_request_context("/admin/"):
        from app.templating import unread
        user = db.session.get(StaffUser, world.users["clerk"])
        login_user(user)
        session["fd_gen"] = user.session_generation
        g.pop("_login_user", None)
        assert current_user.is_authenticated and g.fd_unread == 1 and unread() == 1
        db.session.add(Notification(key="test/flushed", user_id=user.id, property_id=world.a,
                                    register="repair_order", title="刚刚"))
        db.session.flush()
        assert "fd_unread" not in g and unread() == 2
        db.session.rollback()


def full_mine_clause(view):
    """mine_clause as it read before the shortcut: every step's clause and the overdue clause, OR-ed."""
    model, roles = view.model, view.roles
    steps = [t for t in model.transitions.values() if t.queued and set(roles) & set(t.roles)]
    clauses = [step_clause(model, t, current_user.id) for t in steps]
    states = {s for t in steps for s in t.source}
    deadlines = getattr(model, "deadlines", ())
    if deadlines and permissions.allowed(roles, view.register, "edit"):
        clauses.append(overdue_clause(model))
        open_states = [open_states_of(model, d) for d in deadlines]
        states = states | {s for o in open_states for s in o} if all(open_states) else None
    if not clauses:
        return false()
    return and_(model.state.in_(sorted(states)), or_(*clauses)) if states else or_(*clauses)


def ids_of(view, clause):
    return {i for (i,) in view.get_query().filter(clause).with_entities(view.model.id)}


def test_the_mine_shortcut_holds_the_same_rows_as_every_clause(app, world):
    with app.app_context():
        for state in RepairOrder.states:
            for by in ("clerk", "clerk2", "manager"):
                make(RepairOrder, world.a, created_by_id=world.users[by], state=state, received_at=now(),
                     completed_at=now() if state == "completed" else None)
        for state in GoodsPass.states:
            for by in ("clerk", "manager"):
                make(GoodsPass, world.a, unit_id=world.units[("A", "1-1-101")], state=state,
                     created_by_id=world.users[by])
        db.session.commit()
    travel(timedelta(days=3))  # some of them late
    admin = app.extensions["frontdesk_admin"]
    views = [v for v in admin._views if getattr(v, "register", None) in ("repair_order", "goods_pass")]
    compared = 0
    for username in ("clerk", "manager", "supervisor", "engineering", "safety", "guard"):
        if username not in world.users:
            continue
        with app.test_request_context("/admin/"):
            user = db.session.get(StaffUser, world.users[username])
            login_user(user)
            session["fd_gen"] = user.session_generation
            for view in views:
                short, full = ids_of(view, view.mine_clause()), ids_of(view, full_mine_clause(view))
                assert short == full, (username, view.register)
                compared += bool(full)
    assert compared >= 2


def test_the_home_overdue_count_is_the_overdue_lists_count(app, world, client_as):
    with app.app_context():
        for _ in range(3):
            make(RepairOrder, world.a, created_by_id=world.users["clerk2"], state="registered", received_at=now())
        make(RepairOrder, world.a, created_by_id=world.users["clerk2"], state="closed", received_at=now())
        db.session.commit()
    travel(timedelta(minutes=10))
    with app.app_context():
        make(RepairOrder, world.a, created_by_id=world.users["clerk2"], state="registered", received_at=now(),
             commit=True)  # waits, not late yet
    c = client_as("clerk")
    page = c.get("/admin/").get_data(as_text=True)
    assert counts_row(page, "repair_order") == (4, 3)
    overdue = c.get("/admin/repair_order/?overdue=1").get_data(as_text=True)
    assert len(re.findall(r'name="rowid" class="action-checkbox"', overdue)) == 3
    assert page.split('id="fd-queue"')[1].count("table-danger") == 3


def test_the_queue_read_state_by_state_is_the_queue_ordered_as_one(app, world):
    """A queue whose states no deadline of mine runs in is read state by state in index order (queue_statement,
    `_oldest_per_state`): its first rows must be those of one ORDER BY over every waiting row, overdue first,
    then the longest waiting, for every role, with more waiting rows per state than the queue shows."""
    from sqlalchemy import case
    with app.app_context():
        start = now() - timedelta(days=5)
        for i, state in enumerate(list(RepairOrder.states) * 3):
            for by in ("clerk", "clerk2", "manager"):
                changed = start + timedelta(hours=(i * 7 + len(by) * 3) % 40)
                make(RepairOrder, world.a, created_by_id=world.users[by], state=state, state_changed_at=changed,
                     received_at=changed if i % 2 else now(), urgent=bool(i % 3 == 0),
                     completed_at=changed if state == "completed" and i % 2 else None)
        for i, state in enumerate(list(GoodsPass.states) * 3):
            for by in ("clerk", "manager"):
                make(GoodsPass, world.a, unit_id=world.units[("A", "1-1-101")], state=state,
                     state_changed_at=start + timedelta(hours=(i * 5) % 17), created_by_id=world.users[by])
        db.session.commit()
    admin = app.extensions["frontdesk_admin"]
    views = [v for v in admin._views if getattr(v, "register", None) in ("repair_order", "goods_pass")]
    compared = by_state = 0
    for username in sorted(world.users):
        with app.test_request_context("/admin/"):
            user = db.session.get(StaffUser, world.users[username])
            login_user(user)
            session["fd_gen"] = user.session_generation
            if scoping.current_property_id() is None:
                continue
            for view in views:
                model = view.model
                late = case((overdue_clause(model), 1), else_=0)
                for limit in (1, 2, 5):
                    one = [i for (i,) in view.get_query().filter(view.mine_clause()).with_entities(model.id)
                           .order_by(late.desc(), model.state_changed_at.asc(), model.id.asc()).limit(limit)]
                    assert [r["id"] for r in view.queue_rows(limit)] == one, (username, view.register, limit)
                    compared += bool(one)
                by_state += bool(view.waiting_states())
    assert compared >= 6 and by_state >= 2
