"""Attachments (issue 15): real images and PDFs through the forms, bad input refused whole, the guarded endpoint
generated per register x role, steps refused while a document is missing, locks, retention and the declarations."""
import io
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from kernel import attachments, checks, permissions
from kernel.attachments import Attachment, Document, S3Storage, prepare, sniff
from kernel.audit import AuditLog
from kernel.clock import today, travel
from kernel.db import db
from kernel.i18n import T
from kernel.register import model_for
from kernel.retention import RetentionRule
from models.desk import NetworkRequest, RepairOrder
from models.master import Receipt
from models.permits import GoodsPass, HotWorkPermit, RenovationPermit, StairElevatorUse, WorkerPass
from seeds.base import load_base
from seeds.samples import image, pdf
from tests.factories import make
from tests.helpers import attach, latest, reload, step, upload

ID = "11010519491231002X"
ROLES = sorted(permissions.ROLES)


@pytest.fixture(autouse=True)
def no_files(app):
    """Every test starts with no stored file (the tables are emptied by the world fixture)."""
    root = Path(app.config["ATTACHMENTS_DIR"])
    if root.exists():
        shutil.rmtree(root)
    yield


def approved_permit(app, world):
    with app.app_context():
        return make(RenovationPermit, world.a, unit_id=world.units[("A", "1-1-101")],
                    applicant_id=world.residents[("A", "owner")], lead_name="装修张", content="全屋装修",
                    start_on=today(), end_on=today() + timedelta(days=90), state="approved", commit=True).id


def new_worker_pass(c, app, world, **files):
    pid = approved_permit(app, world)
    return c.post("/admin/worker_pass/new/", {"permit": pid, "worker_name": "王师傅", "worker_id_number": ID,
                                              "lead_name": "装修张", **files})


def stored_files(app):
    root = Path(app.config["ATTACHMENTS_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_images_and_pdfs_uploaded_on_the_form_are_stored_re_encoded_and_served_guarded(app, world, client_as):
    c = client_as("clerk")
    form = c.get("/admin/worker_pass/new/").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and "photo_on_file" not in form  # the box follows the file
    assert 'name="doc_photo" accept="image/*" capture="environment" multiple' in form
    assert 'name="doc_id_copy" accept="image/jpeg,image/png,image/webp,application/pdf' in form
    gps_photo = image("JPEG", (180, 240), exif_gps=True)
    assert b"DemoCam" in gps_photo
    r = new_worker_pass(c, app, world, doc_photo=upload("一寸照片.jpg", gps_photo),
                        doc_id_copy=[upload("身份证正面.png"), upload("身份证反面.pdf", pdf())])
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    with app.app_context():
        wp = latest(WorkerPass)
        rows = db.session.scalars(select(Attachment).where(Attachment.record_id == wp.id)
                                  .order_by(Attachment.id)).all()
        assert sorted((a.kind, a.name, a.content_type) for a in rows) == [
            ("id_copy", "身份证反面.pdf", "application/pdf"), ("id_copy", "身份证正面.png", "image/png"),
            ("photo", "一寸照片.jpg", "image/jpeg")]
        by_name = {a.name: a for a in rows}
        assert wp.photo_on_file and wp.id_copy_on_file  # the yes/no boxes follow the files
        assert all(a.property_id == world.a and a.uploaded_by_id == world.users["clerk"] for a in rows)
        photo, scan = by_name["一寸照片.jpg"], by_name["身份证反面.pdf"]
        assert "一寸" not in photo.storage_key and re.match(r"^[0-9a-f]{2}/[0-9a-f]{32}\.jpg$", photo.storage_key)
        stored = attachments.storage().get(photo.storage_key)
        assert b"DemoCam" not in stored and not Image.open(io.BytesIO(stored)).getexif()  # EXIF/GPS gone
        assert len(photo.sha256) == 64 and photo.size == len(stored)
        attaches = db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "attach", AuditLog.register == "worker_pass", AuditLog.record_id == wp.id))
        assert attaches == 3
    page = c.get(f"/admin/worker_pass/details/?id={wp.id}").get_data(as_text=True)
    assert "fd-attachments" in page and "身份证正面.png" in page
    assert f"/admin/worker_pass/attachment/{photo.id}/" in page
    r = c.get(f"/admin/worker_pass/attachment/{photo.id}/")
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data == stored
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and "filename*=UTF-8''" in disposition
    assert "no-store" in r.headers["Cache-Control"]
    r = c.get(f"/admin/worker_pass/attachment/{scan.id}/")
    assert r.mimetype == "application/pdf" and r.data.startswith(b"%PDF-")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "view_attachment", AuditLog.record_id == wp.id)) == 2
    # never from a static path
    assert client_as("clerk").get(f"/static/{photo.storage_key}").status_code == 404
    assert client_as("clerk").get(f"/admin/static/{photo.storage_key}").status_code == 404


