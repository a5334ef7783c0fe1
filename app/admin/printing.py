"""Printable pages a register declares (`print_template`), with a QR code that opens the guard's check."""
from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from flask import abort, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from app.admin.access import endpoint
from kernel.workflow import SignOff


def qr_svg(data: str) -> Markup:
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return Markup(buf.getvalue().decode())


class Printing:
    print_template: str | None = None

    @endpoint("/print/", "details")
    def print_view(self) -> str:
        if not self.print_template:
            abort(404)
        obj = self.get_one(request.args.get("id"))
        if obj is None:
            abort(404)
        url = url_for("verify.check", register=self.register, number=obj.number, _external=True)
        return render_template(self.print_template, obj=obj, view=self, show=self.display(), qr=qr_svg(url),
                               verify_url=url, signatures=self.signatures(obj))

    def signatures(self, obj) -> list[SignOff]:
        """Who signed, reviewed, approved, stamped and issued, and when: the record's sign-offs, in order."""
        return list(self.session.scalars(select(SignOff).where(
            SignOff.register == self.register, SignOff.record_id == obj.id).order_by(SignOff.id)))
