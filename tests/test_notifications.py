"""Issue #16: who is told of what — the inbox at once, e-mail through the outbox exactly once, deadline alerts once.

A real SMTP server (aiosmtpd) listens on a free port of 127.0.0.1; SMS goes to the logging adapter.
"""
import email
import logging
import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from kernel import checks, delivery
from kernel.clock import travel
from kernel.db import db
from kernel.delivery import DeliveredKey, channels_from, deadline_alerts, run_once
from kernel.notify import Notification, Outbox, Tell
from models.desk import Incident, NetworkRequest, RepairOrder, TelecomRegistration
from models.master import Department
from seeds.samples import image
from tests.helpers import latest, step, upload

ISP = "isp@example.com"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the SMTP server accepted, by Message-ID."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"

    def ids(self):
        return [m["Message-ID"] for _, m in self.messages]


class Smtp:
    def __init__(self, size_limit=33554432):
        self.port, self.inbox, self.size_limit, self.controller = free_port(), Inbox(), size_limit, None

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     data_size_limit=self.size_limit)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(app):
    server = Smtp()
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{server.port}"
    yield server
    server.stop()
    app.config["MAIL_URL"] = ""


def send(app):
    with app.app_context():
        channels = channels_from(app.config)
        try:
            return run_once(db.session, channels, max_attempts=app.config["OUTBOX_MAX_ATTEMPTS"])
        finally:
            for ch in channels.values():
                ch.close()
            db.session.remove()


def set_email(app, world, kind, address, prop="a"):
    with app.app_context():
        for d in db.session.scalars(select(Department).where(Department.kind == kind,
                                                             Department.property_id == getattr(world, prop))):
            d.email = address
        db.session.commit()


def network_requests(c, world, n=2):
    for _ in range(n):
        assert (
            c.post(
                "/admin/network_request/new/",
                {
                    "kind": "open",
                    "unit": world.units[("A", "1-1-101")],
                    "resident": world.residents[("A", "owner")],
                    "doc_id_copy": upload("id.jpg", image("JPEG")),
                },
            ).status_code
            == 302
        )
    with c.app.app_context():
        return list(db.session.scalars(select(NetworkRequest).order_by(NetworkRequest.id)))


def rows(app, model, *where):
    with app.app_context():
        db.session.remove()
        return list(db.session.scalars(select(model).where(*where).order_by(model.id)))


def test_isp_email_arrives_with_attachment_and_marks_sent_only_when_accepted(app, world, client_as, smtp):
    smtp.start()
    set_email(app, world, "isp", ISP)
    c = client_as("clerk")
    reqs = network_requests(c, world)
    r = c.post("/admin/network_request/action/", {"action": "send_to_isp", "rowid": [x.id for x in reqs]},
               follow_redirects=True)
    assert "加入发送队列" in r.get_data(as_text=True)
    assert all(x.sent_to_isp_at is None for x in rows(app, NetworkRequest))  # queued, not sent
    # asked again before the worker ran: nothing is queued twice
    again = {"action": "send_to_isp", "rowid": reqs[0].id}
    assert "都已发送或正在发送" in c.post("/admin/network_request/action/", again,
                                         follow_redirects=True).get_data(as_text=True)
    assert send(app) == {"sent": 1}
    [(to, mail)] = smtp.inbox.messages
    assert to == [ISP]
    files = {p.get_filename(): p.get_payload(decode=True) for p in mail.walk() if p.get_filename()}
    assert set(files) == {n for n in files if n.startswith("isp-batch-")} and len(files) == 2
    csv_text = next(v for k, v in files.items() if k.endswith(".csv")).decode("utf-8-sig")
    assert all(x.number in csv_text for x in reqs) and "开通" in csv_text
    assert next(k for k in files if k.endswith(".xlsx"))
    assert all(x.sent_to_isp_at is not None for x in rows(app, NetworkRequest))
    assert send(app) == {}  # nothing left


