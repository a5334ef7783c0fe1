"""Personal data on screens: the one audited way to see a full ID number, and the exact-number search.

Every list, details page, export, print and audit row shows an ID number masked (kernel.display, for every role).
The desk may reveal one record's number with a reason (`reveal`, audited, rate-limited per user), and may
find a record by a full ID number (an exact match on the blind index, audited); nobody searches by a prefix.
"""
from __future__ import annotations

import re
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from app.admin.access import endpoint
from kernel import audit, permissions, pii, scoping
from kernel.i18n import T
from kernel.register import blind_indexes, pii_columns
from kernel.validators import mask_id

FULL_ID = re.compile(r"^\d{17}[\dXx]$")
MSG_REASON = T("请填写查看完整号码的原因", "Say why you need the full number")
MSG_TOO_MANY = T("查看完整号码次数过多，请稍后再试", "Too many numbers revealed; try again later")


def _limiter() -> Any:
    return next(iter(current_app.extensions["limiter"]))


class Personal:
    @endpoint("/reveal/", "reveal", methods=("POST",))
    def reveal_view(self) -> Any:
        """One record's full number, for a reason, once: audited as `reveal` and limited per user."""
        columns = pii_columns(self.model)
        if not columns:
            abort(404)
        obj = self.get_one(request.form.get("id"))
        if obj is None:
            abort(404)
        name = request.form.get("field") if request.form.get("field") in columns else columns[0]
        reason = " ".join((request.form.get("reason") or "").split())[:200]
        back = url_for(".details_view", id=obj.id)
        if len(reason) < 2:
            flash(str(MSG_REASON), "error")
            return redirect(back)
        try:
            with _limiter().limit(lambda: current_app.config["PII_REVEAL_LIMIT"],
                                  key_func=lambda: f"reveal|{current_user.id}"):
                pass
        except TooManyRequests:
            audit.record_denied(self.register, obj.id, "reveal rate limit", getattr(obj, "property_id", None))
            flash(str(MSG_TOO_MANY), "error")
            return redirect(back)
        audit.record_bulk(self.session, self.register, "reveal", [
            (obj.id, getattr(obj, "property_id", None), {"field": (None, name), "reason": (None, reason)})])
        self.session.commit()
        response = Response(self.render("admin/reveal.html", model=obj, label=self.display().label(name),
                                        value=getattr(obj, name) or "", reason=reason, back=back))
        response.headers["Cache-Control"] = "no-store"
        return response

    def pii_search_clauses(self, term: str) -> list:
        """An exact full ID number, for the desk only, as a blind-index match (audited once per request)."""
        indexes = blind_indexes(self.model)
        if not indexes or not FULL_ID.match(term) or not permissions.may_search_pii(self.roles):
            return []
        key = ("pii_search", self.register, term.upper())
        if key not in g.setdefault("pii_searches", set()):
            g.pii_searches.add(key)
            audit.record_bulk(self.session, self.register, "search_pii",
                              [(None, scoping.current_property_id(), {"term": (None, mask_id(term.upper()))})])
            self.session.commit()
        digest = pii.blind(term)
        return [getattr(self.model, index) == digest for index in indexes.values()]
