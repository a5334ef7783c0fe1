"""Sending the outbox (kernel.notify.Outbox): a database-polling worker, retries with back-off, exactly once.

`flask --app wsgi outbox-worker` runs `work()`. Why a plain worker on the database and not RQ or Dramatiq on
Redis: the outbox rows are already the queue, written in the transaction of the change; a second queue would
need its own "moved to Redis" marker (a second outbox) and Redis persistence for "never lost". On PostgreSQL
several workers share the table with `SELECT ... FOR UPDATE SKIP LOCKED`; on SQLite one worker runs.

One message, step by step:
1. claim: a short transaction takes due rows and leases them (`claimed_until`), so another worker skips them;
2. if its key is in `DeliveredKey`, a previous run sent it and died before marking: mark it now, send nothing;
3. send through its channel (SMTP: Message-ID derived from the key, so a receiving server can also detect a
   repeat);
4. remember the key in `DeliveredKey` (committed at once), then mark the row sent and run its hook (the ISP's
   requests get "sent to ISP at") in one transaction.
A temporary failure (server down) retries with back-off 30 s, 60 s, ... up to an hour, `OUTBOX_MAX_ATTEMPTS`
times; a permanent one (no address, too large, refused recipient) is marked failed at once with its error.
Failed rows are shown to IT on the outbox page, which can send them again.

Channels: "email" by SMTP (`MAIL_URL` = smtp://user:password@host:port?tls=1, or smtps://), "sms" and "wecom"
through an adapter class named in `SMS_ADAPTER` / `WECOM_ADAPTER` ("module:Class"); the default adapter only
logs (no network call), so a provider plugs in by configuration.
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app
from sqlalchemy import DateTime, String, and_, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from kernel import probes
from kernel.clock import now
from kernel.db import db
from kernel.deadlines import deadline_clause
from kernel.i18n import T
from kernel.notify import NotifyEvent, Outbox, emit, sent_hook, tells_of
from kernel.register import registers
from kernel.validators import mask_phone

log = logging.getLogger("frontdesk.outbox")


class DeliveredKey(db.Model):
    """Keys of the messages a channel accepted, written the moment it accepted them (before marking the row)."""

    __tablename__ = "delivered_key"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=now)


class PermanentError(Exception):
    """Sending again will not help (no address, too large, refused); the row is failed until IT retries it."""

    def __init__(self, message: T | str):
        super().__init__(str(message))
        self.message = message


# ---------------------------------------------------------------- channels
class LoggingAdapter:
    """The default SMS / WeCom adapter: logs that it would send (number masked); no network call."""

    def __init__(self, channel: str, config: Any = None):
        self.channel = channel

    def send(self, message: Outbox) -> None:
        if not message.recipient:
            raise PermanentError(T("没有收件人", "No recipient"))
        log.info("%s to %s: %s [outbox %s]", self.channel, mask_phone(message.recipient), message.subject, message.id)

    def close(self) -> None:
        pass


def message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@frontdesk>"


class SmtpChannel:
    """E-mail over SMTP; one connection is kept for a batch and opened again after an error."""

    def __init__(self, url: str, sender: str, timeout: float = 15):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("MAIL_URL must look like smtp://user:password@host:port?tls=1")
        self.host, self.port = parts.hostname, parts.port or (465 if parts.scheme == "smtps" else 25)
        self.user, self.password = unquote(parts.username or ""), unquote(parts.password or "")
        self.ssl = parts.scheme == "smtps"
        self.starttls = parse_qs(parts.query).get("tls", ["0"])[0] in ("1", "true", "yes")
        self.sender, self.timeout = sender, timeout
        self.conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self.conn is None:
            if self.ssl:
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    conn.starttls(context=ssl.create_default_context())
            conn.ehlo()
            if self.user:
                conn.login(self.user, self.password)
            self.conn = conn
        return self.conn

    def build(self, message: Outbox) -> EmailMessage:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, message.recipient, message.subject
        mail["Message-ID"] = message_id(message.key)
        mail["Date"] = formatdate(localtime=True)
        mail["X-FrontDesk-Key"] = message.key
        mail.set_content(message.body)
        for name, mime, data in message.files():
            main, _, sub = mime.partition("/")
            mail.add_attachment(data, maintype=main, subtype=sub or "octet-stream", filename=name)
        return mail

    def send(self, message: Outbox) -> None:
        if not message.recipient:
            raise PermanentError(T("没有收件地址", "No address"))
        data = self.build(message).as_bytes(policy=SMTP_POLICY)  # CRLF line ends, as SMTP wants
        try:
            conn = self._connect()
            limit = int(conn.esmtp_features.get("size", "0") or 0) if conn.has_extn("size") else 0
            if limit and len(data) > limit:
                raise PermanentError(T(
                    f"邮件大小 {len(data) // 1024} KB 超过邮件服务器的上限 {limit // 1024} KB，未发送；"
                    "请分批发送（每批少选几条）",
                    f"The message ({len(data) // 1024} KB) exceeds the server's limit ({limit // 1024} KB); "
                    "not sent: send smaller batches"))
            conn.sendmail(self.sender, [message.recipient], data)
        except smtplib.SMTPRecipientsRefused as ex:
            self.close()
            raise PermanentError(T(f"邮件服务器拒收此地址：{message.recipient}",
                                   f"The server refused the address {message.recipient}")) from ex
        except smtplib.SMTPResponseException as ex:
            self.close()
            if ex.smtp_code == 552:
                raise PermanentError(T(f"邮件超过服务器大小上限，未发送：{ex.smtp_error!r}",
                                       f"The message exceeds the server's size limit: {ex.smtp_error!r}")) from ex
            if 500 <= ex.smtp_code < 600:
                raise PermanentError(T(f"邮件服务器拒绝：{ex.smtp_code} {ex.smtp_error!r}",
                                       f"Refused by the server: {ex.smtp_code} {ex.smtp_error!r}")) from ex
            raise

        except (OSError, smtplib.SMTPException):
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.conn = None


class Unconfigured:
    def __init__(self, message: T):
        self.message = message

    def send(self, message: Outbox) -> None:
        raise PermanentError(self.message)

    def close(self) -> None:
        pass


def adapter(path: str, channel: str, config: Any) -> Any:
    if not path:
        return LoggingAdapter(channel, config)
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)(channel, config)


def channels_from(config: Any) -> dict[str, Any]:
    url = config.get("MAIL_URL") or ""
    mail = (SmtpChannel(url, config.get("MAIL_FROM") or "frontdesk@localhost") if url
            else Unconfigured(T("未配置邮件服务器(MAIL_URL)", "No mail server configured (MAIL_URL)")))
    return {"email": mail, "sms": adapter(config.get("SMS_ADAPTER") or "", "sms", config),
            "wecom": adapter(config.get("WECOM_ADAPTER") or "", "wecom", config)}


# ---------------------------------------------------------------- the worker
def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def claim(session: Session, limit: int = 100, lease: int = 120) -> tuple[list[int], datetime]:
    """Lease due rows to this worker; the lease's end is the worker's token for `deliver` (see `_still_mine`)."""
    at = now()
    q = (select(Outbox.id).where(Outbox.state == "pending", Outbox.next_attempt_at <= at,
                                 or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < at))
         .order_by(Outbox.next_attempt_at, Outbox.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    ids = list(session.scalars(q))
    if ids:
        session.execute(update(Outbox).where(Outbox.id.in_(ids)).values(claimed_until=at + timedelta(seconds=lease)))
    session.commit()
    return ids, at + timedelta(seconds=lease)


def _still_mine(session: Session, row_id: int, token: datetime, lease: int) -> bool:
    """Renew this worker's lease on one row right before sending it, if the lease is still the one it took.

    A batch can outlast its lease (a slow mail server); another worker may then have claimed the same row. The
    renewal is a compare-and-set on the lease's end, so exactly one of the two goes on to send.
    """
    done = session.execute(update(Outbox).where(Outbox.id == row_id, Outbox.state == "pending",
                                                Outbox.claimed_until == token)
                           .values(claimed_until=now() + timedelta(seconds=lease)))
    session.commit()
    return done.rowcount == 1


def _remember(session: Session, key: str) -> None:
    session.add(DeliveredKey(key=key, at=now()))
    session.commit()


def _mark_sent(session: Session, row: Outbox) -> None:
    at = now()
    row.state, row.sent_at, row.claimed_until, row.last_error = "sent", at, None, None
    if row.on_sent:
        hook = sent_hook(row.on_sent)
        if hook is not None:
            hook(session, row.ids(), at)
    session.commit()


def _failed(session: Session, row: Outbox, error: str, permanent: bool, max_attempts: int) -> str:
    row.attempts += 1
    row.last_error, row.claimed_until = error[:2000], None
    if permanent or row.attempts >= max_attempts:
        row.state = "failed"
    else:
        row.next_attempt_at = now() + backoff(row.attempts)
    session.commit()
    return row.state


def deliver(session: Session, row_id: int, channels: dict[str, Any], max_attempts: int = 8,
            token: datetime | None = None, lease: int = 120) -> str:
    """Send one claimed row; returns "sent", "already" (sent before, only marked now), "retry", "failed", or
    "skipped" (no longer pending, or claimed by another worker since: `token` is the lease `claim` returned)."""
    if token is not None and not _still_mine(session, row_id, token, lease):
        return "skipped"
    row = session.get(Outbox, row_id)
    if row is None or row.state != "pending":
        session.commit()
        return "skipped"
    if session.get(DeliveredKey, row.key) is not None:
        _mark_sent(session, row)
        return "already"
    channel = channels.get(row.channel)
    try:
        if channel is None:
            raise PermanentError(T(f"未知的发送渠道：{row.channel}", f"Unknown channel: {row.channel}"))
        channel.send(row)
    except PermanentError as ex:
        log.warning("outbox %s failed for good: %s", row.id, ex)
        return _failed(session, row, str(T.of(ex.message).zh), True, max_attempts)
    except (OSError, smtplib.SMTPException) as ex:
        log.warning("outbox %s: will retry: %s", row.id, ex)
        state = _failed(session, row, f"{type(ex).__name__}: {ex}", False, max_attempts)
        return "retry" if state == "pending" else state
    _remember(session, row.key)
    _mark_sent(session, row)
    return "sent"


def run_once(session: Session, channels: dict[str, Any], batch: int = 100, lease: int = 120,
             max_attempts: int = 8) -> dict[str, int]:
    counts: dict[str, int] = {}
    ids, token = claim(session, batch, lease)
    for row_id in ids:
        result = deliver(session, row_id, channels, max_attempts, token, lease)
        counts[result] = counts.get(result, 0) + 1
    return counts


def work(config: Any, once: bool = False, idle: float = 2.0,
         stop: Callable[[], bool] = lambda: False) -> Iterator[dict]:
    """The worker loop: claim, send, sleep `idle` seconds when nothing is due. Yields each round's counts."""
    channels = channels_from(config)
    batch, lease = int(config.get("OUTBOX_BATCH", 100)), int(config.get("OUTBOX_LEASE_SECONDS", 120))
    max_attempts = int(config.get("OUTBOX_MAX_ATTEMPTS", 8))
    try:
        while not stop():
            counts = run_once(db.session, channels, batch, lease, max_attempts)
            yield counts
            if once:
                return
            if not counts:
                for ch in channels.values():
                    ch.close()
                time.sleep(idle)
    finally:
        for ch in channels.values():
            ch.close()
        db.session.remove()