def test_smtp_down_nothing_marked_sent_retries_and_each_arrives_exactly_once(app, world, client_as, smtp):
    set_email(app, world, "isp", ISP)
    set_email(app, world, "engineering", "eng@example.com")
    c = client_as("clerk")
    reqs = network_requests(c, world)
    c.post("/admin/network_request/action/", {"action": "send_to_isp", "rowid": [x.id for x in reqs]})
    c.post("/admin/incident/new/", {"location": "2栋大堂", "content": "水管爆裂"})  # e-mails engineering
    assert send(app) == {"retry": 2}  # the server is down
    queued = rows(app, Outbox, Outbox.channel == "email", Outbox.state == "pending")
    assert len(queued) == 2 and all(m.attempts == 1 and m.last_error for m in queued)
    assert all(x.sent_to_isp_at is None for x in rows(app, NetworkRequest))
    assert send(app) == {}  # backing off: not due yet
    travel(timedelta(seconds=31))
    assert send(app) == {"retry": 2}
    smtp.start()
    assert send(app) == {}  # still backing off (60 s after the second attempt)
    travel(timedelta(seconds=31 + 61))
    assert send(app) == {"sent": 2}
    travel(timedelta(hours=2))
    assert send(app) == {}
    assert sorted(to[0] for to, _ in smtp.inbox.messages) == ["eng@example.com", ISP]
    assert len(set(smtp.inbox.ids())) == len(smtp.inbox.ids()) == 2
    assert all(x.sent_to_isp_at is not None for x in rows(app, NetworkRequest))


def test_a_worker_killed_between_send_and_mark_sends_no_duplicate(app, world, client_as, smtp, monkeypatch):
    smtp.start()
    set_email(app, world, "isp", ISP)
    c = client_as("clerk")
    reqs = network_requests(c, world, 1)
    c.post("/admin/network_request/action/", {"action": "send_to_isp", "rowid": reqs[0].id})
    real = delivery._mark_sent

    def killed(session, row):
        raise SystemExit("worker killed after the server accepted the message")

    monkeypatch.setattr(delivery, "_mark_sent", killed)
    with pytest.raises(SystemExit):
        send(app)
    monkeypatch.setattr(delivery, "_mark_sent", real)
    assert len(smtp.inbox.messages) == 1
    [row] = rows(app, Outbox)
    assert row.state == "pending" and rows(app, NetworkRequest)[0].sent_to_isp_at is None
    assert send(app) == {}  # leased to the dead worker for a while
    travel(timedelta(seconds=121))
    assert send(app) == {"already": 1}  # the delivered key says it went: marked, not sent again
    assert len(smtp.inbox.messages) == 1
    assert rows(app, Outbox)[0].state == "sent"
    assert rows(app, NetworkRequest)[0].sent_to_isp_at is not None
    with app.app_context():
        assert db.session.get(DeliveredKey, row.key) is not None


def test_a_batch_that_outlasts_its_lease_is_sent_once_by_whichever_worker_holds_it(app, world, client_as, smtp):
    smtp.start()
    set_email(app, world, "isp", ISP)
    c = client_as("clerk")
    reqs = network_requests(c, world, 1)
    c.post("/admin/network_request/action/", {"action": "send_to_isp", "rowid": reqs[0].id})

    def deliver(row_id, token):
        with app.app_context():
            channels = channels_from(app.config)
            try:
                return delivery.deliver(db.session, row_id, channels, token=token)
            finally:
                for ch in channels.values():
                    ch.close()
                db.session.remove()

    with app.app_context():
        [row_id], slow = delivery.claim(db.session, lease=120)  # worker A leases the row, then is slow
        travel(timedelta(seconds=121))
        assert delivery.claim(db.session, lease=120)[0] == [row_id]  # worker B takes it over after the lease
        fresh = db.session.get(Outbox, row_id).claimed_until
        db.session.remove()
    assert deliver(row_id, slow) == "skipped"  # A comes back to its old batch: not its row any more
    assert smtp.inbox.messages == []
    assert deliver(row_id, fresh) == "sent"
    assert len(smtp.inbox.messages) == 1