def test_the_issue_step_is_refused_until_the_id_copy_and_photo_are_there_and_takes_them_on_its_form(
        app, world, client_as):
    c = client_as("clerk")
    assert new_worker_pass(c, app, world).status_code == 302
    with app.app_context():
        wid = latest(WorkerPass).id
        rid = make(Receipt, world.a, receipt_no="CW-1", amount=105, purpose="worker_pass", commit=True).id
    r = step(c, "worker_pass", "issue", wid, signed_for_by="装修张", receipt=rid)
    assert "请先上传“身份证复印件、一寸照片”再签发" in r.get_data(as_text=True)
    with app.app_context():
        assert reload(WorkerPass, wid).state == "draft"
    page = c.get(f"/admin/worker_pass/details/?id={wid}").get_data(as_text=True)
    assert 'name="doc_id_copy" accept="image/*" capture="environment"' in page
    assert 'enctype="multipart/form-data"' in page
    r = step(c, "worker_pass", "issue", wid, signed_for_by="装修张", receipt=rid, doc_id_copy=upload("id.pdf", pdf()))
    assert "请先上传“一寸照片”再签发" in r.get_data(as_text=True)
    with app.app_context():  # the refused step kept nothing, not even the file that came with it
        assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert stored_files(app) == []
    step(c, "worker_pass", "issue", wid, signed_for_by="装修张", receipt=rid, doc_id_copy=upload("id.pdf", pdf()),
         doc_photo=upload("p.jpg", image("JPEG")))
    with app.app_context():
        assert reload(WorkerPass, wid).state == "issued"


