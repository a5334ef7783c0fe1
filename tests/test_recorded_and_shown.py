"""What is recorded and shown: secrets never in audit rows, personal data only masked, a row for every insert,
update and delete, the server (not the form) naming the creator."""
from sqlalchemy import select

from kernel.audit import AuditLog
from kernel.db import db
from kernel.identity import hash_password
from models import StaffUser
from models.master import Resident, Unit
from tests.factories import make


def rows_of(register, rid):
    return db.session.scalars(select(AuditLog).where(AuditLog.register == register, AuditLog.record_id == rid)
                              .order_by(AuditLog.id)).all()


def test_password_hashes_never_reach_the_audit_log(app, world):
    with app.app_context():
        u = StaffUser(username="audited", full_name="审计", password_hash=hash_password("secret-1"))
        db.session.add(u)
        db.session.commit()
        u.password_hash = hash_password("secret-2")
        db.session.commit()
        rows = rows_of("staff_user", u.id)
        assert [r.action for r in rows] == ["create", "update"]
        assert rows[0].changes["password_hash"] == [None, "***"]
        assert rows[1].changes == {"password_hash": ["***", "***"]}
        everything = " ".join(str(r.changes) for r in db.session.scalars(select(AuditLog)))
        assert "pbkdf2" not in everything and "scrypt" not in everything and "secret-" not in everything
        assert "version" not in rows[1].changes and "updated_at" not in rows[1].changes


def test_id_numbers_are_kept_masked_and_blind_indexes_not_at_all(app, world):
    with app.app_context():
        r = db.session.get(Resident, world.residents[("A", "owner")])
        full = r.id_number
        r.id_number = "11010519491231002X"
        db.session.commit()
        change = rows_of("resident", r.id)[-1].changes
        assert change["id_number"] == [full[:3] + "*" * 11 + full[-4:], "110***********002X"]
        assert set(change) == {"id_number"}  # the blind index moved too, but is never kept
        r.phone = "13700137000"
        db.session.commit()
        assert rows_of("resident", r.id)[-1].changes == {"phone": ["13800138000", "13700137000"]}


def test_every_delete_leaves_a_row_with_the_old_values(app, world):
    with app.app_context():
        u = make(Unit, world.a, code="9-9-909", building="9", entrance="9", room="909", status="vacant")
        db.session.commit()
        uid = u.id
        db.session.delete(u)
        db.session.commit()
        last = rows_of("unit", uid)[-1]
        assert last.action == "delete" and last.property_id == world.a
        assert last.changes["code"] == ["9-9-909", None] and last.changes["status"] == ["vacant", None]
        assert "version" not in last.changes


def test_an_unchanged_save_writes_no_row(app, world):
    with app.app_context():
        r = db.session.get(Resident, world.residents[("A", "owner")])
        before = len(rows_of("resident", r.id))
        r.phone = r.phone
        db.session.commit()
        assert len(rows_of("resident", r.id)) == before


def test_the_creator_is_stamped_from_the_logged_in_user(app, world, client_as):
    from flask_login import login_user

    from models.desk import RepairOrder
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.0.0.9"}):
        clerk = db.session.get(StaffUser, world.users["clerk"])
        login_user(clerk)
        o = make(RepairOrder, world.a)
        forged = make(RepairOrder, world.a, created_by_id=world.users["manager"])
        db.session.commit()
        assert o.created_by_id == clerk.id and forged.created_by_id == world.users["manager"]
        row = rows_of("repair_order", o.id)[0]
        assert (row.user_id, row.address, row.action) == (clerk.id, "10.0.0.9", "create")
    with app.app_context():
        anonymous = make(RepairOrder, world.a)
        assert anonymous.created_by_id is None
        db.session.rollback()
