"""What the throwaway register gets without a line of its own code: list, scope, steps, audit, history."""
from sqlalchemy import select

from kernel.audit import AuditLog
from kernel.db import db
from tests.declarations.throwaway_register import ParcelLocker
from tests.helpers import latest, step


def test_the_throwaway_register_lists_scopes_steps_and_audits(app, world, client_as):
    clerk = client_as("clerk")
    r = clerk.post("/admin/parcel_locker/new/", {"unit": world.units[("A", "1-1-101")], "addressee": "王先生"})
    assert r.status_code == 302
    with app.app_context():
        parcel = latest(ParcelLocker)
        assert parcel.number.startswith("A-KD-") and parcel.state == "stored" and parcel.property_id == world.a
    assert parcel.number in clerk.get("/admin/parcel_locker/").get_data(as_text=True)
    assert parcel.number not in client_as("clerk_b").get("/admin/parcel_locker/").get_data(as_text=True)
    assert client_as("guard").get("/admin/parcel_locker/").status_code == 403
    assert client_as("clerk_b").get(f"/admin/parcel_locker/details/?id={parcel.id}").status_code == 404
    page = step(clerk, "parcel_locker", "collect", parcel.id).get_data(as_text=True)
    assert "已取件" in page
    with app.app_context():
        actions = set(db.session.scalars(select(AuditLog.action).where(AuditLog.register == "parcel_locker")))
        assert {"create", "transition:collect", "denied"} <= actions
    details = clerk.get(f"/admin/parcel_locker/details/?id={parcel.id}").get_data(as_text=True)
    assert "修改历史" in details and "取件" in details and "1-1-101" in details