def test_bulk_steps_ask_the_same_question(app, world, client_as):
    with app.app_context():
        bare = make(GoodsPass, world.a, unit_id=world.units[("A", "1-1-101")], commit=True).id
        filed = make(GoodsPass, world.a, unit_id=world.units[("A", "1-1-101")], commit=True)
        attach(filed, "id_copy")
        filed = filed.id
    r = client_as("supervisor").post("/admin/goods_pass/action/", {"action": "sign", "rowid": [bare, filed]},
                                     follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "完成 1 条，跳过 1 条" in page and "请先上传“运出人身份证复印件”再值班主任签字" in page
    with app.app_context():
        assert reload(GoodsPass, bare).state == "draft" and reload(GoodsPass, filed).state == "signed"


EVIL = {
    "html renamed .jpg": ("photo.jpg", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "只接受"),
    "svg renamed .jpg": ("photo.jpg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "只接受"),
    "gif": ("photo.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "只接受"),
    "zero bytes": ("photo.jpg", b"", "文件是空的"),
    "truncated jpeg": ("photo.jpg", image("JPEG", (800, 600))[:700], "图片已损坏或不完整"),
    "truncated png": ("photo.png", image("PNG", (800, 600))[:300], "图片已损坏或不完整"),
    "truncated pdf": ("scan.pdf", pdf()[:200], "PDF 文件不完整"),
    "path in the name": ("../../etc/passwd.png", image(), "文件名不合法"),
    "300-character name": ("照" * 296 + ".png", image(), "文件名过长"),
    "too large": ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 2048, "文件过大"),
}


@pytest.mark.parametrize("case", sorted(EVIL))
def test_bad_files_are_refused_in_chinese_and_nothing_is_written(app, world, client_as, case):
    name, data, message = EVIL[case]
    c = client_as("clerk")
    limit = app.config["ATTACHMENT_MAX_BYTES"]
    app.config["ATTACHMENT_MAX_BYTES"] = 1024 if case == "too large" else limit
    try:
        with app.app_context():
            before = db.session.scalar(select(func.count()).select_from(WorkerPass))
        r = new_worker_pass(c, app, world, doc_photo=upload(name, data), doc_id_copy=upload("ok.png"))
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = limit
    assert r.status_code == 200 and message in r.get_data(as_text=True)
    with app.app_context():  # neither the record nor the good file that came with the bad one
        assert db.session.scalar(select(func.count()).select_from(WorkerPass)) == before
        assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert stored_files(app) == []


def test_content_decides_the_type_not_the_name():
    assert sniff(image("PNG")) == "png" and sniff(image("JPEG")) == "jpeg" and sniff(image("WEBP")) == "webp"
    assert sniff(pdf()) == "pdf" and sniff(b"<html>") is None
    assert prepare("photo", "really-a-png.pdf", image("PNG")).content_type == "image/png"
    assert prepare("photo", "x.webp", image("WEBP")).content_type == "image/webp"


# ---------------------------------------------------------------- generated: the endpoint per register x role

def record_with_files(register, property_id):
    model = model_for(register)
    record = make(model, property_id, commit=True)
    attach(record, *[d.kind for d in attachments.documents_of(model)])
    return record.id, {a.kind: a.id for a in db.session.scalars(
        select(Attachment).where(Attachment.register == register, Attachment.record_id == record.id))}


@pytest.mark.parametrize("register", sorted(attachments.with_documents()))
def test_attachment_endpoint_follows_the_records_grant_scope_and_personal_rule(app, world, client_as, register):
    """For every role: a file is served exactly when the record's details page is, and a personal document only to
    a role that may see the register's personal data; another property's file is 404 with a `denied` row."""
    model = model_for(register)
    with app.app_context():
        rid, files = record_with_files(register, world.a)
        other_rid, other_files = record_with_files(register, world.b)
    for role in ROLES:
        c = client_as(role)
        details = c.get(f"/admin/{register}/details/?id={rid}").status_code
        reveal = permissions.allowed({role}, register, "reveal")
        for kind, aid in files.items():
            personal = attachments.document(model, kind).personal
            got = c.get(f"/admin/{register}/attachment/{aid}/").status_code
            if details != 200:
                expected = (403, 404) if details in (403, 404) else (details,)
                assert got in expected, (role, kind, details, got)
            else:
                assert got == (403 if personal and not reveal else 200), (role, kind, got)
    for aid in other_files.values():  # the clerk of property A asks for B's file by id
        with app.app_context():
            before = db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "denied"))
        assert client_as("clerk").get(f"/admin/{register}/attachment/{aid}/").status_code == 404
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.action == "denied")) == before + 1
    # an attachment id of another register through this register's URL is not found
    with app.app_context():
        foreign = db.session.scalar(select(Attachment.id).where(Attachment.register != register).limit(1))
    if foreign:
        assert client_as("clerk").get(f"/admin/{register}/attachment/{foreign}/").status_code == 404


def test_a_role_without_personal_data_is_refused_the_id_copy_with_an_audit_row(app, world, client_as):
    with app.app_context():
        rid, files = record_with_files("hot_work_permit", world.a)
    eng = client_as("engineering")
    assert eng.get(f"/admin/hot_work_permit/attachment/{files['welder_certificate']}/").status_code == 200
    assert eng.get(f"/admin/hot_work_permit/attachment/{files['id_copy']}/").status_code == 403
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "denied").order_by(AuditLog.id.desc()))
        assert row.record_id == rid and row.changes["reason"][1] == "personal document"
    page = eng.get(f"/admin/hot_work_permit/details/?id={rid}").get_data(as_text=True)
    assert "无权查看" in page and f'href="/admin/hot_work_permit/attachment/{files["id_copy"]}/"' not in page


