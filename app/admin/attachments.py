"""Attachments on screens: upload on the create/edit form and on a step's form, thumbnails on the details page, the
one guarded endpoint that serves a file, and removal — each through the register's grants, property scope and lock,
and each in the audit log (kernel.attachments holds the rules; this is the web side).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import abort, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms import MultipleFileField

from app.admin.access import endpoint
from kernel import attachments, audit
from kernel.attachments import Attachment, AttachmentError, Document, Prepared
from kernel.i18n import T

MSG_LOCKED_FILES = _l("该记录已签发/已完结，附件只能查看，不能删除或更换")
MSG_REMOVED = _l("附件已删除")
MSG_PERSONAL = _l("该附件含个人信息，您的角色无权查看")
MAX_FILES = 10  # per document kind and request
MSG_TOO_MANY = T(f"一次最多上传 {MAX_FILES} 个文件", f"At most {MAX_FILES} files at once")
IMAGE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"


class DocumentWidget:
    """Two inputs for one kind of document: the camera of a phone or tablet, and a file (a scanner's PDF)."""

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        name = escape(field.name)
        return Markup(
            f'<div class="fd-upload" data-kind="{name}">'
            f'<label class="btn btn-sm btn-outline-secondary mb-1 mr-2">{escape(_l("拍照"))} '
            f'<input type="file" name="{name}" accept="image/*" capture="environment" multiple '
            f'class="d-block"></label>'
            f'<label class="btn btn-sm btn-outline-secondary mb-1">{escape(_l("选择文件(图片或PDF)"))} '
            f'<input type="file" name="{name}" accept="{attachments.ACCEPT}" multiple class="d-block"></label>'
            f"</div>")


class DocumentField(MultipleFileField):
    """Files for one declared document; never written onto the record by populate_obj (stored separately)."""

    widget = DocumentWidget()

    def populate_obj(self, obj: Any, name: str) -> None:
        return None


def field_name(kind: str) -> str:
    return f"doc_{kind}"


def uploaded(kind: str) -> list[FileStorage]:
    """The files posted for one kind (an empty file input posts one nameless, empty part: skipped)."""
    return [f for f in request.files.getlist(field_name(kind)) if f is not None and (f.filename or "") != ""]


def read_uploads(documents: list[Document]) -> list[Prepared]:
    """Every posted file of these kinds checked and re-encoded, or AttachmentError for the first bad one."""
    out = []
    limit = attachments.max_bytes()
    for doc in documents:
        files = uploaded(doc.kind)
        if len(files) > MAX_FILES:
            raise AttachmentError(MSG_TOO_MANY)
        for f in files:
            data = f.stream.read(limit + 1)
            try:
                out.append(attachments.prepare(doc.kind, f.filename, data, limit))
            except AttachmentError as ex:
                raise AttachmentError(T(f"{doc.label.zh}“{(f.filename or '')[:40]}”：{ex.message.zh}",
                                         f"{doc.label.en} “{(f.filename or '')[:40]}”: {ex.message.en}")) from ex
    return out


class Attachments:
    """Mixed into RegisterView."""

    @property
    def documents(self) -> tuple[Document, ...]:
        return attachments.documents_of(self.model)

    def document_flags(self) -> set[str]:
        return {d.flag for d in self.documents if d.flag}

    def scaffold_form(self) -> Any:
        form_class = super().scaffold_form()
        for d in self.documents:
            setattr(form_class, field_name(d.kind), DocumentField(d.label))
        return form_class

    # ---------------------------------------------------------------- writes (called by RegisterView._apply)
    def read_form_uploads(self) -> list[Prepared]:
        return read_uploads(list(self.documents)) if self.documents else []

    def store_uploads(self, model: Any, prepared: list[Prepared]) -> None:
        if prepared:
            attachments.store(self.session, model, prepared, current_user.id)

    def step_documents(self, model: Any, step: str) -> list[Document]:
        return [d for d in self.documents if d.required_for(model, step)]

    # ---------------------------------------------------------------- reading
    def may_see_document(self, doc: Document | None) -> bool:
        """ID copies and photos only to roles that may see the register's personal data."""
        return doc is None or not doc.personal or self.allowed("reveal")

    def attachment_of(self, aid: int) -> tuple[Attachment, Any]:
        """The attachment and its record, in scope, or 404 (another property's file: a `denied` row too)."""
        row = self.session.get(Attachment, aid)
        if row is None or row.register != self.register:
            abort(404)
        record = self.get_one(row.record_id)  # other property / rows hidden from the role: denied + 404
        if record is None:
            abort(404)
        return row, record

    @endpoint("/attachment/<int:aid>/", "details")
    def attachment_view(self, aid: int) -> Response:
        row, record = self.attachment_of(aid)
        doc = attachments.document(self.model, row.kind)
        if not self.may_see_document(doc):
            audit.record_denied(self.register, record.id, "personal document", row.property_id)
            abort(403)
        thumb = request.args.get("thumb") == "1" and row.thumb_key
        key = row.thumb_key if thumb else row.storage_key
        try:
            data = attachments.storage().get(key)
        except (FileNotFoundError, OSError):
            abort(404)
        audit.record_bulk(self.session, self.register, "view_attachment", [
            (record.id, row.property_id, {"file": (None, row.name), "kind": (None, row.kind),
                                          "attachment": (None, row.id), "size": (None, "thumb" if thumb else "full")})])
        self.session.commit()
        content_type = "image/jpeg" if thumb else row.content_type
        ext = attachments.EXTENSIONS.get(attachments.sniff(data) or "", "bin")
        response = Response(data, mimetype=content_type)
        response.headers["Content-Disposition"] = (
            f"inline; filename=\"attachment-{row.id}.{ext}\"; filename*=UTF-8''{quote(row.name)}")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        if content_type.startswith("image/"):
            response.headers["Content-Security-Policy"] = IMAGE_CSP
        else:  # the browser's own PDF viewer: no script of ours, not framed by another site
            response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
            response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response

    @endpoint("/attachment/<int:aid>/delete/", "edit", methods=("POST",))
    def attachment_delete_view(self, aid: int) -> Response:
        row, record = self.attachment_of(aid)
        back = url_for(".details_view", id=record.id)
        why = MSG_LOCKED_FILES if self.locked(record) else self.personal_refusal(record)
        if why is None and not self.may_see_document(attachments.document(self.model, row.kind)):
            why = MSG_PERSONAL
        if why is not None:
            audit.record_denied(self.register, record.id, "attachment of a locked record", row.property_id)
            flash(str(why), "error")
            return redirect(back)
        attachments.remove(self.session, row)
        attachments.sync_flags(self.session, record)
        self.session.commit()
        attachments.delete_stored([row])
        flash(str(MSG_REMOVED), "success")
        return redirect(back)

    def files_here(self, model: Any) -> list:
        return attachments.record_files(self.session, self.register, model.id)

    def attachment_extras(self, model: Any) -> dict:
        if not self.documents:
            return dict(files=[], documents=(), step_documents={})
        rows = self.files_here(model)
        files = []
        for row in rows:
            doc = attachments.document(self.model, row.kind)
            files.append(dict(row=row, label=doc.label if doc else row.kind, personal=bool(doc and doc.personal),
                              visible=self.may_see_document(doc)))
        present = {r.kind for r in rows}
        docs = [dict(doc=d, present=d.kind in present) for d in self.documents]
        return dict(files=files, documents=docs, may_remove=self.allowed("edit") and not self.locked(model),
                    step_documents={})

    def step_uploads(self, model: Any, steps: list) -> dict:
        """{step: [documents to upload on its form]}: the step's required documents the record still lacks."""
        if not self.documents:
            return {}
        present = {r.kind for r in self.files_here(model)}
        out = {}
        for t, _why in steps:
            wanted = [d for d in self.step_documents(model, t.name) if d.kind not in present]
            if wanted:
                out[t.name] = wanted
        return out
