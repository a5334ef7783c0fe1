"""The guard's check: a pass number typed or scanned (its QR code opens /verify/<register>/<number>).

Which registers can be checked, what the check shows and which step the guard may take there are declared
on each model (`verify = Verify(...)`); this page names no register.
"""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from kernel import permissions, scoping
from kernel.db import db
from kernel.display import Display
from kernel.register import VERDICTS, registers
from kernel.workflow import refusal

bp = Blueprint("verify", __name__, url_prefix="/verify")


def verifiable() -> dict[str, type]:
    return {name: model for name, model in registers().items() if model.verify is not None}


@bp.route("/", methods=["GET"])
@login_required
def index():
    number = (request.args.get("number") or "").strip()[:40]
    if number:
        for register, model in verifiable().items():
            if db.session.scalar(scoping.scope(select(model.id).where(model.number == number), model)):
                return redirect(url_for("verify.check", register=register, number=number))
    return render_template("verify.html", obj=None, number=number, searched=bool(number))


@bp.route("/<register>/<number>")
@login_required
def check(register, number):
    model = verifiable().get(register)
    if model is None:
        abort(404)
    roles = scoping.current_roles()
    if not roles:
        abort(403)
    obj = db.session.scalar(scoping.scope(select(model).where(model.number == number[:40]), model))
    if obj is None:
        return render_template("verify.html", obj=None, number=number, searched=True), 404
    current = obj
    while getattr(current, "superseded_by", None) is not None:
        current = current.superseded_by
    show = Display(model, roles, db.session)
    step = obj.transitions.get(obj.verify.guard_step) if obj.verify.guard_step else None
    can_take = (step is not None and permissions.allowed(roles, register, f"transition:{step.name}")
                and refusal(obj, step, current_user, roles, db.session) is None)
    fields = [(show.label(f), show.attr(obj, f)) for f in obj.verify.shown]
    return render_template("verify.html", obj=obj, register=register, verdict=obj.verdict,
                           verdict_label=VERDICTS[obj.verdict], current=current if current is not obj else None,
                           current_label=VERDICTS[current.verdict] if current is not obj else None,
                           fields=fields, step=step if can_take else None, number=number, searched=True)
