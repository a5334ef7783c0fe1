"""The desk's batches by e-mail and the commands that run the outbox (kernel.notify, kernel.delivery).

- The ISP's batch of network requests (篇5 §7 f, §8 e: 2日内以E-mail形式发给网通公司): CSV and XLSX attached, to
  the property's ISP department; each request is marked sent only when the mail server accepted the message.
- The telecom daily sheet (篇1): the day's telephone requests not yet sent, once a day after TELECOM_SHEET_AT, to
  the property's telecom department; marked sent the same way.

    flask --app wsgi outbox-worker [--once]        sends the outbox (systemd: deploy/frontdesk-worker.service)
    flask --app wsgi deadline-alerts [--loop]      overdue alerts + daily sheets (deploy/frontdesk-scheduler.timer)
"""
from __future__ import annotations

import hashlib
import time as _time
from datetime import datetime, time
from typing import Any

import click
from flask import Flask, current_app
from sqlalchemy import select

from app.admin.export import csv_stream, safe_cell, xlsx_stream
from kernel import delivery
from kernel.clock import now
from kernel.db import db
from kernel.display import Display
from kernel.i18n import T
from kernel.identity import Property
from kernel.notify import NotifyEvent, Outbox, queue_mail, queued_ids
from models.desk import NetworkRequest, TelecomRegistration
from models.master import Department

ISP_HOOK = "network_request.sent_to_isp"
TELECOM_HOOK = "telecom_registration.sent"
ISP_COLUMNS = ("number", "kind", "unit", "resident", "tariff", "account", "amount", "received_at")
TELECOM_COLUMNS = ("number", "received_at", "unit", "applicant", "phone", "request", "content")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet_files(model: type, rows: list, columns: tuple[str, ...], stem: str) -> list[tuple[str, str, bytes]]:
    show = Display(model, ("clerk",), db.session)
    header = [show.label(c).zh for c in columns]
    cells = [[safe_cell(show.attr(r, c)) for c in columns] for r in rows]
    csv_bytes = "".join(csv_stream(header, cells)).encode("utf-8")
    xlsx_bytes = b"".join(xlsx_stream(header, cells, stem[:31]))
    return [(f"{stem}.csv", "text/csv", csv_bytes), (f"{stem}.xlsx", XLSX, xlsx_bytes)]


def addresses(property_id: int, kind: str) -> list[str | None]:
    """The e-mail addresses of the property's departments of `kind`; [None] when there is none (shown failed)."""
    found = list(db.session.scalars(select(Department.email).where(
        Department.property_id == property_id, Department.kind == kind, Department.active.is_(True))
        .order_by(Department.id)))
    return [e for e in found if e] or [None]


def queue_isp_batch(rows: list[NetworkRequest], property_id: int) -> tuple[int, T | None]:
    """Queue one e-mail to the ISP with the unsent requests; (how many, why not) — nothing marked sent yet."""
    waiting = queued_ids(db.session, ISP_HOOK, property_id)
    rows = [r for r in rows if r.sent_to_isp_at is None and r.id not in waiting and r.state != "void"]
    if not rows:
        return 0, T("所选申请都已发送或正在发送", "The chosen requests are sent or being sent")
    to = addresses(property_id, "isp")
    if to == [None]:
        return 0, T("请先由IT在“联系部门”中为网络运营商填写电子邮箱", "IT must first set the ISP's e-mail address")
    at = now()
    ids = sorted(r.id for r in rows)
    stem = f"isp-batch-{at:%Y%m%d%H%M}"
    files = sheet_files(NetworkRequest, rows, ISP_COLUMNS, stem)
    prop = db.session.get(Property, property_id)
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:12]
    for i, address in enumerate(to):
        queue_mail(db.session, f"isp:{property_id}:{at:%Y%m%d%H%M%S}:{digest}/{i}:{address}", property_id, address,
                   f"{prop.name} 网络开通/变更申请 {len(rows)} 条 ({at:%Y-%m-%d})",
                   f"网通公司：\n\n附件为{prop.name}客服中心受理的网络开通/变更申请 {len(rows)} 条"
                   f"（CSV 与 Excel 各一份），请在 2 日内处理。\n\n编号：{', '.join(r.number or '' for r in rows)}\n",
                   files, ISP_HOOK, ids, register="network_request")
    return len(rows), None


def telecom_sheets(at: datetime | None = None) -> int:
    """Once a day per property, after TELECOM_SHEET_AT: the unsent telephone requests to telecom."""
    at = at or now()
    hh, mm = (int(x) for x in str(current_app.config.get("TELECOM_SHEET_AT", "17:00")).split(":"))
    if at.time() < time(hh, mm):
        return 0
    queued = 0
    for prop in db.session.scalars(select(Property).order_by(Property.id)):
        key = f"telecom_sheet:{prop.id}:{at:%Y%m%d}"
        if db.session.scalar(select(NotifyEvent.id).where(NotifyEvent.key == key)) is not None:
            continue
        waiting = queued_ids(db.session, TELECOM_HOOK, prop.id)
        rows = [r for r in db.session.scalars(select(TelecomRegistration).where(
            TelecomRegistration.property_id == prop.id, TelecomRegistration.faxed_at.is_(None),
            TelecomRegistration.state != "void").order_by(TelecomRegistration.id)) if r.id not in waiting]
        db.session.add(NotifyEvent(key=key, register="telecom_registration", property_id=prop.id, at=at))
        if rows:
            files = sheet_files(TelecomRegistration, rows, TELECOM_COLUMNS, f"telecom-{at:%Y%m%d}")
            for i, address in enumerate(addresses(prop.id, "telecom")):
                queue_mail(db.session, f"{key}/{i}:{address}", prop.id, address,
                           f"{prop.name} 电话登记单 {at:%Y-%m-%d}（{len(rows)} 条）",
                           f"电信部门：\n\n附件为{prop.name}客服中心 {at:%Y-%m-%d} 受理的电话业务 "
                           f"{len(rows)} 条，请处理。\n",
                           files, TELECOM_HOOK, [r.id for r in rows], register="telecom_registration")
            queued += 1
        db.session.commit()
    return queued


def register(app: Flask) -> None:
    @app.cli.command("outbox-worker")
    @click.option("--once", is_flag=True, help="one round, then exit (tests, cron)")
    @click.option("--idle", default=2.0, show_default=True, help="seconds to sleep when nothing is due")
    def outbox_worker(once: bool, idle: float) -> None:
        """Send the outbox (e-mail, SMS, WeCom) with retries; runs until stopped (SIGTERM)."""
        for counts in delivery.work(app.config, once=once, idle=idle):
            if counts:
                click.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))

    @app.cli.command("deadline-alerts")
    @click.option("--loop", is_flag=True, help="run every --every seconds instead of once (without a timer)")
    @click.option("--every", default=60, show_default=True)
    def deadline_alerts(loop: bool, every: int) -> None:
        """Overdue alerts (once per record and deadline) and the telecom daily sheets; run every minute."""
        while True:
            raised = delivery.deadline_alerts(db.session)
            sheets = telecom_sheets()
            click.echo(f"alerts raised: {raised}; daily sheets queued: {sheets}")
            db.session.remove()
            if not loop:
                return
            _time.sleep(every)


def failed_count() -> int:
    return db.session.scalar(select(db.func.count()).select_from(Outbox).where(Outbox.state == "failed")) or 0


def outbox_rows(state: str | None, limit: int = 200) -> list[Any]:
    q = select(Outbox).order_by(Outbox.id.desc()).limit(limit)
    if state:
        q = q.where(Outbox.state == state)
    return list(db.session.scalars(q))
