"""My notifications (the inbox, the header's bell, the home page's urgent panel) and IT's outbox page."""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select, update

from app.admin import SignedInPage
from app.admin.outbound import outbox_rows
from kernel import audit, delivery, permissions, scoping
from kernel.clock import now
from kernel.db import db
from kernel.display import register_label
from kernel.notify import STATES, Notification, Outbox
from kernel.permissions import ROLES, VIEW
from kernel.validators import mask_phone


def unread_count() -> int:
    if not current_user.is_authenticated:
        return 0
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == current_user.id, Notification.read_at.is_(None))) or 0


def record_url(n: Any) -> str | None:
    if not n.register or n.record_id is None:
        return None
    try:
        return url_for(f"{n.register}.details_view", id=n.record_id)
    except Exception:  # a register without a screen (werkzeug BuildError): the title alone
        return None


def urgent_panel(dashboard: Any) -> dict | None:
    """Home: my unread urgent notifications, newest first, each a link to its record."""
    if not current_user.is_authenticated:
        return None
    rows = db.session.scalars(select(Notification).where(
        Notification.user_id == current_user.id, Notification.read_at.is_(None), Notification.urgent.is_(True))
        .order_by(Notification.id.desc()).limit(10)).all()
    if not rows:
        return None
    items = Markup("").join(
        Markup('<li><a href="{}">{}</a> <small class="text-muted">{}</small></li>').format(
            record_url(n) or url_for("inbox.index"), n.title, f"{n.created_at:%m-%d %H:%M}") for n in rows)
    return dict(title=_l("紧急通知"), body=Markup('<ul class="mb-1" id="fd-urgent">{}</ul><a href="{}">{}</a>').format(
        items, url_for("inbox.index"), gettext("全部通知")))


class InboxView(SignedInPage, BaseView):
    """Every user's own notifications: what, which record, when, read or not; marking read."""

    register = "inbox"
    grants = {role: VIEW for role in ROLES}
    permissions.declare(register, grants)
    dashboard_panels = (urgent_panel,)

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def is_visible(self) -> bool:
        return False  # reached from the bell in the header

    @expose("/")
    def index(self) -> str:
        unread_only = request.args.get("unread") == "1"
        q = select(Notification).where(Notification.user_id == current_user.id)
        if unread_only:
            q = q.where(Notification.read_at.is_(None))
        rows = db.session.scalars(q.order_by(Notification.id.desc()).limit(300)).all()
        return self.render("admin/inbox.html", rows=rows, unread_only=unread_only, record_url=record_url,
                           register_label=register_label)

    @expose("/read/", methods=("POST",))
    def mark_read(self) -> Any:
        """Mark one (id) or all of my unread notifications read; nobody else's."""
        q = update(Notification).where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        raw = request.form.get("id", "")
        if raw:
            if not raw.isdigit() or len(raw) > 9:
                abort(400)
            q = q.where(Notification.id == int(raw))
        db.session.execute(q.values(read_at=now()))
        db.session.commit()
        return redirect(request.form.get("next") if request.form.get("next", "").startswith("/admin/")
                        else url_for(".index"))


def shown_recipient(m: Outbox) -> str:
    """IT sees departments' addresses; an owner's phone number only by its last four digits."""
    return mask_phone(m.recipient) if m.channel in ("sms", "wecom") else (m.recipient or "")


class OutboxView(SignedInPage, BaseView):
    """IT: what waits, what failed and why; a failed message is sent again from here."""

    register = "outbox"
    grants = dict(it=VIEW + ("edit",))
    permissions.declare(register, grants)

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and permissions.allowed(scoping.current_roles(), self.register, "list")

    @expose("/")
    def index(self) -> str:
        state = request.args.get("state", "failed")
        if state not in STATES and state != "all":
            abort(400)
        counts = delivery.depth(db.session)
        return self.render("admin/outbox.html", rows=outbox_rows(None if state == "all" else state), state=state,
                           states=STATES, counts=counts, register_label=register_label, recipient=shown_recipient)

    @expose("/retry/", methods=("POST",))
    def retry(self) -> Any:
        if not permissions.allowed(scoping.current_roles(), self.register, "edit"):
            abort(403)
        raw = request.form.get("id", "")
        row = db.session.get(Outbox, int(raw)) if raw.isdigit() and len(raw) < 10 else None
        if row is None:
            abort(404)
        if row.state != "failed":
            flash(gettext("只有发送失败的消息可以重发"), "error")
            return redirect(url_for(".index"))
        audit.record_bulk(db.session, "outbox", "retry", [(row.id, row.property_id, {"state": ("failed", "pending")})])
        delivery.retry(db.session, row)
        flash(gettext("已重新加入发送队列：%(subject)s", subject=escape(row.subject)), "success")
        return redirect(url_for(".index"))
