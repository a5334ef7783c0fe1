"""A clock control for browser tests: moves the app's own clock (kernel.clock.travel), never the system's.

Registered only when the app is testing or FRONTDESK_TEST_CLOCK is set (see app.factory); production never has
the route, so nobody can make records late (or on time) by asking.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, abort, jsonify, request

from app.extensions import csrf
from kernel import clock

bp = Blueprint("test_clock", __name__, url_prefix="/_test")


def enabled(app: Flask) -> bool:
    return bool(app.testing or app.config.get("FRONTDESK_TEST_CLOCK"))


@bp.route("/clock", methods=["POST"])
def move():
    raw = request.form.get("minutes") or request.args.get("minutes") or ""
    if not raw.lstrip("-").isdigit() or abs(int(raw)) > 366 * 24 * 60:
        abort(400)
    clock.travel(timedelta(minutes=int(raw)))
    return jsonify(now=clock.now().isoformat(sep=" "), offset_minutes=int(raw))


def install(app: Flask) -> None:
    if enabled(app):
        csrf.exempt(bp)
        app.register_blueprint(bp)
