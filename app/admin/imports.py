"""Import from a spreadsheet with a preview: upload -> preview -> confirm, under each register that declares
`importable` (kernel.imports does the reading, diffing and writing).

The uploaded file is kept server-side under IMPORTS_DIR by its sha256; the preview stores a small ticket
(who, which property and register, file name, the plan's digest) under a random token. Confirm posts only the
token: the server re-reads its own copy, plans again and refuses when anything changed since the preview.
All rows are written in one transaction, or none.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import InvalidToken
from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from app.admin.access import endpoint
from kernel import imports, pii, scoping
from kernel.clock import now
from kernel.i18n import T

SHOWN_ROWS = 500  # rows of each kind listed in the preview; the counts cover every row
TOKEN = re.compile(r"^[0-9a-f]{32}$")
TICKET_HOURS = 12

MSG_NO_FILE = T("请选择要导入的文件（.xlsx 或 .csv）", "Choose a file to import (.xlsx or .csv)")
MSG_PICK_PROPERTY = T("请先在页头选择一个项目", "Choose a property in the header first")
MSG_EXPIRED = T("预览已失效，请重新上传文件", "The preview has expired: upload the file again")
MSG_CHANGED = T("预览之后数据已有变化，请重新预览后再确认", "The data changed since the preview: preview again")
MSG_HAS_ERRORS = T("文件中有错误的行，未导入任何数据；请改正后重新上传",
                   "The file has rows in error; nothing was imported. Correct them and upload again")


class Importing:
    """Mixed into RegisterView: the register's import screens, reached with the `import` operation."""

    import_template = "admin/import.html"

    @property
    def can_import(self) -> bool:
        return getattr(self.model, "importable", None) is not None and self.allowed("import")

    def _importable(self) -> int:
        if getattr(self.model, "importable", None) is None:
            abort(404)
        pid = scoping.current_property_id()
        if pid is None or pid < 0:
            flash(str(MSG_PICK_PROPERTY), "error")
            abort(redirect(url_for(".index_view")))
        return pid

    @staticmethod
    def _store() -> Path:
        path = Path(current_app.config["IMPORTS_DIR"])
        path.mkdir(parents=True, exist_ok=True)
        return path

    @endpoint("/import/template/", "import")
    def import_template_view(self) -> Response:
        self._importable()
        body = imports.template(self.model)
        name = f"{self.model.__label__.zh}导入模板.xlsx"
        response = Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response.headers["Content-Disposition"] = (f"attachment; filename=\"{self.register}-template.xlsx\"; "
                                                   f"filename*=UTF-8''{_quote(name)}")
        return response

    @endpoint("/import/", "import", methods=("GET", "POST"))
    def import_view(self) -> Any:
        pid = self._importable()
        if request.method == "GET":
            return self._page()
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(str(MSG_NO_FILE), "error")
            return self._page()
        data = upload.stream.read(imports.MAX_BYTES + 1)
        filename = os.path.basename(upload.filename.replace("\\", "/"))[:200]
        try:
            plan = imports.plan(self.session, self.model, pid, data)
        except imports.ImportRefused as ex:
            self.session.rollback()
            flash(str(ex.message), "error")
            return self._page(filename=filename)
        self.session.rollback()  # a preview writes nothing, not even by accident
        token, digest = self.keep_upload(data, filename, pid, plan.digest)
        return self._page(plan=plan, token=token, filename=filename, sha256=digest)

    def keep_upload(self, data: bytes, filename: str, pid: int, plan_digest: str, **extra: Any) -> tuple[str, str]:
        """The file under its sha256, encrypted (it holds ID numbers and phones), and a ticket for this user,
        property and register: (token, sha256). Files and tickets older than TICKET_HOURS go first."""
        self._purge_old()
        digest = imports.sha256(data)
        (self._store() / digest).write_bytes(pii.encrypt_bytes(data))
        token = secrets.token_hex(16)
        ticket = dict(user=current_user.id, property=pid, register=self.register, file=filename, sha256=digest,
                      plan=plan_digest, at=now().isoformat(), **extra)
        (self._store() / f"{token}.json").write_text(json.dumps(ticket))
        return token, digest

    def kept_upload(self, token: str, pid: int) -> tuple[dict, bytes] | None:
        """The ticket and the file as uploaded, or None (expired, someone else's, altered on disk)."""
        ticket = self._ticket(token, pid)
        if ticket is None:
            return None
        try:
            data = pii.decrypt_bytes((self._store() / ticket["sha256"]).read_bytes())
        except (OSError, InvalidToken):
            return None
        return (ticket, data) if imports.sha256(data) == ticket["sha256"] else None

    def drop_ticket(self, token: str) -> None:
        """After a confirm: the ticket and the file go (another user's preview of the same file re-uploads it)."""
        ticket = self._ticket(token, scoping.current_property_id() or -1) if TOKEN.match(token) else None
        if ticket is not None:
            (self._store() / ticket["sha256"]).unlink(missing_ok=True)
            (self._store() / f"{token}.json").unlink(missing_ok=True)

    def _purge_old(self) -> None:
        limit = time.time() - TICKET_HOURS * 3600
        for path in self._store().iterdir():
            try:
                if path.stat().st_mtime < limit:
                    path.unlink(missing_ok=True)
            except OSError:
                continue

    @endpoint("/import/confirm/", "import", methods=("POST",))
    def import_confirm_view(self) -> Any:
        pid = self._importable()
        token = request.form.get("token") or ""
        kept = self.kept_upload(token, pid)
        if kept is None:
            flash(str(MSG_EXPIRED), "error")
            return redirect(url_for(".import_view"))
        ticket, data = kept
        back = redirect(url_for(".import_view"))
        try:
            plan = imports.plan(self.session, self.model, pid, data)  # re-validated at this moment
            if plan.counts["error"]:
                raise imports.ImportRefused(MSG_HAS_ERRORS)
            if plan.digest != ticket["plan"]:
                raise imports.ImportRefused(MSG_CHANGED)
            counts = imports.apply(self.session, self.model, pid, plan, ticket["file"], ticket["sha256"])
            self.session.commit()
        except imports.ImportRefused as ex:
            self.session.rollback()
            flash(str(ex.message), "error")
            return back
        except StaleDataError:  # changed by someone else between the re-validation and the write
            self.session.rollback()
            flash(str(MSG_CHANGED), "error")
            return back
        except imports.RowFailed as ex:
            self.session.rollback()
            flash(str(T(f"第 {ex.line} 行被数据库拒绝（{ex.reason}），未导入任何数据",
                        f"Row {ex.line} was refused by the database ({ex.reason}); nothing was imported")), "error")
            return back
        self.drop_ticket(token)
        flash(str(T(f"已导入：新增 {counts['new']} 条，修改 {counts['changed']} 条，不变 {counts['unchanged']} 条",
                    f"Imported: {counts['new']} new, {counts['changed']} changed, {counts['unchanged']} unchanged")),
              "success")
        return redirect(url_for(".index_view"))

    def _ticket(self, token: str, pid: int) -> dict | None:
        """The preview's ticket, only for the user, property and register that made it, and only for a while."""
        if not TOKEN.match(token):
            return None
        path = self._store() / f"{token}.json"
        try:
            ticket = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if (ticket.get("user"), ticket.get("property"), ticket.get("register")) != (current_user.id, pid,
                                                                                  self.register):
            return None
        digest = str(ticket.get("sha256"))
        if not re.fullmatch(r"[0-9a-f]{64}", digest) or not (self._store() / digest).exists():
            return None
        age = now() - type(now()).fromisoformat(ticket["at"])
        return ticket if age.total_seconds() < TICKET_HOURS * 3600 else None

    def _page(self, plan: imports.Plan | None = None, **kw: Any) -> Any:
        cols = imports.columns_of(self.model)
        show = self.display()
        shown: list = []
        if plan is not None:
            left = {s: SHOWN_ROWS for s in imports.STATUS}
            for row in sorted(plan.rows, key=lambda r: ("error", "changed", "new", "unchanged").index(r.status)):
                if left[row.status] > 0:
                    left[row.status] -= 1
                    shown.append(self._preview_row(row, plan, show))
        decl = self.model.importable
        keys = " 或 ".join("+".join(str(next(c for c in cols if (c.link or c.name) == n).label) for n in alt)
                          for alt in decl.keys)
        return self.render(self.import_template, plan=plan, rows=shown, columns=cols, keys=keys,
                           statuses=imports.STATUS, limit=SHOWN_ROWS, max_rows=imports.MAX_ROWS,
                           upload_url=url_for(".import_view"), confirm_url=url_for(".import_confirm_view"),
                           template_url=url_for(".import_template_view"), back_url=None, **kw)

    @staticmethod
    def _preview_row(row: imports.Row, plan: imports.Plan, show: Any) -> dict:
        """A preview line as text through the register's Display (ID numbers masked for everyone)."""
        labels = {c.name: c.label for c in plan.columns}
        virtual = {c.name: c.virtual.show for c in plan.columns if c.virtual is not None}

        def text(name: str, value: Any) -> str:
            return virtual[name](value or ()) if name in virtual else show.value(name)(value)
        values = [(str(labels.get(n, n)), text(n, v)) for n, v in row.values.items()]
        changes = [(str(labels.get(n, n)), text(n, a), text(n, b)) for n, (a, b) in row.changes.items()]
        return dict(line=row.line, status=row.status, cells=values, changes=changes, errors=row.errors)


def _quote(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "".join(
        f"%{b:02X}" for b in c.encode()) for c in name)
