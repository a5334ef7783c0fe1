"""Issue 17, "prints that a desk keeps": what a printed pass or permit carries (property, service phone, copies,
signature boxes, sign-offs), 未生效 without a QR until the record is in force, every print recorded with 补打 on a
reprint, A5 and A4, Chinese and English. Declared per screen (admin_views/permits.py), checked at start-up."""
import re

import pytest
from sqlalchemy import select, update

from admin_views.permits import GoodsPassView
from app.admin.printing import PrintPart, SignatureBox, declaration_problems
from kernel.db import db
from kernel.i18n import T
from models import AuditLog, Property
from models.permits import GoodsPass, RenovationPermit
from tests.factories import make
from tests.helpers import latest, step
from tests.test_permits import ID, approved_permit, hot_work, issued_goods_pass, issued_worker_pass, new_goods_pass

PHONE = "0755-86001234"


@pytest.fixture
def phoned(app, world):
    with app.app_context():
        db.session.execute(update(Property).where(Property.id == world.a).values(service_phone=PHONE))
        db.session.commit()
    return world


def parts(page):
    """{part code: its HTML} of a printed page."""
    chunks = re.split(r'<section class="fd-part[^"]*" data-part="', page)[1:]
    return {c.split('"', 1)[0]: c.split("</section>", 1)[0] for c in chunks}


def boxes(part_html):
    if "fd-sign-boxes" not in part_html:
        return []
    table = part_html.split('fd-sign-boxes">', 1)[1].split("</table>", 1)[0]
    return [b.strip().rstrip("：") for b in re.findall(r"<td>([^<]*)</td>", table)]


def printed(c, register, rid, **args):
    query = "".join(f"&{k}={v}" for k, v in args.items())
    r = c.get(f"/admin/{register}/print/?id={rid}{query}")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def prints_of(app, register, rid):
    with app.app_context():
        return list(db.session.scalars(select(AuditLog).where(
            AuditLog.register == register, AuditLog.record_id == rid, AuditLog.action == "print")
            .order_by(AuditLog.id)))


def test_an_issued_goods_pass_carries_property_phone_copies_boxes_signers_and_a_qr(app, phoned, client_as):
    clerk, gp = issued_goods_pass(app, phoned, client_as)
    page = printed(clerk, "goods_pass", gp.id)
    got = parts(page)
    assert list(got) == ["gate", "stub"]  # 保安联 and 存根, in that order
    assert "物品放行条（保安联）" in got["gate"] and "物品放行条（存根）" in got["stub"]
    for html in got.values():
        assert "翠湖花园" in html and f'fd-service-phone">{PHONE}<' in html
        # 篇5 §1 b-c: the applicant signs 办证人, the duty supervisor signs, the director stamps
        assert boxes(html) == ["办证人签字", "值班主任签字", "管理处主任盖章"]
        assert "supervisor" in html and "manager" in html and "值班主任签字" in html  # who signed, from sign-offs
        assert "未生效" not in html
    assert "<svg" in got["gate"] and "<svg" not in got["stub"]  # the QR on the guard's copy only
    assert "**************002X" in got["gate"] and ID not in page


def test_a_draft_or_unapproved_record_prints_未生效_and_no_qr(app, phoned, client_as):
    clerk = client_as("clerk")
    assert new_goods_pass(clerk, phoned).status_code == 302
    with app.app_context():
        gid = latest(GoodsPass).id
    for state_step in (None, ("supervisor", "sign")):  # draft, then signed but not yet stamped
        if state_step:
            step(client_as(state_step[0]), "goods_pass", state_step[1], gid)
        page = printed(clerk, "goods_pass", gid)
        assert "<svg" not in page and "/verify/" not in page
        for html in parts(page).values():
            assert 'data-watermark="1">未生效<' in html
        assert "未生效，无二维码" in parts(page)["gate"]
    step(client_as("manager"), "goods_pass", "stamp", gid)
    page = printed(clerk, "goods_pass", gid)
    assert "<svg" in page and "data-watermark" not in page


