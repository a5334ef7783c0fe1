"""Issue #20, personal data: ID numbers masked on every surface for every role, revealed only by the desk with a
reason (audited, rate-limited), searched by the exact full number only, encrypted at rest, erased after retention."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from kernel import permissions, pii
from kernel.clock import today, travel
from kernel.db import db
from kernel.register import pii_columns, registers
from kernel.validators import id_number_ok, last_four, mask_id
from models import AuditLog
from models.master import Resident
from models.permits import GoodsPass, RenovationPermit, WorkerPass
from tests.factories import make
from tests.helpers import latest, reload, step, upload
from tests.test_permission_matrix import registers as screens

CARRIER, WORKER, LEAD = "11010519491231002X", "440305198001010013", "440305197502020020"
FULL_ID = re.compile(r"\d{17}[\dXx]")


def full_ids(text_: str) -> set[str]:
    """Every valid 18-character ID number in a page (a masked one has asterisks, so never matches)."""
    return {m for m in FULL_ID.findall(text_) if id_number_ok(m)}


@pytest.fixture
def personal(app, world, client_as):
    """A record of every register holding personal data, made through the forms (so the audit log has them)."""
    clerk = client_as("clerk")
    unit, owner = world.units[("A", "1-1-101")], world.residents[("A", "owner")]
    clerk.post("/admin/goods_pass/new/", {"unit": unit, "applicant": owner, "carrier_name": "搬家李",
                                          "carrier_id_number": CARRIER, "items": "沙发", "owner_signed": "y",
                                          "doc_id_copy": upload("id.png")})
    with app.app_context():
        permit = make(RenovationPermit, world.a, unit_id=unit, applicant_id=owner, lead_name="装修张", content="x",
                      start_on=today(), end_on=today() + timedelta(days=90), state="approved", commit=True).id
    clerk.post("/admin/renovation_permit/new/", {"unit": unit, "applicant": owner, "lead_name": "装修王",
                                                 "lead_id_number": LEAD, "content": "厨卫"})
    clerk.post("/admin/worker_pass/new/", {"permit": permit, "worker_name": "王师傅", "worker_id_number": WORKER,
                                           "doc_photo": upload("photo.png"), "doc_id_copy": upload("id.png"),
                                           "lead_name": "装修张"})
    with app.app_context():
        ids = {"goods_pass": latest(GoodsPass).id, "worker_pass": latest(WorkerPass).id,
               "renovation_permit": latest(RenovationPermit).id, "resident": owner}
        numbers = {CARRIER, WORKER, LEAD, reload(Resident, owner).id_number}
    assert all(ids.values())
    return ids, numbers


def test_no_full_id_number_on_any_list_details_export_print_or_audit_screen_for_any_role(app, world, client_as,
                                                                                            personal):
    ids, numbers = personal
    with app.app_context():
        audit_ids = db.session.scalars(select(AuditLog.id).order_by(AuditLog.id.desc()).limit(5)).all()
    opened, leaks = 0, []
    for role in permissions.ROLES:
        user = "regional" if role == "regional" else role
        c = client_as(user)
        for register, view in screens(app).items():
            rid = ids.get(register)
            if rid is None:
                with app.app_context():
                    first = db.session.scalar(select(view.model.id).order_by(view.model.id).limit(1))
                rid = first
            urls = [f"/admin/{register}/", f"/admin/{register}/export/csv/", f"/admin/{register}/export/xlsx/"]
            if rid is not None:
                urls += [f"/admin/{register}/details/?id={rid}", f"/admin/{register}/print/?id={rid}"]
            if register == "audit_log":
                urls += [f"/admin/audit_log/details/?id={a}" for a in audit_ids] + ["/admin/audit_log/?search=resident"]
            for url in urls:
                r = c.get(url)
                if r.status_code != 200:
                    continue
                opened += 1
                body = r.get_data(as_text=True) if "xlsx" not in url else _xlsx_text(r.data)
                found = full_ids(body) & numbers or full_ids(body)
                if found:
                    leaks.append(f"{role} {url}: {sorted(found)}")
    print(f"PII sweep: {opened} pages and files opened by {len(permissions.ROLES)} roles, {len(leaks)} leaks")
    assert opened > 300
    assert not leaks, "\n".join(leaks)


def _xlsx_text(data: bytes) -> str:
    import io

    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    return "\n".join(" ".join(str(v) for v in row if v is not None) for row in sheet.iter_rows(values_only=True))


def test_edit_forms_never_send_the_number_back_and_an_empty_box_keeps_it(app, world, client_as, personal):
    ids, _ = personal
    clerk = client_as("clerk")
    page = clerk.get(f"/admin/goods_pass/edit/?id={ids['goods_pass']}").get_data(as_text=True)
    assert CARRIER not in page and mask_id(CARRIER) in page
    with app.app_context():
        gp = reload(GoodsPass, ids["goods_pass"])
        form = {"unit": gp.unit_id, "applicant": gp.applicant_id, "carrier_name": "搬家李", "carrier_id_number": "",
                "items": "沙发和床", "owner_signed": "y", "valid_on": gp.valid_on.isoformat(),
                "row_version": gp.version}
    assert clerk.post(f"/admin/goods_pass/edit/?id={gp.id}", form).status_code == 302
    with app.app_context():
        gp = reload(GoodsPass, ids["goods_pass"])
        assert gp.items == "沙发和床" and gp.carrier_id_number == CARRIER


def test_the_guards_printed_copy_shows_the_name_and_the_last_four_characters(app, world, client_as, personal):
    ids, _ = personal
    page = client_as("clerk").get(f"/admin/goods_pass/print/?id={ids['goods_pass']}").get_data(as_text=True)
    gate = page.split("存根")[0]
    assert "搬家李" in gate and last_four(CARRIER) in gate and mask_id(CARRIER) not in gate
    assert CARRIER[:6] not in gate.split("身份证")[1][:80]


def test_the_desk_reveals_one_number_with_a_reason_audited_and_rate_limited(app, world, client_as, personal):
    ids, _ = personal
    rid = ids["worker_pass"]
    clerk = client_as("clerk")
    assert 'id="fd-reveal"' in clerk.get(f"/admin/worker_pass/details/?id={rid}").get_data(as_text=True)
    r = clerk.post("/admin/worker_pass/reveal/", {"id": rid, "field": "worker_id_number", "reason": ""},
                   follow_redirects=True)
    assert "请填写查看完整号码的原因" in r.get_data(as_text=True) and WORKER not in r.get_data(as_text=True)
    r = clerk.post("/admin/worker_pass/reveal/", {"id": rid, "field": "worker_id_number", "reason": "核对出入证"})
    assert r.status_code == 200 and WORKER in r.get_data(as_text=True) and r.headers["Cache-Control"] == "no-store"
    with app.app_context():
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "reveal"))
        assert row.record_id == rid and row.changes["reason"][1] == "核对出入证" and row.user_id == world.users["clerk"]
    for user in ("finance", "supervisor", "manager", "guard"):
        assert client_as(user).post("/admin/worker_pass/reveal/", {"id": rid, "reason": "x" * 5}).status_code == 403
    page = client_as("supervisor").get(f"/admin/worker_pass/details/?id={rid}").get_data(as_text=True)
    assert 'id="fd-reveal"' not in page
    app.config["PII_REVEAL_LIMIT"] = "2 per hour"
    try:
        for n in ("第二次", "第三次"):  # a new limit counts from here
            assert WORKER in clerk.post("/admin/worker_pass/reveal/", {"id": rid, "reason": n}).get_data(as_text=True)
        r = clerk.post("/admin/worker_pass/reveal/", {"id": rid, "reason": "第四次"}, follow_redirects=True)
        assert "次数过多" in r.get_data(as_text=True) and WORKER not in r.get_data(as_text=True)
    finally:
        app.config["PII_REVEAL_LIMIT"] = "10 per hour"


def test_search_by_id_number_is_an_exact_full_match_for_the_desk_only_and_audited(app, world, client_as, personal):
    ids, _ = personal
    with app.app_context():
        number = reload(Resident, ids["resident"]).id_number
    clerk = client_as("clerk")
    assert "业主A" in clerk.get(f"/admin/resident/?search={number}").get_data(as_text=True)
    assert "业主A" in clerk.get(f"/admin/resident/?search={number.lower()}").get_data(as_text=True)
    for prefix in (number[:6], number[:17], number[:10]):
        assert "业主A" not in clerk.get(f"/admin/resident/?search={prefix}").get_data(as_text=True), prefix
    assert "搬家李" in clerk.get(f"/admin/goods_pass/?search={CARRIER}").get_data(as_text=True)
    for user in ("finance", "supervisor", "manager"):  # they see the list, but may not search it by ID number
        assert "业主A" not in client_as(user).get(f"/admin/resident/?search={number}").get_data(as_text=True), user
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "search_pii")).all()
        assert rows and all(r.user_id == world.users["clerk"] for r in rows)
        assert number not in str([r.changes for r in rows]) and mask_id(number) in str([r.changes for r in rows])


def test_id_numbers_are_encrypted_at_rest_with_a_blind_index(app, world, client_as, personal):
    ids, numbers = personal
    with app.app_context():
        raw = db.session.execute(text("SELECT worker_id_number, worker_id_number_hash FROM worker_pass WHERE id = :i"),
                                 {"i": ids["worker_pass"]}).one()
        assert raw[0].startswith(pii.TOKEN_PREFIX) and WORKER not in raw[0]
        assert pii.decrypt(raw[0]) == WORKER and raw[1] == pii.blind(WORKER) and len(raw[1]) == 64
        for name, model in registers().items():
            for col in pii_columns(model):
                for value in db.session.execute(text(f"SELECT {col} FROM {name}")).scalars():
                    assert value is None or value.startswith(pii.TOKEN_PREFIX), (name, col)
        dump = str([r.changes for r in db.session.scalars(select(AuditLog))])
        assert not (full_ids(dump) & numbers)


def test_rotating_the_key_re_encrypts_every_number(app, world, client_as, personal):
    ids, _ = personal
    old = app.config["PII_KEYS"][0]
    new = pii.new_key()
    try:
        pii.configure([new, old], app.config["PII_INDEX_KEY"])
        result = app.test_cli_runner().invoke(args=["rotate-pii-key"])
        assert result.exit_code == 0, result.output
        pii.configure([new], app.config["PII_INDEX_KEY"])  # the old key dropped: everything still reads
        with app.app_context():
            db.session.remove()
            assert reload(WorkerPass, ids["worker_pass"]).worker_id_number == WORKER
            assert reload(GoodsPass, ids["goods_pass"]).carrier_id_number == CARRIER
    finally:
        pii.configure([old], app.config["PII_INDEX_KEY"])


def test_retention_job_is_a_dry_run_by_default_then_erases_the_numbers_only(app, world, client_as, personal):
    ids, _ = personal
    runner = app.test_cli_runner()
    travel(timedelta(days=370))  # the goods pass was for today: kept 365 days
    result = runner.invoke(args=["retention"])
    assert "goods_pass: 1 due" in result.output and "dry run" in result.output
    with app.app_context():
        assert reload(GoodsPass, ids["goods_pass"]).carrier_id_number == CARRIER
    assert "worker_pass: 0 due" in result.output  # valid for 90 more days, kept one year after that
    result = runner.invoke(args=["retention", "--apply"])
    assert result.exit_code == 0 and "erased" in result.output
    with app.app_context():
        gp = reload(GoodsPass, ids["goods_pass"])
        assert gp.carrier_id_number is None and gp.carrier_id_number_hash is None and gp.carrier_name == "搬家李"
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "erase", AuditLog.register == "goods_pass"))
        assert row.changes["carrier_id_number"] == [mask_id(CARRIER), None]
        assert reload(WorkerPass, ids["worker_pass"]).worker_id_number == WORKER


def test_it_sets_the_retention_period(app, world, client_as):
    from kernel.retention import RetentionRule
    with app.app_context():
        rule = db.session.scalar(select(RetentionRule).where(RetentionRule.register == "goods_pass"))
        rid, version = rule.id, rule.version
    r = client_as("it").post(f"/admin/retention_rule/edit/?id={rid}", {"name": rule.name, "days": "30",
                                                                       "row_version": version})
    assert r.status_code == 302
    assert client_as("supervisor").get("/admin/retention_rule/").status_code == 403


def test_erasing_a_resident_is_a_manager_approved_anonymisation(app, world, client_as):
    rid = world.residents[("A", "tenant")]
    cs = client_as("cs_admin")
    assert cs.post("/admin/resident/delete/", {"id": rid}).status_code == 403
    step(cs, "resident", "request_erasure", rid, comment="已迁出")
    assert "须由另一位同事" in step(cs, "resident", "approve_erasure", rid).get_data(as_text=True) or \
        cs.post("/admin/resident/transition/approve_erasure/", {"id": rid}).status_code == 403
    step(client_as("manager"), "resident", "approve_erasure", rid)
    with app.app_context():
        r = reload(Resident, rid)
        assert r.state == "anonymised" and r.id_number is None and r.phone is None and r.name.startswith("已注销业户")
        assert r.unit_id == world.units[("A", "1-1-101")]  # the record stays for what points at it


def test_the_migration_encrypts_existing_numbers_and_its_downgrade_restores_them(tmp_path):
    from flask_migrate import downgrade, upgrade

    from app.config import TestConfig
    from app.factory import create_app
    url = f"sqlite:///{tmp_path / 'm.db'}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="13a83a03bd9f")
        with db.engine.begin() as c:
            c.execute(text("INSERT INTO property (id, code, name, created_at, version)"
                           " VALUES (1, 'A', 'A', '2026-01-01', 1)"))
            c.execute(text("INSERT INTO unit (id, property_id, code, building, entrance, room, status, created_at,"
                           " version) VALUES (1, 1, '1-1-101', '1', '1', '101', 'vacant', '2026-01-01', 1)"))
            c.execute(text("INSERT INTO resident (id, property_id, name, kind, unit_id, id_number, owner_authorisation,"
                           " created_at, version) VALUES (1, 1, '王', 'owner', 1, :n, 0, '2026-01-01', 1)"),
                      {"n": CARRIER})
            c.execute(text("INSERT INTO audit_log (at, register, record_id, action, changes) VALUES "
                           "('2026-01-01', 'resident', 1, 'create', :c)"),
                      {"c": f'{{"id_number": [null, "{CARRIER}"]}}'})
        upgrade()
        with db.engine.connect() as c:
            stored, digest = c.execute(text("SELECT id_number, id_number_hash FROM resident")).one()
            audit = c.execute(text("SELECT changes FROM audit_log")).scalar_one()
        assert stored.startswith(pii.TOKEN_PREFIX) and digest == pii.blind(CARRIER)
        assert CARRIER not in audit and mask_id(CARRIER) in audit
        assert db.session.get(Resident, 1).id_number == CARRIER
        db.session.remove()
        downgrade(revision="13a83a03bd9f")
        with db.engine.connect() as c:
            assert c.execute(text("SELECT id_number FROM resident")).scalar_one() == CARRIER
        db.engine.dispose()