# ---------------------------------------------------------------- removal and locks

def test_delete_is_audited_and_clears_the_box_but_a_locked_record_keeps_its_files(app, world, client_as):
    c = client_as("clerk")
    new_worker_pass(c, app, world, doc_photo=upload("p.jpg", image("JPEG")), doc_id_copy=upload("id.png"))
    with app.app_context():
        wp = latest(WorkerPass)
        photo = db.session.scalar(select(Attachment).where(Attachment.kind == "photo"))
        key = photo.storage_key
    r = c.post(f"/admin/worker_pass/attachment/{photo.id}/delete/", follow_redirects=True)
    assert "附件已删除" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Attachment, photo.id) is None and not reload(WorkerPass, wp.id).photo_on_file
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "detach")).changes["file"][0] == "p.jpg"
    assert not (Path(app.config["ATTACHMENTS_DIR"]) / key).exists()
    with app.app_context():
        rid = make(Receipt, world.a, receipt_no="CW-2", amount=105, purpose="worker_pass", commit=True).id
    step(
        c, "worker_pass", "issue", wp.id, signed_for_by="装修张", receipt=rid, doc_photo=upload("p2.jpg", image("JPEG"))
    )
    with app.app_context():
        assert reload(WorkerPass, wp.id).state == "issued"
        ids = [a.id for a in db.session.scalars(select(Attachment).where(Attachment.record_id == wp.id))]
    for aid in ids:
        r = c.post(f"/admin/worker_pass/attachment/{aid}/delete/", follow_redirects=True)
        assert "附件只能查看，不能删除或更换" in r.get_data(as_text=True)
        assert c.get(f"/admin/worker_pass/attachment/{aid}/").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.record_id == wp.id)) == 2
    # the edit form of an issued pass is not offered, so no file can be added or replaced there either
    assert c.get(f"/admin/worker_pass/edit/?id={wp.id}").status_code == 302


def test_a_role_that_may_only_read_cannot_delete(app, world, client_as):
    with app.app_context():
        rid, files = record_with_files("repair_order", world.a)
    r = client_as("engineering").post(f"/admin/repair_order/attachment/{files['repair_sheet']}/delete/")
    assert r.status_code == 403
    with app.app_context():
        assert db.session.get(Attachment, files["repair_sheet"]) is not None


# ---------------------------------------------------------------- every declared document is enforced at its step

def test_each_declared_document_is_enforced_at_its_step(app, world, client_as):
    with app.app_context():
        gp = make(GoodsPass, world.a, commit=True).id
        hw = make(HotWorkPermit, world.a, commit=True).id
        st = make(StairElevatorUse, world.a, state="handed_over", commit=True).id
        ro = make(RepairOrder, world.a, state="visited", commit=True).id
    r = step(client_as("supervisor"), "goods_pass", "sign", gp)
    assert "请先上传“运出人身份证复印件”" in r.get_data(as_text=True)
    r = step(client_as("engineering"), "hot_work_permit", "review_engineering", hw)
    assert "请先上传“焊工证复印件、动火人身份证复印件”" in r.get_data(as_text=True)
    r = step(client_as("guard"), "stair_elevator_use", "confirm_letter", st)
    assert "请先上传“承诺书(签字)”" in r.get_data(as_text=True)
    assert "请先上传“维修单”" in step(client_as("supervisor"), "repair_order", "close", ro).get_data(as_text=True)
    declared = {(name, d.kind): d.steps for name, m in attachments.with_documents().items()
                for d in attachments.documents_of(m)}
    assert declared == {
        ("goods_pass", "id_copy"): ("sign",), ("worker_pass", "id_copy"): ("issue",),
        ("worker_pass", "photo"): ("issue",),
        ("hot_work_permit", "welder_certificate"): ("review_engineering", "review_safety"),
        ("hot_work_permit", "id_copy"): ("review_engineering", "review_safety"),
        ("hot_work_permit", "permit_copy"): ("issue",), ("additional_works", "approved_copy"): ("archive",),
        ("stair_elevator_use", "commitment_letter"): ("confirm_letter",),
        ("repair_order", "repair_sheet"): ("close",), ("network_request", "id_copy"): ("send_to_isp",)}