def test_hot_work_permit_prints_未生效_until_issued_then_original_and_file_copy(app, phoned, client_as):
    c, hid = hot_work(app, phoned, client_as)
    step(client_as("safety"), "hot_work_permit", "review_safety", hid)
    step(client_as("engineering"), "hot_work_permit", "review_engineering", hid)
    step(client_as("manager"), "hot_work_permit", "approve", hid)
    step(c, "hot_work_permit", "prepare", hid)
    step(client_as("manager"), "hot_work_permit", "stamp", hid)
    page = printed(c, "hot_work_permit", hid)  # stamped, not yet handed over: not in force
    assert "<svg" not in page and "data-watermark" in page
    got = parts(page)
    assert list(got) == ["original", "file"]
    # 篇5 §5 d-e: two reviews, the director's approval and stamp; the file copy records the hand-over
    assert boxes(got["original"]) == ["工程主管审核签字", "安全主管审核签字", "主任审批签字", "主任盖章"]
    assert boxes(got["file"]) == ["工程主管审核签字", "安全主管审核签字", "主任审批签字", "主任盖章", "申请人签收"]
    for html in got.values():
        assert "翠湖花园" in html and PHONE in html and "safety" in html and "engineering" in html


def test_worker_pass_card_and_stub_with_the_leads_signature_and_finance_stamp_boxes(app, phoned, client_as):
    c, pid, wid = issued_worker_pass(app, phoned, client_as)
    got = parts(printed(c, "worker_pass", wid))
    assert list(got) == ["card", "stub"]
    assert "<svg" in got["card"] and "data-watermark" not in got["card"]
    assert boxes(got["card"]) == []
    # 篇5 §2 g: the lead signs 签收人 in the register (the stub), then finance stamps it
    assert boxes(got["stub"]) == ["签收人(装修负责人)签字", "财务盖章"]
    assert "签收人：装修张" in got["stub"] and "翠湖花园" in got["card"] and PHONE in got["card"]


def test_every_print_is_recorded_and_a_reprint_says_补打(app, phoned, client_as):
    clerk, gp = issued_goods_pass(app, phoned, client_as)
    first = printed(clerk, "goods_pass", gp.id)
    assert "补打" not in first and "第1次打印" in first
    second = printed(client_as("cs_admin"), "goods_pass", gp.id, size="A4")
    assert second.count("补打（第2次打印）") == 2  # on both copies
    rows = prints_of(app, "goods_pass", gp.id)
    assert [(r.user_id, r.changes["copy"][1], r.changes["size"][1]) for r in rows] == [
        (phoned.users["clerk"], 1, "A5"), (phoned.users["cs_admin"], 2, "A4")]
    assert all(r.property_id == phoned.a and r.at is not None for r in rows)
    third = printed(clerk, "goods_pass", gp.id)
    assert "补打（第3次打印）" in third and "打印人：clerk" in third


def test_a_print_another_property_may_not_see_is_refused_and_not_counted(app, phoned, client_as):
    clerk, gp = issued_goods_pass(app, phoned, client_as)
    assert client_as("clerk_b").get(f"/admin/goods_pass/print/?id={gp.id}").status_code in (403, 404)
    assert prints_of(app, "goods_pass", gp.id) == []


@pytest.mark.parametrize("size,page_css", [("A5", "148mm 210mm"), ("A4", "210mm 297mm")])
def test_a5_and_a4_lay_out_with_their_page_size(app, phoned, client_as, size, page_css):
    clerk, gp = issued_goods_pass(app, phoned, client_as)
    page = printed(clerk, "goods_pass", gp.id, size=size.lower())
    assert f"@page{{size:{page_css};" in page and f"fd-size-{size}" in page
    assert len(parts(page)) == 2


def test_the_default_paper_is_the_declared_one_and_an_unknown_size_falls_back(app, phoned, client_as):
    clerk, gp = issued_goods_pass(app, phoned, client_as)
    assert GoodsPassView.print_size == "A5"
    for query in ({}, {"size": "letter"}):
        assert "@page{size:148mm 210mm;" in printed(clerk, "goods_pass", gp.id, **query)