def retry(session: Session, row: Outbox) -> None:
    """IT sends a failed message again (after fixing the address or the mail server)."""
    row.state, row.attempts, row.next_attempt_at, row.claimed_until = "pending", 0, now(), None
    session.commit()


# ---------------------------------------------------------------- the scheduled deadline check
def deadline_alerts(session: Session, at: datetime | None = None) -> int:
    """Raise "overdue:<code>" for every late record not alerted yet: once per record and deadline."""
    at = at or now()
    raised = 0
    for table, model in sorted(registers().items()):
        tells = tells_of(model)
        for d in getattr(model, "deadlines", ()):
            group = tells.get(f"overdue:{d.code}")
            if not group:
                continue
            suffix = f":overdue:{d.code}"
            done = {k for k in session.scalars(select(NotifyEvent.key).where(
                NotifyEvent.register == table, NotifyEvent.key.like(f"%{suffix}")))}
            late = session.scalars(select(model).where(deadline_clause(model, d, at)).order_by(model.id))
            for record in late:
                if f"{table}:{record.id}{suffix}" in done:
                    continue
                with session.begin_nested():
                    what = T(f"超时：{d.label.zh}", f"Overdue: {d.label.en}")
                    if emit(session, record, group, f"overdue:{d.code}", what):
                        raised += 1
            session.commit()
    return raised