def test_incident_reaches_the_managers_inbox_at_once(app, world, client_as):
    c = client_as("clerk")
    assert c.post("/admin/incident/new/", {"location": "2栋大堂", "content": "水管爆裂"}).status_code == 302
    with app.app_context():
        inc = latest(Incident)
    told = {n.user_id for n in rows(app, Notification, Notification.register == "incident")}
    u = world.users
    assert {u["manager"], u["manager2"], u["manager_ab"], u["supervisor"], u["supervisor2"]} == told  # not B's
    m = client_as("manager")
    home = m.get("/admin/").get_data(as_text=True)
    assert 'id="fd-unread">1<' in home and 'id="fd-urgent"' in home and inc.number in home
    page = m.get("/admin/inbox/").get_data(as_text=True)
    assert f"/admin/incident/details/?id={inc.id}" in page and inc.number in page
    [n] = rows(app, Notification, Notification.user_id == u["manager"])
    assert client_as("manager2").post("/admin/inbox/read/", {"id": n.id}).status_code == 302
    assert rows(app, Notification, Notification.id == n.id)[0].read_at is None  # not someone else's
    m.post("/admin/inbox/read/", {"id": n.id})
    assert rows(app, Notification, Notification.id == n.id)[0].read_at is not None
    assert 'id="fd-unread"' not in m.get("/admin/").get_data(as_text=True)
    # no security department at A: the e-mail that could not go is on IT's outbox page, not dropped
    failed = rows(app, Outbox, Outbox.state == "failed")
    assert any("没有类别" in (f.last_error or "") for f in failed)
    assert "没有类别" in client_as("it").get("/admin/outbox/?state=failed").get_data(as_text=True)
    assert client_as("clerk").get("/admin/outbox/").status_code == 403


def test_overdue_repair_alert_appears_once_not_every_minute(app, world, client_as):
    c = client_as("clerk")
    c.post("/admin/repair_order/new/", {"unit": world.units[("A", "3-2-1501")], "contact": "王先生",
                                        "phone": "13800138000", "content": "厨房漏水", "source": "phone"})
    with app.app_context():
        assert deadline_alerts(db.session) == 0  # not late yet
        db.session.remove()
    travel(timedelta(minutes=4))
    for minute in range(3):
        travel(timedelta(minutes=4 + minute))
        with app.app_context():
            raised = deadline_alerts(db.session)
            db.session.remove()
        assert raised == (1 if minute == 0 else 0)
    alerts = rows(app, Notification, Notification.register == "repair_order")
    assert [a.user_id for a in alerts] == [world.users["cs_admin"]] and alerts[0].urgent
    assert "超时" in alerts[0].title


def test_dispatch_tells_engineering_and_a_delay_texts_the_owner(app, world, client_as, caplog):
    c = client_as("clerk")
    c.post("/admin/repair_order/new/", {"unit": world.units[("A", "3-2-1501")], "contact": "王先生",
                                        "phone": "13800138000", "content": "厨房漏水", "source": "phone"})
    with app.app_context():
        order = latest(RepairOrder)
        dept = db.session.scalar(select(Department.id).where(Department.kind == "engineering",
                                                             Department.property_id == world.a))
    step(c, "repair_order", "tell_delay", order.id)
    step(c, "repair_order", "dispatch", order.id, department=dept)
    assert [n.user_id for n in rows(app, Notification, Notification.title.contains("派工"))] == \
        [world.users["engineering"]]
    [sms] = rows(app, Outbox, Outbox.channel == "sms")
    assert sms.recipient == "13800138000" and "无法按时到场" in sms.body
    with caplog.at_level(logging.INFO, logger="frontdesk.outbox"):
        assert send(app) == {"sent": 1}
    assert "*******8000" in caplog.text and "13800138000" not in caplog.text  # the logging adapter, masked


def test_duty_log_escalation_tells_the_role_it_names(app, world, client_as):
    c = client_as("clerk")
    assert c.post("/admin/duty_log/new/", {"source": "phone", "content": "3栋电梯困人", "priority": "urgent",
                                          "escalation": "supervisor", "follow_up": "open"}).status_code == 302
    assert c.post("/admin/duty_log/new/", {"source": "phone", "content": "小事", "priority": "low",
                                          "escalation": "self", "follow_up": "open"}).status_code == 302
    told = rows(app, Notification, Notification.register == "duty_log")
    assert sorted(n.user_id for n in told) == sorted([world.users["supervisor"], world.users["supervisor2"]])
    assert all("上报客服主管" in n.title for n in told)


def test_cleaning_booking_texts_the_owner_and_reminds_the_desk_after_2_hours(app, world, client_as):
    c = client_as("clerk")
    assert c.post("/admin/cleaning_booking/new/", {"unit": world.units[("A", "1-1-101")], "contact": "钱",
                                                   "phone": "13800138000", "cleaning_type": "cleaning_standard",
                                                   "cleaners": "2", "hours": "3"}).status_code == 302
    [sms] = rows(app, Outbox, Outbox.channel == "sms")
    assert sms.recipient == "13800138000" and "2小时内" in sms.body
    travel(timedelta(hours=2, minutes=1))
    with app.app_context():
        assert deadline_alerts(db.session) == 1
    assert {n.user_id for n in rows(app, Notification, Notification.register == "cleaning_booking")} == \
        {world.users["clerk"], world.users["clerk2"], world.users["cs_admin"]}


