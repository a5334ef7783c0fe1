"""Printable pass pages with a QR code, and the verification page a guard reaches by scanning it."""
import io

import qrcode
import qrcode.image.svg
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_admin import expose
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import select

from app import scoping
from app.extensions import db
from app.i18n import T
from models.base import model_for

bp = Blueprint("verify", __name__, url_prefix="/verify")
VERDICT = {"valid": T("有效", "Valid"), "expired": T("已过期", "Expired"), "superseded": T("已换发", "Superseded"),
           "void": T("作废/未签发", "Void / not issued"), "used": T("已放行(已使用)", "Exited (used)")}
VERIFIABLE = ("goods_pass", "worker_pass", "hot_work_permit")


def qr_svg(data: str) -> Markup:
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return Markup(buf.getvalue().decode())


class Printable:
    """Opt-in for a register view: `print_template = "print/x.html"` adds /print/?id= (needs 'details')."""

    print_template: str | None = None

    @expose("/print/")
    def print_view(self):
        if not self.print_template:
            abort(404)
        obj = self.get_one(request.args.get("id"))
        if obj is None:
            abort(404)
        url = url_for("verify.check", register=self.register, number=obj.number, _external=True)
        return render_template(self.print_template, obj=obj, view=self, qr=qr_svg(url), verify_url=url)



@bp.route("/", methods=["GET"])
@login_required
def index():
    number = (request.args.get("number") or "").strip()
    if number:
        for register in VERIFIABLE:
            model = model_for(register)
            if db.session.scalar(scoping.scope(select(model.id).where(model.number == number), model)):
                return redirect(url_for("verify.check", register=register, number=number))
    return render_template("verify.html", obj=None, number=number, searched=bool(number))


@bp.route("/<register>/<number>")
@login_required
def check(register, number):
    if register not in VERIFIABLE or not scoping.current_roles():
        abort(404 if register not in VERIFIABLE else 403)
    model = model_for(register)
    obj = db.session.scalar(scoping.scope(select(model).where(model.number == number), model))
    if obj is None:
        return render_template("verify.html", obj=None, number=number, searched=True), 404
    current = obj
    while getattr(current, "superseded_by", None) is not None:
        current = current.superseded_by
    can_exit = register == "goods_pass" and obj.state == "issued" and "guard" in scoping.current_roles()
    return render_template("verify.html", obj=obj, register=register, verdict=obj.verification,
                           verdict_label=VERDICT[obj.verification], current=current if current is not obj else None,
                           can_exit=can_exit, number=number, searched=True)
