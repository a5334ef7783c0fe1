"""Passes and permits: each rule of issue #4 through the real forms, steps and bulk actions."""
import re
import threading
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from kernel.clock import now, today, travel
from kernel.db import db
from kernel.workflow import WorkflowError, fire
from models import AuditLog, SignOff, StaffUser
from models.master import Payment, Receipt
from models.permits import GoodsPass, HotWorkPermit, RenovationExtension, RenovationPermit, StairElevatorUse, WorkerPass
from seeds.samples import image, pdf
from tests.factories import make
from tests.helpers import attach, latest, reload, step, upload, version_of

ID = "11010519491231002X"  # a valid GB 11643 number


def approved_permit(app, world, end=None):
    with app.app_context():
        p = make(RenovationPermit, world.a, unit_id=world.units[("A", "1-1-101")],
                 applicant_id=world.residents[("A", "owner")], lead_name="装修张", content="全屋装修",
                 start_on=today(), end_on=end or today() + timedelta(days=90), state="approved", commit=True)
        return p.id


def new_goods_pass(c, world, **extra):
    return c.post(
        "/admin/goods_pass/new/",
        {
            "unit": world.units[("A", "1-1-101")],
            "applicant": world.residents[("A", "owner")],
            "carrier_name": "搬家李",
            "carrier_id_number": ID,
            "items": "沙发一套",
            "owner_signed": "y",
            "doc_id_copy": upload("carrier-id.jpg", image("JPEG")),
            **extra,
        },
    )


def issued_goods_pass(app, world, client_as):
    """Registered by the clerk, signed by the duty supervisor, stamped by the manager."""
    clerk = client_as("clerk")
    assert new_goods_pass(clerk, world).status_code == 302
    with app.app_context():
        gp = latest(GoodsPass)
    step(client_as("supervisor"), "goods_pass", "sign", gp.id)
    step(client_as("manager"), "goods_pass", "stamp", gp.id)
    return clerk, gp


def test_goods_pass_sign_stamp_issue_exit_and_issued_is_read_only(app, world, client_as):
    clerk, gp = issued_goods_pass(app, world, client_as)
    with app.app_context():
        assert reload(GoodsPass, gp.id).state == "issued"
    # issued = read-only on the server: form edit, ajax edit, delete
    r = clerk.post(
        f"/admin/goods_pass/edit/?id={gp.id}", {"items": "保险柜", "row_version": "3"}, follow_redirects=True
    )
    assert "不能再修改" in r.get_data(as_text=True)
    assert clerk.post("/admin/goods_pass/ajax/update/", {"list_form_pk": gp.id, "items": "x"}).status_code in (403, 404)
    assert client_as("cs_admin").post("/admin/goods_pass/delete/", {"id": gp.id}).status_code == 403
    guard = client_as("guard")
    page = guard.get(f"/verify/goods_pass/{gp.number}").get_data(as_text=True)
    assert 'data-verdict="valid"' in page and "确认放行" in page
    assert guard.get("/admin/goods_pass/").status_code == 403  # the guard sees only the verification page
    with app.app_context():
        version = version_of("goods_pass", gp.id)
    guard.post("/admin/goods_pass/transition/exit/", {"id": gp.id, "row_version": version,
                                                      "next": f"/verify/goods_pass/{gp.number}"})
    with app.app_context():
        g = reload(GoodsPass, gp.id)
        assert g.state == "exited" and g.items == "沙发一套" and g.exited_at


def test_tenant_goods_pass_needs_owner_consent(app, world, client_as):
    c = client_as("clerk")
    r = new_goods_pass(c, world, applicant=world.residents[("A", "tenant")])
    assert "须经业主同意" in r.get_data(as_text=True)
    assert new_goods_pass(c, world, applicant=world.residents[("A", "tenant")], owner_consent="y").status_code == 302


def test_goods_pass_bad_id_and_missing_signature(app, world, client_as):
    c = client_as("clerk")
    assert "身份证号码无效" in new_goods_pass(c, world, carrier_id_number="110105194912310021").get_data(as_text=True)
    assert "须由办证人签字" in new_goods_pass(c, world, owner_signed="").get_data(as_text=True)
    with app.app_context():
        assert db.session.query(GoodsPass).count() == 0


def test_nobody_signs_off_what_they_created(app, world, client_as):
    duty = client_as("cs_admin")  # a duty supervisor may register a pass, but not sign it too
    new_goods_pass(duty, world)
    with app.app_context():
        gp = latest(GoodsPass)
    r = step(duty, "goods_pass", "sign", gp.id)
    assert "自己创建的记录" in r.get_data(as_text=True)
    with app.app_context():
        assert reload(GoodsPass, gp.id).state == "draft"