# ---------------------------------------------------------------- what the operator sees
def depth(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Outbox.state, func.count()).where(Outbox.state != "sent")
                                .group_by(Outbox.state)).all())


def oldest_pending_seconds(session: Session) -> float:
    oldest = session.scalar(select(func.min(Outbox.next_attempt_at)).where(
        and_(Outbox.state == "pending", Outbox.next_attempt_at <= now())))
    return max((now() - oldest).total_seconds(), 0.0) if oldest else 0.0


@probes.readiness
def outbox() -> tuple[str, bool, object]:
    """The worker keeps up: nothing due has waited longer than OUTBOX_STALE_SECONDS (failed rows are IT's page)."""
    oldest = oldest_pending_seconds(db.session)
    counts = depth(db.session)
    limit = int(current_app.config.get("OUTBOX_STALE_SECONDS", 600))
    return "outbox", oldest < limit, {"pending": counts.get("pending", 0), "failed": counts.get("failed", 0),
                                      "oldest_pending_s": round(oldest)}


@probes.gauge("frontdesk_outbox_depth", "Outbox messages not yet sent, by state", labels=("state",))
def outbox_depth() -> dict[tuple[str, ...], float]:
    counts = depth(db.session)
    return {(s,): float(counts.get(s, 0)) for s in ("pending", "failed")}


@probes.gauge("frontdesk_outbox_oldest_pending_seconds", "Seconds the oldest due outbox message has waited")
def outbox_oldest() -> float:
    return oldest_pending_seconds(db.session)
