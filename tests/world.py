"""The small world every test starts from: two properties, every demo role, a few units and residents."""
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from kernel.db import db
from kernel.identity import hash_password
from models import Membership, Property, Role, StaffUser
from models.master import Department, FeeItem, Resident, Shift, Unit
from seeds.base import load_base
from seeds.demo import DEMO_USERS, FEES, SHIFTS, id_number

SECOND = [("clerk_b", "clerk"), ("supervisor_b", "supervisor"), ("manager_b", "manager"),
          ("engineering_b", "engineering")]


def build():
    import random
    load_base()
    roles = {r.code: r for r in db.session.query(Role)}
    a = Property(code="A", name="翠湖花园")
    b = Property(code="B", name="云顶华庭")
    db.session.add_all([a, b])
    db.session.flush()
    pw = hash_password("demo1234")
    users = {}

    def user(username, memberships):
        u = StaffUser(username=username, full_name=username, password_hash=pw)
        db.session.add(u)
        db.session.flush()
        for prop, code in memberships:
            db.session.add(Membership(user_id=u.id, property_id=prop.id, role_id=roles[code].id))
        users[username] = u
        return u

    for username, _, code in DEMO_USERS:
        user(username, [(a, code)])
    user("clerk2", [(a, "clerk")])
    user("manager2", [(a, "manager")])
    user("supervisor2", [(a, "supervisor")])
    user("regional", [(a, "regional"), (b, "regional")])  # oversight only: not an approver anywhere
    user("manager_ab", [(a, "manager"), (b, "manager")])  # one person approving at two properties
    for username, code in SECOND:
        user(username, [(b, code)])
    rng = random.Random(1)
    units, residents = {}, {}
    for prop in (a, b):
        for code, name, start, end in SHIFTS:
            db.session.add(Shift(property_id=prop.id, code=code, name=name, starts_at=start, ends_at=end))
        for code, name, per, amount in FEES:
            db.session.add(FeeItem(property_id=prop.id, code=code, name=name, unit_of_charge=per,
                                   amount=Decimal(amount), effective_from=date(2026, 1, 1)))
        db.session.add(Department(property_id=prop.id, name="工程部", kind="engineering"))
        db.session.add(Department(property_id=prop.id, name="网通公司", kind="isp"))
        for code in ("1-1-101", "1-1-201", "3-2-1501"):
            u = Unit(property_id=prop.id, code=code, building=code.split("-")[0], entrance=code.split("-")[1],
                     room=code.split("-")[2], status="occupied")
            db.session.add(u)
            db.session.flush()
            units[(prop.code, code)] = u
        unit = units[(prop.code, "1-1-101")]
        owner = Resident(property_id=prop.id, unit_id=unit.id, kind="owner", name=f"业主{prop.code}",
                         phone="13800138000", id_number=id_number(rng))
        tenant = Resident(property_id=prop.id, unit_id=unit.id, kind="tenant", name=f"租户{prop.code}",
                          phone="13900139000", id_number=id_number(rng), owner_authorisation=False)
        db.session.add_all([owner, tenant])
        db.session.flush()
        residents[(prop.code, "owner")] = owner
        residents[(prop.code, "tenant")] = tenant
    db.session.commit()
    return SimpleNamespace(a=a.id, b=b.id, users={k: v.id for k, v in users.items()},
                           units={k: v.id for k, v in units.items()},
                           residents={k: v.id for k, v in residents.items()})