def test_second_approval_of_the_same_step_is_refused(app, world, client_as):
    c = client_as("clerk")
    new_goods_pass(c, world)
    with app.app_context():
        gp = latest(GoodsPass)
    step(client_as("supervisor"), "goods_pass", "sign", gp.id)
    r = step(client_as("supervisor2"), "goods_pass", "sign", gp.id)
    assert "的记录才能" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(SignOff).filter_by(record_id=gp.id, transition="sign").count() == 1


def test_manager_bulk_approves_and_gets_a_per_row_report(app, world, client_as):
    c = client_as("clerk")
    for _ in range(3):
        new_goods_pass(c, world)
    mgr = client_as("manager")
    with app.app_context():  # a pass the manager created: the bulk stamp must skip it
        attach(make(GoodsPass, world.a, unit_id=world.units[("A", "1-1-101")], created_by_id=world.users["manager"],
                    commit=True), "id_copy")
    with app.app_context():
        ids = [g.id for g in db.session.scalars(select(GoodsPass).order_by(GoodsPass.id))]
        other = make(GoodsPass, world.b, unit_id=world.units[("B", "1-1-101")], state="signed", commit=True).id
    sup = client_as("supervisor")
    sup.post("/admin/goods_pass/action/", {"action": "sign", "rowid": ids[:3]})
    client_as("cs_admin").post("/admin/goods_pass/action/", {"action": "sign", "rowid": ids[3]})
    r = mgr.post("/admin/goods_pass/action/", {"action": "stamp", "rowid": ids + [other, 99999]}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "完成 3 条，跳过 1 条" in page and "自己创建的记录" in page
    assert "不属于当前项目" in page  # the tampered ids
    with app.app_context():
        states = [reload(GoodsPass, i).state for i in ids]
        assert states == ["issued", "issued", "issued", "signed"]
        assert reload(GoodsPass, other).state == "signed"
        assert db.session.query(AuditLog).filter_by(action="transition:stamp").count() == 3
        assert db.session.query(AuditLog).filter_by(action="denied").count() >= 1


def test_worker_pass_only_for_an_approved_unexpired_permit_and_not_past_its_end(app, world, client_as):
    c = client_as("clerk")
    with app.app_context():
        draft = make(RenovationPermit, world.a, unit_id=world.units[("A", "1-1-101")], lead_name="x", content="y",
                     start_on=today(), end_on=today() + timedelta(days=30), commit=True).id
    data = {"worker_name": "王师傅", "worker_id_number": ID, "lead_name": "装修张"}
    assert "须凭已批准且未过期" in c.post("/admin/worker_pass/new/", {**data, "permit": draft}).get_data(as_text=True)
    pid = approved_permit(app, world)
    end = today() + timedelta(days=90)
    r = c.post("/admin/worker_pass/new/", {**data, "permit": pid, "valid_until": (end + timedelta(days=1)).isoformat()})
    assert "有效期不能超过许可证期限" in r.get_data(as_text=True)
    assert c.post("/admin/worker_pass/new/", {**data, "permit": pid}).status_code == 302
    with app.app_context():
        wp = latest(WorkerPass)
        assert wp.valid_until == end and wp.deposit == Decimal("100.00") and wp.fee == Decimal("5.00")


def finance_receipt(app, client_as, number="CW-0001", amount="105", purpose="worker_pass", payer="装修张"):
    """Finance enters the receipt it wrote (篇5 §2 d), through its own form; returns the receipt's id."""
    r = client_as("finance").post("/admin/receipt/new/", {"receipt_no": number, "amount": amount, "payer": payer,
                                                          "purpose": purpose})
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    with app.app_context():
        return db.session.scalar(select(Receipt.id).where(Receipt.receipt_no == number))


def draft_worker_pass(app, world, c, pid, name="王师傅"):
    r = c.post("/admin/worker_pass/new/", {"permit": pid, "worker_name": name, "worker_id_number": ID,
                                           "doc_photo": upload("photo.jpg", image("JPEG")),
                                           "doc_id_copy": upload("id.pdf", pdf()), "lead_name": "装修张"})
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    with app.app_context():
        return latest(WorkerPass).id


def issued_worker_pass(app, world, client_as, end=None):
    c = client_as("clerk")
    pid = approved_permit(app, world, end)
    wid = draft_worker_pass(app, world, c, pid)
    step(c, "worker_pass", "issue", wid, signed_for_by="装修张", receipt=finance_receipt(app, client_as))
    return c, pid, wid


def test_issue_records_deposit_and_fee_payments_and_return_refunds(app, world, client_as):
    c, pid, wid = issued_worker_pass(app, world, client_as)
    with app.app_context():
        assert reload(WorkerPass, wid).state == "issued"
        pays = db.session.scalars(select(Payment).where(Payment.linked_id == wid).order_by(Payment.id)).all()
        assert [(p.kind, p.amount, p.receipt_no) for p in pays] == [("deposit", Decimal("100.00"), "CW-0001"),
                                                                    ("fee", Decimal("5.00"), "CW-0001")]
    step(c, "worker_pass", "return_pass", wid)  # the desk takes the card back ...
    with app.app_context():
        assert reload(WorkerPass, wid).state == "returned"
        assert db.session.scalar(select(Payment).where(Payment.linked_id == wid, Payment.kind == "refund")) is None
    assert c.post("/admin/worker_pass/transition/refund_deposit/", {"id": wid}).status_code == 403
    step(client_as("finance"), "worker_pass", "refund_deposit", wid)  # ... finance pays the deposit back
    with app.app_context():
        refund = db.session.scalar(select(Payment).where(Payment.linked_id == wid, Payment.kind == "refund"))
        assert refund.amount == Decimal("100.00") and reload(WorkerPass, wid).state == "refunded"


def test_an_issued_pass_is_never_edited_a_change_is_a_reissue(app, world, client_as):
    c, pid, wid = issued_worker_pass(app, world, client_as)
    r = c.post(f"/admin/worker_pass/edit/?id={wid}", {"worker_name": "李师傅"}, follow_redirects=True)
    assert "不能再修改" in r.get_data(as_text=True)
    step(c, "worker_pass", "reissue", wid, reissue_reason="遗失补办")
    with app.app_context():
        old = reload(WorkerPass, wid)
        new = old.superseded_by
        assert old.state == "superseded" and old.worker_name == "王师傅"
        assert new.state == "issued" and new.number != old.number and new.supersedes_id == old.id
        new_number, old_number = new.number, old.number
    guard = client_as("guard")
    page = guard.get(f"/verify/worker_pass/{old_number}").get_data(as_text=True)
    assert 'data-verdict="superseded"' in page and new_number in page
    details = c.get(f"/admin/worker_pass/details/?id={wid}").get_data(as_text=True)
    assert new_number in details


def test_extension_review_approve_fee_then_end_moves_and_passes_reissued_in_one_step(app, world, client_as):
    c, pid, wid = issued_worker_pass(app, world, client_as)
    with app.app_context():
        old_end = reload(RenovationPermit, pid).end_on
    new_end = old_end + timedelta(days=30)
    c.post("/admin/renovation_extension/new/", {"permit": pid, "new_end_on": new_end.isoformat(), "reason": "工期延误",
                                                "fee_due": "200"})
    with app.app_context():
        ext = latest(RenovationExtension)
    assert "的记录才能" in step(client_as("manager"), "renovation_extension", "approve", ext.id).get_data(as_text=True)
    step(client_as("engineering"), "renovation_extension", "review", ext.id)
    step(client_as("manager"), "renovation_extension", "approve", ext.id)
    assert "应交费用尚未交纳" in step(c, "renovation_extension", "extend", ext.id).get_data(as_text=True)
    step(c, "renovation_extension", "extend", ext.id,
         fee_receipt=finance_receipt(app, client_as, "CW-0099", "200", "renovation_extension"))
    with app.app_context():
        assert reload(RenovationPermit, pid).end_on == new_end
        old = reload(WorkerPass, wid)
        assert old.state == "superseded" and old.superseded_by.valid_until == new_end
        assert db.session.scalar(select(Payment).where(Payment.receipt_no == "CW-0099")).amount == Decimal("200.00")
        assert reload(RenovationExtension, ext.id).state == "done"


def hot_work(app, world, client_as):
    c = client_as("clerk")
    start = now() + timedelta(hours=1)
    r = c.post(
        "/admin/hot_work_permit/new/",
        {
            "unit": world.units[("A", "1-1-101")],
            "applicant": world.residents[("A", "owner")],
            "welder_name": "焊工赵",
            "doc_welder_certificate": upload("cert.png"),
            "doc_id_copy": upload("id.pdf", pdf()),
            "location": "阳台",
            "window_start": start.strftime("%Y-%m-%d %H:%M:%S"),
            "window_end": (start + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S"),
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    with app.app_context():
        return c, latest(HotWorkPermit).id


def test_hot_work_needs_engineering_and_safety_in_either_order_then_manager(app, world, client_as):
    c, hid = hot_work(app, world, client_as)
    step(client_as("safety"), "hot_work_permit", "review_safety", hid)
    with app.app_context():
        assert reload(HotWorkPermit, hid).state == "submitted"  # one review is not enough
    assert "已经签过" in step(client_as("safety"), "hot_work_permit", "review_safety", hid).get_data(as_text=True)
    step(client_as("engineering"), "hot_work_permit", "review_engineering", hid)
    with app.app_context():
        assert reload(HotWorkPermit, hid).state == "reviewed"
    step(client_as("manager"), "hot_work_permit", "approve", hid)
    step(c, "hot_work_permit", "prepare", hid)
    step(client_as("manager"), "hot_work_permit", "stamp", hid)
    assert "请先上传“许可证复印件(存档)”" in step(c, "hot_work_permit", "issue", hid).get_data(as_text=True)
    step(c, "hot_work_permit", "issue", hid, doc_permit_copy=upload("permit.pdf", pdf()))
    with app.app_context():
        h = reload(HotWorkPermit, hid)
        assert h.state == "issued" and h.number.startswith("A-DHZ-")
    page = c.get(f"/admin/hot_work_permit/print/?id={hid}").get_data(as_text=True)
    assert "<svg" in page and h.number in page


def test_hot_work_two_reviews_need_two_people(app, world, client_as):
    from models import Membership, Role
    c, hid = hot_work(app, world, client_as)
    with app.app_context():  # one person holding both review roles
        safety_role = db.session.scalar(select(Role).where(Role.code == "safety"))
        db.session.add(Membership(user_id=world.users["engineering"], property_id=world.a, role_id=safety_role.id))
        db.session.commit()
    eng = client_as("engineering")
    step(eng, "hot_work_permit", "review_engineering", hid)
    r = step(eng, "hot_work_permit", "review_safety", hid)
    assert "须由另一位同事办理" in r.get_data(as_text=True)


def test_fire_elevator_needs_engineering_review_then_duty_admin(app, world, client_as):
    c = client_as("clerk")
    base = {"unit": world.units[("A", "1-1-101")], "applicant": world.residents[("A", "owner")], "materials": "红砖",
            "kind": "fire_elevator"}
    assert "须签署承诺书" in c.post("/admin/stair_elevator_use/new/", base).get_data(as_text=True)
    c.post("/admin/stair_elevator_use/new/", {**base, "commitment_letter": "y"})
    with app.app_context():
        sid = latest(StairElevatorUse).id
    assert "消防梯须经工程审核" in step(c, "stair_elevator_use", "hand_over", sid).get_data(as_text=True)
    step(client_as("engineering"), "stair_elevator_use", "review", sid)
    step(client_as("cs_admin"), "stair_elevator_use", "approve", sid)
    step(c, "stair_elevator_use", "hand_over", sid)
    with app.app_context():
        assert reload(StairElevatorUse, sid).state == "handed_over"


def test_only_owner_or_the_permits_renovation_lead_may_apply(app, world, client_as):
    c = client_as("clerk")
    base = {"unit": world.units[("A", "1-1-101")], "work_kind": "drilling", "description": "空调孔"}
    assert "请选择申请业主或填写装修负责人" in c.post("/admin/additional_works/new/", base).get_data(as_text=True)
    r = c.post("/admin/additional_works/new/", {**base, "applicant": world.residents[("A", "tenant")]})
    assert "只能由业主或业主委托的装修负责人办理" in r.get_data(as_text=True)
    assert "不是本房号有效装修许可证上的装修负责人" in c.post(
        "/admin/additional_works/new/", {**base, "lead_name": "路人"}
    ).get_data(as_text=True)
    approved_permit(app, world)
    assert c.post("/admin/additional_works/new/", {**base, "lead_name": "装修张"}).status_code == 302


def test_verification_page_says_expired_and_unknown(app, world, client_as):
    c, gp = issued_goods_pass(app, world, client_as)
    travel(timedelta(days=1))
    assert 'data-verdict="expired"' in client_as("guard").get(f"/verify/goods_pass/{gp.number}").get_data(as_text=True)
    assert client_as("guard").get("/verify/goods_pass/A-FX-00000000-9999").status_code == 404
    assert client_as("clerk_b").get(f"/verify/goods_pass/{gp.number}").status_code == 404  # other property
    page = c.get(f"/admin/goods_pass/print/?id={gp.id}").get_data(as_text=True)
    assert "<svg" in page and "存根" in page


def test_two_managers_approving_at_the_same_moment_one_wins_on_postgresql(database_url):
    """Row versions make the second, concurrent approval fail instead of signing twice."""
    import threading

    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    from kernel import workflow
    from kernel.db import db as fdb
    from models import StaffUser
    from tests.pg import scratch_postgres
    with scratch_postgres(database_url) as url:
        engine = __import__("sqlalchemy").create_engine(url)
        fdb.metadata.create_all(engine)
        with Session(engine) as s:
            from models import Property
            s.add(Property(code="A", name="A"))
            s.flush()
            users = [StaffUser(username=n, full_name=n, password_hash="x") for n in ("clerk", "m1", "m2")]
            s.add_all(users)
            s.flush()
            from models.master import Unit
            u = Unit(property_id=1, code="1-1-101", building="1", entrance="1", room="101")
            s.add(u)
            s.flush()
            gp = GoodsPass(property_id=1, unit_id=u.id, carrier_name="x", carrier_id_number=ID, items="x",
                           state="signed", created_by_id=users[0].id, number="A-FX-1")
            s.add(gp)
            s.commit()
            gid, m1, m2 = gp.id, users[1], users[2]
            m1_id, m2_id = m1.id, m2.id
        first, second = Session(engine), Session(engine)
        outcome = {}
        workflow.fire(first.get(GoodsPass, gid), "stamp", first.get(StaffUser, m1_id), {"manager"}, first)

        def other_manager():
            try:
                workflow.fire(second.get(GoodsPass, gid), "stamp", second.get(StaffUser, m2_id), {"manager"}, second)
                second.commit()
                outcome["second"] = "won"
            except (StaleDataError, workflow.WorkflowError) as ex:
                second.rollback()
                outcome["second"] = type(ex).__name__

        # the second reads the same 'signed' pass, then blocks on the row lock the first holds
        second.get(GoodsPass, gid).state  # noqa: B018  (the read that takes the snapshot)
        t = threading.Thread(target=other_manager)
        t.start()
        t.join(timeout=1)
        first.commit()
        t.join(timeout=10)
        with Session(engine) as s:
            signed = s.query(SignOff).filter_by(record_id=gid, transition="stamp").count()
            state = s.get(GoodsPass, gid).state
        first.close(), second.close()
        engine.dispose()
    assert outcome["second"] == "StaleDataError"
    assert signed == 1 and state == "issued"


def test_guard_dashboard_offers_verification_and_nothing_else(app, world, client_as):
    page = client_as("guard").get("/admin/").get_data(as_text=True)
    assert 'action="/verify/"' in page and "/admin/repair_order/" not in page and "/admin/duty_log/" not in page


# ---------------------------------------------------------------- issue #12 rule 10: the director stamps

def test_rule_10_hot_work_stamp_is_the_directors_step_not_the_desks(app, world, client_as):
    c, hid = hot_work(app, world, client_as)
    step(client_as("safety"), "hot_work_permit", "review_safety", hid)
    step(client_as("engineering"), "hot_work_permit", "review_engineering", hid)
    step(client_as("manager"), "hot_work_permit", "approve", hid)
    step(c, "hot_work_permit", "prepare", hid)  # the desk writes the permit out ...
    with app.app_context():
        assert reload(HotWorkPermit, hid).state == "prepared"
    # ... but neither the clerk nor the CS admin may stamp it, nor issue it unstamped
    assert c.post("/admin/hot_work_permit/transition/stamp/", {"id": hid}).status_code == 403
    assert client_as("cs_admin").post("/admin/hot_work_permit/transition/stamp/", {"id": hid}).status_code == 403
    r = step(c, "hot_work_permit", "issue", hid, doc_permit_copy=upload("permit.pdf", pdf()))
    assert "的记录才能" in r.get_data(as_text=True)
    step(client_as("manager"), "hot_work_permit", "stamp", hid)
    step(c, "hot_work_permit", "issue", hid, doc_permit_copy=upload("permit.pdf", pdf()))
    with app.app_context():
        assert reload(HotWorkPermit, hid).state == "issued"
        stamp = db.session.scalar(select(SignOff).where(SignOff.register == "hot_work_permit",
                                                        SignOff.record_id == hid, SignOff.transition == "stamp"))
        assert stamp.role == "manager" and stamp.user_id == world.users["manager"]
    assert "主任盖章" not in str(HotWorkPermit.transitions["issue"].label)
    assert HotWorkPermit.transitions["stamp"].roles == ("manager",)


def test_rule_10_goods_pass_stamp_is_the_managers_step(app, world, client_as):
    c = client_as("clerk")
    assert new_goods_pass(c, world).status_code == 302
    with app.app_context():
        gp = latest(GoodsPass)
    step(client_as("supervisor"), "goods_pass", "sign", gp.id)
    for role in ("clerk", "cs_admin", "supervisor"):
        assert client_as(role).post("/admin/goods_pass/transition/stamp/", {"id": gp.id}).status_code == 403
    step(client_as("manager"), "goods_pass", "stamp", gp.id)
    with app.app_context():
        assert reload(GoodsPass, gp.id).state == "issued"


def _signature_rows(page):
    table = page.split('class="table table-sm table-bordered fd-signatures"', 1)[1].split("</table>", 1)[0]
    return table


def test_rule_10_printed_goods_pass_shows_who_signed_and_stamped_and_when(app, world, client_as):
    clerk, gp = issued_goods_pass(app, world, client_as)
    page = clerk.get(f"/admin/goods_pass/print/?id={gp.id}").get_data(as_text=True)
    with app.app_context():
        signs = {s.transition: s for s in db.session.scalars(select(SignOff).where(
            SignOff.register == "goods_pass", SignOff.record_id == gp.id))}
    assert page.count('fd-signatures"') == 2  # the guard's copy and the stub
    gate = _signature_rows(page)
    for name, who, role in (("sign", "supervisor", "客户服务主管"), ("stamp", "manager", "物业服务中心经理")):
        assert who in gate and role in gate and signs[name].at.strftime("%Y-%m-%d %H:%M") in gate
    assert "值班主任签字" in gate and "盖章" in gate and "clerk" in gate  # registered by
    # the guard's copy masks the carrier's ID number to its last four characters
    guard_part = page.split("物品放行条（存根）")[0]
    assert "**************002X" in guard_part and ID not in page


def test_rule_10_printed_hot_work_permit_and_worker_pass_show_the_sign_offs(app, world, client_as):
    c, hid = hot_work(app, world, client_as)
    step(client_as("safety"), "hot_work_permit", "review_safety", hid)
    step(client_as("engineering"), "hot_work_permit", "review_engineering", hid)
    step(client_as("manager"), "hot_work_permit", "approve", hid)
    step(c, "hot_work_permit", "prepare", hid)
    step(client_as("manager"), "hot_work_permit", "stamp", hid)
    rows = _signature_rows(c.get(f"/admin/hot_work_permit/print/?id={hid}").get_data(as_text=True))
    for label in ("安全主管审核", "工程主管审核", "主任审批", "开具许可证", "主任盖章"):
        assert label in rows, label
    for who in ("safety", "engineering", "manager", "clerk"):
        assert who in rows
    c2, pid, wid = issued_worker_pass(app, world, client_as)
    rows = _signature_rows(c2.get(f"/admin/worker_pass/print/?id={wid}").get_data(as_text=True))
    assert "签发" in rows and "clerk" in rows


# ---------------------------------------------------------------- issue #12 rule 12: the hot-work permit is voided

def test_rule_12_an_issued_hot_work_permit_is_voided_with_a_reason_by_safety_or_the_director(app, world, client_as):
    c, hid = hot_work(app, world, client_as)
    step(client_as("safety"), "hot_work_permit", "review_safety", hid)
    step(client_as("engineering"), "hot_work_permit", "review_engineering", hid)
    step(client_as("manager"), "hot_work_permit", "approve", hid)
    step(c, "hot_work_permit", "prepare", hid)
    step(client_as("manager"), "hot_work_permit", "stamp", hid)
    step(c, "hot_work_permit", "issue", hid, doc_permit_copy=upload("permit.pdf", pdf()))
    with app.app_context():
        number = reload(HotWorkPermit, hid).number
    assert 'data-verdict="valid"' in client_as("guard").get(f"/verify/hot_work_permit/{number}").get_data(as_text=True)
    assert c.post("/admin/hot_work_permit/transition/void/", {"id": hid, "comment": "x"}).status_code == 403
    assert "请填写作废原因" in step(client_as("safety"), "hot_work_permit", "void", hid).get_data(as_text=True)
    step(client_as("safety"), "hot_work_permit", "void", hid, comment="现场无灭火器，停止动火")
    with app.app_context():
        assert reload(HotWorkPermit, hid).state == "void"
        s = db.session.scalar(select(SignOff).where(SignOff.register == "hot_work_permit", SignOff.record_id == hid,
                                                    SignOff.transition == "void"))
        assert s.role == "safety" and s.comment == "现场无灭火器，停止动火" and s.from_state == "issued"
    assert 'data-verdict="void"' in client_as("guard").get(f"/verify/hot_work_permit/{number}").get_data(as_text=True)


def test_rule_12_the_director_voids_an_approved_hot_work_permit(app, world, client_as):
    c, hid = hot_work(app, world, client_as)
    step(client_as("safety"), "hot_work_permit", "review_safety", hid)
    step(client_as("engineering"), "hot_work_permit", "review_engineering", hid)
    step(client_as("manager"), "hot_work_permit", "approve", hid)
    step(client_as("manager"), "hot_work_permit", "void", hid, comment="业主取消施工")
    with app.app_context():
        assert reload(HotWorkPermit, hid).state == "void"


# ---------------------------------------------------------------- issue #12 rule 1: receipts are used once

def receipt_options(page):
    box = re.search(r'(?s)<select[^>]*name="receipt".*?</select>', page).group(0)
    return re.findall(r'<option[^>]*value="(\d+)"', box)


def test_rule_1_receipts_are_used_once_a_second_pass_on_the_same_receipt_is_refused_naming_the_first(
        app, world, client_as):
    c, pid, first = issued_worker_pass(app, world, client_as)
    with app.app_context():
        rid = db.session.scalar(select(Receipt.id).where(Receipt.receipt_no == "CW-0001"))
        r = reload(Receipt, rid)
        first_number = reload(WorkerPass, first).number
        assert r.state == "used" and r.consumed_number == first_number and r.consumed_register == "worker_pass"
    second = draft_worker_pass(app, world, c, pid, name="李师傅")
    offered = receipt_options(c.get(f"/admin/worker_pass/details/?id={second}").get_data(as_text=True))
    assert str(rid) not in offered  # the issue form offers unused receipts only
    other = finance_receipt(app, client_as, "CW-0002")
    assert str(other) in receipt_options(c.get(f"/admin/worker_pass/details/?id={second}").get_data(as_text=True))
    page = step(c, "worker_pass", "issue", second, signed_for_by="装修张", receipt=rid).get_data(
        as_text=True
    )  # posted anyway
    assert f"收据 CW-0001 已用于 {first_number}，不能重复使用" in page
    with app.app_context():
        assert reload(WorkerPass, second).state == "draft"
        assert db.session.query(Payment).filter(Payment.receipt_no == "CW-0001").count() == 2  # deposit + fee, once
        assert db.session.query(AuditLog).filter_by(action="denied").count() == 0  # a used receipt is no intrusion
    step(c, "worker_pass", "issue", second, signed_for_by="装修张", receipt=other)
    with app.app_context():
        assert reload(WorkerPass, second).state == "issued" and reload(Receipt, other).consumed_id == second


def test_rule_1_the_model_refuses_a_used_receipt_whatever_the_form_offers(app, world, client_as):
    c, pid, first = issued_worker_pass(app, world, client_as)
    second = draft_worker_pass(app, world, c, pid, name="李师傅")
    with app.app_context():
        p2, r = reload(WorkerPass, second), db.session.scalar(select(Receipt))
        number = db.session.get(WorkerPass, first).number
        try:
            fire(p2, "issue", db.session.get(StaffUser, world.users["clerk"]), {"clerk"}, db.session,
                 data={"receipt": r, "signed_for_by": "装修张"})
            raise AssertionError("a used receipt was accepted")
        except WorkflowError as ex:
            assert f"已用于 {number}" in str(ex.message)
        db.session.rollback()


def test_rule_1_a_receipt_pays_for_what_it_says_and_enough(app, world, client_as):
    c = client_as("clerk")
    pid = approved_permit(app, world)
    wid = draft_worker_pass(app, world, c, pid)
    small = finance_receipt(app, client_as, "CW-0010", "100")
    assert "金额 100.00 元少于应交 105.00 元" in step(
        c, "worker_pass", "issue", wid, signed_for_by="装修张", receipt=small
    ).get_data(as_text=True)
    ext = finance_receipt(app, client_as, "CW-0011", "500", "renovation_extension")
    assert "不能用于此登记" in step(c, "worker_pass", "issue", wid, signed_for_by="装修张", receipt=ext).get_data(
        as_text=True
    )
    with app.app_context():
        assert reload(WorkerPass, wid).state == "draft" and reload(Receipt, small).state == "unused"


def test_rule_1_an_extension_uses_its_fee_receipt_once(app, world, client_as):
    c = client_as("clerk")
    pid = approved_permit(app, world)
    with app.app_context():
        end = reload(RenovationPermit, pid).end_on
    exts = []
    for days in (30, 60):
        c.post(
            "/admin/renovation_extension/new/",
            {
                "permit": pid,
                "new_end_on": (end + timedelta(days=days)).isoformat(),
                "reason": "工期延误",
                "fee_due": "200",
            },
        )
        with app.app_context():
            exts.append(latest(RenovationExtension).id)
        step(client_as("engineering"), "renovation_extension", "review", exts[-1])
        step(client_as("manager"), "renovation_extension", "approve", exts[-1])
    rid = finance_receipt(app, client_as, "CW-0099", "200", "renovation_extension")
    step(c, "renovation_extension", "extend", exts[0], fee_receipt=rid)
    with app.app_context():
        first_number = reload(RenovationExtension, exts[0]).number
        assert reload(Receipt, rid).consumed_number == first_number
    page = step(c, "renovation_extension", "extend", exts[1], fee_receipt=rid).get_data(as_text=True)
    assert f"收据 CW-0099 已用于 {first_number}" in page
    with app.app_context():
        assert reload(RenovationExtension, exts[1]).state == "approved"


def test_rule_1_receipt_numbers_are_unique_per_property(app, world, client_as):
    finance_receipt(app, client_as, "CW-0500")
    r = client_as("finance").post("/admin/receipt/new/", {"receipt_no": "CW-0500", "amount": "105", "payer": "x",
                                                          "purpose": "worker_pass"})
    assert r.status_code == 200 and "重复" in r.get_data(as_text=True)
    with app.app_context():  # another property's finance may have its own CW-0500
        make(Receipt, world.b, receipt_no="CW-0500", commit=True)
        assert db.session.query(Receipt).filter_by(receipt_no="CW-0500").count() == 2
    assert client_as("clerk").post("/admin/receipt/new/", {"receipt_no": "CW-9", "amount": "1", "payer": "x",
                                                           "purpose": "other"}).status_code == 403


def test_rule_1_two_desks_using_one_receipt_at_the_same_moment_one_wins(app, world, client_as):
    """Runs on the suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL): the second desk read the receipt
    as unused, the first one's use commits while the second waits; the second is refused naming the first."""
    c = client_as("clerk")
    pid = approved_permit(app, world)
    p1, p2 = draft_worker_pass(app, world, c, pid, "甲"), draft_worker_pass(app, world, c, pid, "乙")
    rid = finance_receipt(app, client_as, "CW-0777")
    with app.app_context():
        first, second = Session(db.engine), Session(db.engine)
        pass2, receipt2 = second.get(WorkerPass, p2), second.get(Receipt, rid)
        assert receipt2.state == "unused"  # the second desk's page: the receipt is free
        clerk2 = second.get(StaffUser, world.users["clerk2"])
        fire(first.get(WorkerPass, p1), "issue", first.get(StaffUser, world.users["clerk"]), {"clerk"}, first,
             data={"receipt": first.get(Receipt, rid), "signed_for_by": "装修张"})
        outcome = {}

        def other_desk():
            try:
                fire(pass2, "issue", clerk2, {"clerk"}, second, data={"receipt": receipt2, "signed_for_by": "装修张"})
                second.commit()
                outcome["second"] = "won"
            except WorkflowError as ex:
                second.rollback()
                outcome["second"] = str(ex.message)

        t = threading.Thread(target=other_desk)
        t.start()
        t.join(timeout=1)
        waited = t.is_alive()  # the second desk waits for the first one's lock: a real race, not one after the other
        first.commit()
        t.join(timeout=20)
        number = first.get(WorkerPass, p1).number
        first.close(), second.close()
        assert waited and outcome["second"].startswith(f"收据 CW-0777 已用于 {number}"), outcome
        assert reload(WorkerPass, p2).state == "draft" and reload(WorkerPass, p1).state == "issued"
        assert reload(Receipt, rid).consumed_id == p1
        assert db.session.query(SignOff).filter_by(register="receipt", record_id=rid).count() == 1


# ---------------------------------------------------------------- issue #12 rule 9: worker passes name who applied

def test_rule_9_a_worker_pass_names_its_applicant_the_owner_or_this_permits_lead(app, world, client_as):
    c = client_as("clerk")
    pid = approved_permit(app, world)
    base = {"permit": pid, "worker_name": "王师傅", "worker_id_number": ID}
    assert "请选择申请业主或填写装修负责人" in c.post("/admin/worker_pass/new/", base).get_data(as_text=True)
    r = c.post("/admin/worker_pass/new/", {**base, "applicant": world.residents[("A", "tenant")]})
    assert "只能由业主或业主委托的装修负责人办理" in r.get_data(as_text=True)
    r = c.post("/admin/worker_pass/new/", {**base, "lead_name": "路人"})
    assert "不是该装修许可证上的装修负责人（许可证登记为：装修张）" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(WorkerPass).count() == 0
    assert c.post("/admin/worker_pass/new/", {**base, "applicant": world.residents[("A", "owner")]}).status_code == 302
    assert c.post("/admin/worker_pass/new/", {**base, "lead_name": "装修张"}).status_code == 302
    with app.app_context():
        names = [(w.applicant_id, w.lead_name) for w in db.session.scalars(select(WorkerPass).order_by(WorkerPass.id))]
        assert names == [(world.residents[("A", "owner")], None), (None, "装修张")]


def test_rule_9_the_permits_lead_signs_as_signatory_and_finance_stamps(app, world, client_as):
    c = client_as("clerk")
    pid = approved_permit(app, world)
    wid = draft_worker_pass(app, world, c, pid)
    rid = finance_receipt(app, client_as)
    assert "请先填写“签收人(装修负责人)”" in step(c, "worker_pass", "issue", wid, receipt=rid).get_data(as_text=True)
    r = step(c, "worker_pass", "issue", wid, receipt=rid, signed_for_by="王师傅")
    assert "签收人须为该装修许可证上的装修负责人“装修张”本人签字" in r.get_data(as_text=True)
    with app.app_context():
        assert reload(WorkerPass, wid).state == "draft" and reload(Receipt, rid).state == "unused"
    step(c, "worker_pass", "issue", wid, receipt=rid, signed_for_by="装修张")
    with app.app_context():
        w = reload(WorkerPass, wid)
        assert w.state == "issued" and w.signed_for_by == "装修张" and w.signed_by_lead and not w.finance_stamped_at
    # 再到财务处盖章: the finance role's own step, not the desk's
    assert c.post("/admin/worker_pass/transition/finance_stamp/", {"id": wid}).status_code == 403
    step(client_as("finance"), "worker_pass", "finance_stamp", wid)
    with app.app_context():
        assert reload(WorkerPass, wid).finance_stamped_at is not None
        s = db.session.scalar(select(SignOff).where(SignOff.register == "worker_pass", SignOff.record_id == wid,
                                                    SignOff.transition == "finance_stamp"))
        assert s.role == "finance" and s.user_id == world.users["finance"]
    assert "财务已盖过章" in step(client_as("finance"), "worker_pass", "finance_stamp", wid).get_data(as_text=True)
    rows = _signature_rows(c.get(f"/admin/worker_pass/print/?id={wid}").get_data(as_text=True))
    assert "财务盖章" in rows and "finance" in rows
    stub = c.get(f"/admin/worker_pass/print/?id={wid}").get_data(as_text=True).split('data-part="stub"')[1]
    assert "签收人：装修张" in stub and "CW-0001" in stub