# ---------------------------------------------------------------- retention

def test_purge_is_a_dry_run_by_default_and_removes_only_expired_personal_files(app, world):
    with app.app_context():
        old = make(NetworkRequest, world.a, commit=True)
        rid = old.id
        rows = attach(old, "id_copy")
        keys = [rows[0].storage_key, rows[0].thumb_key]
        fresh_rid, fresh = record_with_files("hot_work_permit", world.a)
    root = Path(app.config["ATTACHMENTS_DIR"])
    travel(timedelta(days=2 * 365 + 30))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["purge-attachments"]).output
    assert "network_request: 1 files due" in out and "dry run" in out
    assert all((root / k).exists() for k in keys)
    out = runner.invoke(args=["purge-attachments", "--apply"]).output
    assert "removed: " in out
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attachment).where(
            Attachment.register == "network_request", Attachment.record_id == rid)) == 0
        assert not reload(NetworkRequest, rid).id_copy_received
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "purge_attachment",
                                                        AuditLog.record_id == rid)) is not None
        # the hot-work permit's window ended long ago too: its ID copy goes, its welder certificate stays
        kinds = set(db.session.scalars(select(Attachment.kind).where(Attachment.record_id == fresh_rid,
                                                                     Attachment.register == "hot_work_permit")))
        assert "id_copy" not in kinds and "welder_certificate" in kinds
    assert not any((root / k).exists() for k in keys)


def test_it_changes_the_period_of_the_documents(app, world):
    with app.app_context():
        load_base()
        rule = db.session.scalar(select(RetentionRule).where(RetentionRule.register == "network_request:documents"))
        assert rule is not None and rule.days == 2 * 365
        rule.days = 10_000
        db.session.commit()
        make_rid = make(NetworkRequest, world.a, commit=True)
        attach(make_rid, "id_copy")
    travel(timedelta(days=2 * 365 + 30))
    assert "network_request: 0 files due" in app.test_cli_runner().invoke(args=["purge-attachments"]).output


# ---------------------------------------------------------------- declarations and storage

def test_start_up_checks_name_a_wrong_declaration(app, monkeypatch):
    monkeypatch.setattr(RepairOrder, "documents", (
        Document("repair_sheet", T("维修单", "Repair sheet"), required_before="no_such_step"),
        Document("repair_sheet", T("维修单", "Repair sheet")),
        Document("photo", T("照片", "Photo"), flag="content", personal=True)))
    messages = checks.run(app)
    assert "repair_order.documents[repair_sheet]: 'no_such_step' is not a step or an action" in messages
    assert "repair_order.documents[repair_sheet]: declared twice" in messages
    assert "repair_order.documents[photo]: flag 'content' is not a yes/no column" in messages
    assert any(m.startswith("repair_order.documents[photo]: a personal document needs a role") for m in messages)


def test_s3_storage_speaks_the_s3_api_without_the_network():
    """The production option: checked against a stand-in client here (never against a real endpoint in tests)."""
    calls = []

    class Client:
        def put_object(self, **kw):
            calls.append(("put", kw["Bucket"], kw["Key"], kw["ContentType"]))

        def get_object(self, **kw):
            calls.append(("get", kw["Bucket"], kw["Key"]))
            return {"Body": io.BytesIO(b"x")}

        def delete_object(self, **kw):
            calls.append(("delete", kw["Bucket"], kw["Key"]))

    s3 = S3Storage("s3://desk-files/frontdesk?endpoint=https://minio.invalid:9000", client=Client())
    key = attachments.new_key("png")
    s3.put(key, b"x", "image/png")
    assert s3.get(key) == b"x"
    s3.delete(key)
    assert calls == [("put", "desk-files", f"frontdesk/{key}", "image/png"), ("get", "desk-files", f"frontdesk/{key}"),
                     ("delete", "desk-files", f"frontdesk/{key}")]
    with pytest.raises(ValueError):
        s3.get("../../etc/passwd")