def test_the_print_in_english(app, phoned, client_as):
    clerk, gp = issued_goods_pass(app, phoned, client_as)
    clerk.get("/language/en")
    page = printed(clerk, "goods_pass", gp.id)
    got = parts(page)
    assert "Goods pass (guard&#39;s copy)" in got["gate"] and "Goods pass (stub)" in got["stub"]
    assert boxes(got["gate"]) == ["Applicant&#39;s signature", "Duty supervisor&#39;s signature",
                                  "Director&#39;s stamp"]
    assert "Service-centre phone" in page and "Printed by" in page
    reprint = printed(clerk, "goods_pass", gp.id)
    assert "Reprint (copy 2)" in reprint and "补打" not in reprint and "未生效" not in reprint
    assert new_goods_pass(clerk, phoned).status_code == 302
    with app.app_context():
        draft = latest(GoodsPass).id
    assert 'data-watermark="1">Not in force<' in printed(clerk, "goods_pass", draft)


def test_the_renovation_permit_prints_for_the_owner_and_the_stub_without_a_qr(app, phoned, client_as):
    pid = approved_permit(app, phoned)
    c = client_as("clerk")
    got = parts(printed(c, "renovation_permit", pid))
    assert list(got) == ["owner", "stub"]
    assert "装修许可证（业主联）" in got["owner"] and "装修许可证（存根）" in got["stub"]
    for html in got.values():
        assert "翠湖花园" in html and PHONE in html and "装修张" in html and "全屋装修" in html
        assert boxes(html) == ["业主签字", "装修负责人签字", "主任审批签字", "管理处盖章"]
        assert "data-watermark" not in html and "<svg" not in html  # no guard's check for this register: no QR
    with app.app_context():
        sub = make(RenovationPermit, phoned.a, unit_id=phoned.units[("A", "1-1-101")],
                   applicant_id=phoned.residents[("A", "owner")], lead_name="装修王", content="厨房",
                   lead_id_number=ID, state="submitted", commit=True).id
    page = printed(c, "renovation_permit", sub)
    assert page.count('data-watermark="1">未生效<') == 2 and ID not in page and "002X" in page


class _Bad(GoodsPassView):
    print_parts = (PrintPart("gate", T("门", "Gate")), PrintPart("gate", T("门", "Gate")), "stub")
    signature_boxes = (SignatureBox(T("签", "Sign"), parts=("desk",)), "box")
    print_in_force = ("approved",)
    print_size = "Letter"


class _QrWithoutCheck(GoodsPassView):
    print_parts = (PrintPart("owner", T("业主联", "Owner"), qr=True),)
    print_in_force = ("approved",)


class _Bare(GoodsPassView):
    print_parts = ()
    print_in_force = ()


def test_wrong_print_declarations_are_named_at_start_up():
    assert declaration_problems("goods_pass", GoodsPassView, GoodsPass) == []
    assert declaration_problems("goods_pass", _Bad, GoodsPass) == [
        "goods_pass.print_parts: 'stub' is not a PrintPart",
        "goods_pass.print_parts: a part code is used twice",
        "goods_pass.signature_boxes[签]: 'desk' is not a print part",
        "goods_pass.signature_boxes: 'box' is not a SignatureBox",
        "goods_pass.print_in_force: 'approved' is not a state",
        "goods_pass.print_size: 'Letter' is not one of A5, A4",
    ]
    assert declaration_problems("renovation_permit", _QrWithoutCheck, RenovationPermit) == [
        "renovation_permit.print_parts[owner]: a QR code opens the guard's check; the register has no verify"]
    assert declaration_problems("goods_pass", _Bare, GoodsPass) == [
        "goods_pass.print_parts: a printable register declares its copies (e.g. 存根)",
        "goods_pass.print_in_force: name the states in which the printed paper is valid",
    ]


def test_the_supervisor_reads_the_prints_in_the_audit_log(app, phoned, client_as):
    clerk, gp = issued_goods_pass(app, phoned, client_as)
    printed(clerk, "goods_pass", gp.id)
    printed(clerk, "goods_pass", gp.id, size="A4")
    page = client_as("supervisor").get("/admin/audit_log/?search=goods_pass").get_data(as_text=True)
    assert page.count('<td class="col-action">打印</td>') == 2
    assert "第几次打印: — → 2<br>纸张: — → A4" in page and "第几次打印: — → 1<br>纸张: — → A5" in page
