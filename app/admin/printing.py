"""Printable pages a register declares, with a QR code that opens the guard's check.

A screen declares its print: `print_template` (the register's own fields), `print_parts` (the copies on the
sheet: 保安联, 存根, 原件 ...; which carries the QR, which shows ID numbers to their last four only),
`signature_boxes` (the handwritten signatures and stamps the source asks for, and on which copies),
`print_in_force` (the states in which the paper is valid: otherwise it prints "未生效" and no QR) and
`print_size` (A5 or A4, the default of `?size=`). The shared frame (print/base.html) lays out the property's
name and service phone, the parts, the boxes and the sign-offs; app/admin/checks.py checks the declarations.
Every print is recorded in the audit log (kernel.audit.record_print); a reprint says 补打 (第N次打印).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from flask import abort, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from app.admin.access import endpoint
from kernel import audit
from kernel.clock import now
from kernel.i18n import T
from kernel.workflow import SignOff

PAGE_SIZES = {"A5": "148mm 210mm", "A4": "210mm 297mm"}  # ISO 216, portrait


@dataclass(frozen=True)
class PrintPart:
    """One copy on the printed sheet, e.g. PrintPart("gate", T("保安联", "Guard's copy"), qr=True)."""
    code: str
    label: T
    qr: bool = False         # carries the QR code (shown only while the record is in force)
    last_four: bool = False  # ID numbers to their last four characters (a copy that leaves the desk)


@dataclass(frozen=True)
class SignatureBox:
    """An empty box for a handwritten signature or a stamp; `parts`: the copies it is on (empty: all)."""
    label: T
    parts: tuple[str, ...] = ()


def qr_svg(data: str) -> Markup:
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return Markup(buf.getvalue().decode())


class Printing:
    print_template: str | None = None
    print_parts: tuple[PrintPart, ...] = ()
    signature_boxes: tuple[SignatureBox, ...] = ()
    print_in_force: tuple[str, ...] = ()
    print_size: str = "A5"

    @endpoint("/print/", "details")
    def print_view(self) -> str:
        if not self.print_template:
            abort(404)
        obj = self.get_one(request.args.get("id"))
        if obj is None:
            abort(404)
        size = request.args.get("size", "").upper()
        size = size if size in PAGE_SIZES else self.print_size
        in_force = obj.state in self.print_in_force
        url = url_for("verify.check", register=self.register, number=obj.number, _external=True)
        copy = audit.record_print(self.session, obj, size)
        self.session.commit()
        parts = [(part, [b for b in self.signature_boxes if not b.parts or part.code in b.parts])
                 for part in self.print_parts]
        return render_template(self.print_template, obj=obj, view=self, show=self.display(),
                               qr=qr_svg(url) if in_force else None, verify_url=url if in_force else None,
                               in_force=in_force, parts=parts, size=size, page_size=PAGE_SIZES[size],
                               sizes=list(PAGE_SIZES), copy=copy, printed_at=now(),
                               printed_by=getattr(current_user, "username", ""), property=obj.property,
                               signatures=self.signatures(obj))

    def signatures(self, obj) -> list[SignOff]:
        """Who signed, reviewed, approved, stamped and issued, and when: the record's sign-offs, in order."""
        return list(self.session.scalars(select(SignOff).where(
            SignOff.register == self.register, SignOff.record_id == obj.id).order_by(SignOff.id)))


def declaration_problems(name: str, cls: type, model: type) -> list[str]:
    """What is wrong with a screen's print declarations (run at start-up by app/admin/checks.py)."""
    if not cls.print_template:
        return []
    out = []
    if not cls.print_parts:
        out.append(f"{name}.print_parts: a printable register declares its copies (e.g. 存根)")
    codes = [getattr(p, "code", None) for p in cls.print_parts]
    for p in cls.print_parts:
        if not isinstance(p, PrintPart):
            out.append(f"{name}.print_parts: {p!r} is not a PrintPart")
        elif p.qr and getattr(model, "verify", None) is None:
            out.append(f"{name}.print_parts[{p.code}]: a QR code opens the guard's check; the register has no verify")
    if len(set(codes)) != len(codes):
        out.append(f"{name}.print_parts: a part code is used twice")
    for box in cls.signature_boxes:
        if not isinstance(box, SignatureBox):
            out.append(f"{name}.signature_boxes: {box!r} is not a SignatureBox")
            continue
        for code in box.parts:
            if code not in codes:
                out.append(f"{name}.signature_boxes[{box.label.zh}]: '{code}' is not a print part")
    states = getattr(model, "states", None) or {}
    if not cls.print_in_force:
        out.append(f"{name}.print_in_force: name the states in which the printed paper is valid")
    for state in cls.print_in_force:
        if state not in states:
            out.append(f"{name}.print_in_force: '{state}' is not a state")
    if cls.print_size not in PAGE_SIZES:
        out.append(f"{name}.print_size: '{cls.print_size}' is not one of {', '.join(PAGE_SIZES)}")
    return out
