"""Issue #12 rule 4: the desk collects the property management fee (篇2 §4: 物业管理费的收缴); finance confirms it."""
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from kernel.db import db
from models import SignOff
from models.master import FeePayment, Payment, Unit
from tests.helpers import latest, reload, step


def with_area(app, world, code="1-1-101", area="89.50"):
    with app.app_context():
        u = db.session.get(Unit, world.units[("A", code)])
        u.floor_area = Decimal(area)
        db.session.commit()
        return u.id


def collect(c, unit, **extra):
    return c.post("/admin/fee_payment/new/", {"unit": unit, "payer": "业主A", "period_from": "2026-12-15",
                                              "months": "3", "method": "wechat", "receipt_no": "SJ-0001", **extra})


def test_rule_4_the_desk_collects_the_management_fee_priced_from_the_fee_table(app, world, client_as):
    unit = with_area(app, world)
    clerk = client_as("clerk")
    r = collect(clerk, unit, amount="1")  # a typed amount is not taken: the fee table decides
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    with app.app_context():
        fp = latest(FeePayment)
        assert fp.state == "recorded" and fp.rate == Decimal("3.80") and fp.floor_area == Decimal("89.50")
        assert fp.amount == Decimal("1020.30")  # 3.80 x 89.50 x 3
        assert (fp.period_from, fp.period_to) == (date(2026, 12, 1), date(2027, 2, 1))
        assert db.session.scalar(select(Payment).where(Payment.linked_register == "fee_payment")) is None
    # the clerk cannot confirm it; finance does, and the money lands in finance's ledger
    assert clerk.post("/admin/fee_payment/transition/confirm/", {"id": fp.id}).status_code == 403
    step(client_as("finance"), "fee_payment", "confirm", fp.id)
    with app.app_context():
        assert reload(FeePayment, fp.id).state == "confirmed"
        pay = db.session.scalar(select(Payment).where(Payment.linked_register == "fee_payment",
                                                      Payment.linked_id == fp.id))
        assert (pay.kind, pay.amount, pay.receipt_no, pay.quantity, pay.state) == (
            "management_fee", Decimal("1020.30"), "SJ-0001", 3, "confirmed")
        assert db.session.scalar(select(SignOff.role).where(SignOff.register == "fee_payment")) == "finance"
    # confirmed = read-only
    r = clerk.post(f"/admin/fee_payment/edit/?id={fp.id}", {"payer": "x"}, follow_redirects=True)
    assert "不能再修改" in r.get_data(as_text=True)


def test_rule_4_a_month_is_paid_once_and_a_receipt_number_once(app, world, client_as):
    unit = with_area(app, world)
    clerk = client_as("clerk")
    assert collect(clerk, unit).status_code == 302
    with app.app_context():
        first = latest(FeePayment).number
    r = collect(clerk, unit, period_from="2027-02-01", months="1", receipt_no="SJ-0002")
    assert f"已由 {first} 收取，请勿重复收费" in r.get_data(as_text=True)
    r = collect(clerk, unit, period_from="2027-03-01", months="1")  # the same receipt number again
    assert r.status_code == 200 and "重复" in r.get_data(as_text=True)
    assert collect(clerk, unit, period_from="2027-03-01", months="1", receipt_no="SJ-0002").status_code == 302
    with app.app_context():
        assert db.session.query(FeePayment).count() == 2


def test_rule_4_a_unit_without_floor_area_cannot_be_priced(app, world, client_as):
    r = collect(client_as("clerk"), world.units[("A", "1-1-201")])
    assert "没有建筑面积" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(FeePayment).count() == 0