def test_telecom_daily_sheet_goes_once_a_day_to_the_address_it_sets(app, world, client_as, smtp):
    smtp.start()
    with app.app_context():
        db.session.add(Department(property_id=world.a, name="电信", kind="telecom", email="tel@example.com"))
        db.session.commit()
    c = client_as("clerk")
    assert c.post("/admin/telecom_registration/new/", {"unit": world.units[("A", "1-1-101")], "applicant": "张",
                                                       "request": "new"}).status_code == 302
    app.config["TELECOM_SHEET_AT"] = "00:00"
    try:
        http = app.test_cli_runner()
        assert "daily sheets queued: 1" in http.invoke(args=["deadline-alerts"]).output
        assert "daily sheets queued: 0" in http.invoke(args=["deadline-alerts"]).output  # once a day
    finally:
        app.config["TELECOM_SHEET_AT"] = "17:00"
    assert send(app) == {"sent": 1}
    [(to, mail)] = smtp.inbox.messages
    assert to == ["tel@example.com"] and any((p.get_filename() or "").endswith(".csv") for p in mail.walk())
    assert rows(app, TelecomRegistration)[0].faxed_at is not None


def test_invalid_email_in_master_data_is_refused_with_a_message(app, world, client_as):
    it = client_as("it")
    r = it.post("/admin/department/new/", {"name": "网通二", "kind": "isp", "email": "isp at example"})
    assert "电子邮箱格式不正确" in r.get_data(as_text=True)
    r = it.post("/admin/department/new/", {"name": "网通二", "kind": "isp", "email": "a@b.com, c@d.com"})
    assert "电子邮箱格式不正确" in r.get_data(as_text=True)
    assert not rows(app, Department, Department.name == "网通二")
    good = {"name": "网通二", "kind": "isp", "email": "isp2@example.com"}
    assert it.post("/admin/department/new/", good).status_code == 302
    with app.app_context():
        bad = Department(property_id=world.a, name="x", kind="isp", email="not an address")
        assert "email" in bad.clean()  # the model refuses it too (imports, scripts)


def test_attachment_over_the_smtp_size_limit_is_refused_with_a_clear_error(app, world, client_as, smtp):
    smtp.size_limit = 3000
    smtp.start()
    set_email(app, world, "isp", ISP)
    c = client_as("clerk")
    reqs = network_requests(c, world, 3)
    c.post("/admin/network_request/action/", {"action": "send_to_isp", "rowid": [x.id for x in reqs]})
    assert send(app) == {"failed": 1}
    assert smtp.inbox.messages == []
    [row] = rows(app, Outbox)
    assert row.state == "failed" and "超过邮件服务器的上限" in row.last_error
    assert all(x.sent_to_isp_at is None for x in rows(app, NetworkRequest))
    it = client_as("it")
    assert "超过邮件服务器的上限" in it.get("/admin/outbox/").get_data(as_text=True)
    assert it.post("/admin/outbox/retry/", {"id": row.id}).status_code == 302
    assert rows(app, Outbox)[0].state == "pending"
    assert client_as("clerk").post("/admin/outbox/retry/", {"id": row.id}).status_code == 403


def test_outbox_health_in_readiness_and_depth_in_metrics(app, world, client_as):
    set_email(app, world, "engineering", "eng@example.com")
    client_as("clerk").post("/admin/incident/new/", {"location": "大堂", "content": "停电"})
    it = client_as("it")
    body = it.get("/metrics").get_data(as_text=True)
    assert 'frontdesk_outbox_depth{state="pending"} 1' in body
    r = it.get("/readyz")
    assert r.json["checks"]["outbox"]["ok"] is True
    travel(timedelta(minutes=11))  # nobody sent it: the worker is down
    r = it.get("/readyz")
    assert r.json["checks"]["outbox"]["ok"] is False and r.json["checks"]["outbox"]["details"]["pending"] == 1


def test_a_malformed_tell_is_refused_at_start_up(app, monkeypatch):
    monkeypatch.setattr(Incident, "tells", {"create": (Tell(role="butler"), Tell(role="manager", department="isp")),
                                            "overdue:no.such": (Tell(phone_field="nope"),)})
    found = "\n".join(checks.run(app))
    assert "unknown role 'butler'" in found and "exactly one recipient" in found
    assert "names no deadline" in found and "'nope' is not a column" in found
