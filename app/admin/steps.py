"""Workflow steps on screens: the step buttons and forms of a details page, and the list's bulk actions.

Both paths ask the same `kernel.workflow.refusal()`; a step form is built by the same scoped field factory as
the create and edit forms, carries the row version, and refuses an out-of-scope id like they do.
"""
from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin.actions import action
from flask_admin.contrib.sqla.form import get_form
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from app.admin.access import endpoint
from app.admin.attachments import read_uploads
from app.admin.forms import SecureForm, refuse_out_of_scope
from kernel import attachments, audit, permissions, scoping
from kernel.attachments import AttachmentError
from kernel.audit import AuditLog
from kernel.i18n import T
from kernel.register import pii_columns
from kernel.workflow import SignOff, Transition, WorkflowError, fire, fire_set, refusal

HISTORY_ROWS = 200
REPORTED_SKIPS = 50
MSG_STEP_NOT_SAVED = _l("未办理：记录的资料不完整或超出范围，请先补全记录后再办理")
MSG_STALE_STEP = _l("该记录已被他人修改，请刷新页面后再办理")


def local_target(target: str | None) -> str | None:
    return target if target and target.startswith("/") and not target.startswith("//") else None


def report(done: int, skipped: list) -> None:
    flash(gettext("完成 %(done)d 条，跳过 %(skipped)d 条", done=done, skipped=len(skipped)),
          "success" if done else "warning")
    for obj, why in skipped[:REPORTED_SKIPS]:
        flash(f"{getattr(obj, 'number', None) or obj.id}: {why}", "warning")


class Steps:
    action_operations: dict[str, str] = {}  # a custom list action -> the operation it needs

    def _declare_steps(self, model: type) -> None:
        self._step_forms: dict[str, type] = {}
        for name, t in model.transitions.items():
            if t.bulk:
                self._actions.append((name, T(f"批量{t.label.zh}", f"{t.label.en} selected")))
                self._actions_data[name] = (self._bulk_handler(name), t.label, T(
                    f"确定对所选记录执行“{t.label.zh}”？", f"{t.label.en} the selected records?"))

    def _bulk_handler(self, name: str):
        def handler(ids: list[str]) -> None:
            done, skipped = self.fire_many(name, ids, request.form.get("comment", ""))
            report(done, skipped)
        return handler

    def is_action_allowed(self, name: str) -> bool:
        if name == "delete":
            return self.allowed("delete")
        if name in self.action_operations:
            return self.allowed(self.action_operations[name])
        return self.allowed(f"transition:{name}")

    @endpoint("/action/", "self", methods=("POST",))
    def action_view(self) -> Response:
        name = request.form.get("action", "")
        if name not in self._actions_data or not self.is_action_allowed(name):
            abort(403)
        return self.handle_action()

    @action("delete", _l("删除"), _l("确定删除所选记录？"))
    def action_delete(self, ids: list[str]) -> None:
        """Each row asked like a single delete; a row others point at is skipped, the rest are deleted."""
        done, skipped = 0, []
        for obj in self.rows_for(ids):
            why = self.delete_refusal(obj)
            if why is not None:
                skipped.append((obj, why))
                continue
            nested = self.session.begin_nested()
            try:
                self.session.delete(obj)
                self.session.flush()
                nested.commit()
                done += 1
            except IntegrityError:
                nested.rollback()
                skipped.append((obj, T("该记录已被其他记录引用，不能删除；请改为停用",
                                       "Other records point at this one: switch it off instead")))
        self.session.commit()
        report(done, skipped)

    def rows_for(self, ids: list[str]) -> list:
        """The posted ids that exist in the current property; the others are audited as refused."""
        wanted = {int(i) for i in ids if str(i).isdigit() and len(str(i)) <= 18}
        rows = self.get_query().filter(self.model.id.in_(wanted)).all() if wanted else []
        missing = wanted - {r.id for r in rows}
        targets = dict(self.session.execute(select(self.model.id, self.model.property_id).where(
            self.model.id.in_(missing))).all()) if missing and hasattr(self.model, "property_id") else {}
        for rid in missing:  # kept with the property it targeted, so that property's supervisor sees it
            audit.record_denied(self.register, rid, "action on a record outside scope", targets.get(rid))
        if missing or len(wanted) < len(ids):
            flash(gettext("%(n)d 条记录不存在或不属于当前项目，已忽略", n=len(ids) - len(rows)), "error")
        return rows

    def fire_many(self, name: str, ids: list[str], comment: str = "") -> tuple[int, list]:
        t = self.model.transitions[name]
        rows = self.rows_for(ids)
        if t.state_only and not t.together_with:
            done, skipped = fire_set(self.session, self.model, name, rows, current_user, scoping.roles_at, comment)
            self.session.commit()
            self.session.expire_all()
            return done, skipped
        done, skipped = 0, []
        for obj in rows:
            nested = self.session.begin_nested()
            try:
                fire(obj, name, current_user, scoping.roles_at(obj.property_id), self.session, comment)
                nested.commit()
                done += 1
            except WorkflowError as ex:
                nested.rollback()
                skipped.append((obj, ex.message))
            except (IntegrityError, DataError, OverflowError):
                nested.rollback()
                skipped.append((obj, MSG_STEP_NOT_SAVED))
        self.session.commit()
        return done, skipped

    def step_form(self, t: Transition) -> type:
        """The step's own form: its fields from the same scoped factory as the create/edit forms."""
        if t.name not in self._step_forms:
            self._step_forms[t.name] = get_form(self.model, self.model_form_converter(self.session, self),
                                                base_class=SecureForm, only=list(t.fields), field_args=self.form_args)
        return self._step_forms[t.name]

    @endpoint("/transition/<step>/", "self", methods=("POST",))
    def transition_view(self, step: str) -> Response:
        t = self.model.transitions.get(step)
        if t is None or t.system or not self.allowed(f"transition:{step}"):
            abort(403)
        obj = self.get_one(request.form.get("id"))
        if obj is None:
            abort(404)
        back = local_target(request.form.get("next")) or url_for(".details_view", id=obj.id)
        if self.stale(obj, request.form.get("row_version")):
            flash(str(MSG_STALE_STEP), "error")
            return redirect(back)
        data = {}
        if t.fields:
            form = self.step_form(t)(request.form)
            if (why := refuse_out_of_scope(self.register, obj, form)) is not None:
                flash(str(why), "error")
                return redirect(back)
            if not form.validate():
                for fname, errs in form.errors.items():
                    flash(f"{self.column_labels.get(fname, fname)}: {'; '.join(map(str, errs))}", "error")
                return redirect(back)
            data = {f: getattr(form, f).data for f in t.fields}
        try:
            uploads = read_uploads(self.step_documents(obj, step))  # every file checked before any is written
            self.store_uploads(obj, uploads)
            fire(obj, step, current_user, self.roles, self.session, request.form.get("comment", ""), data)
            self.session.commit()
            attachments.keep_pending()
            flash(str(t.done_label), "success")
        except AttachmentError as ex:
            self.session.rollback()
            flash(str(ex.message), "error")
        except WorkflowError as ex:
            self.session.rollback()
            flash(str(ex.message), "error")
        except StaleDataError:
            self.session.rollback()
            flash(str(MSG_STALE_STEP), "error")
        except (IntegrityError, DataError, OverflowError):  # a value only the database refuses: nothing is kept
            self.session.rollback()
            flash(str(MSG_STEP_NOT_SAVED), "error")
        return redirect(back)

    def details_extras(self, model: Any) -> dict:
        history = self.session.scalars(
            select(AuditLog).where(AuditLog.register == self.register, AuditLog.record_id == model.id)
            .order_by(AuditLog.id.desc()).limit(HISTORY_ROWS)).all()
        signoffs, steps, forms = [], [], {}
        if model.transitions:
            signoffs = self.session.scalars(select(SignOff).where(
                SignOff.register == self.register, SignOff.record_id == model.id).order_by(SignOff.id)).all()
            for t in model.transitions.values():
                if model.state in t.source and not t.system and self.allowed(f"transition:{t.name}"):
                    has_form = bool(t.fields) or bool(self.step_documents(model, t.name))
                    steps.append((t, refusal(model, t, current_user, self.roles, self.session,
                                             before_its_form=has_form)))
                    if t.fields:
                        forms[t.name] = self.step_form(t)(obj=model)
        reveal = [(name, self.display().label(name)) for name in pii_columns(self.model)
                  if getattr(model, name, None)] if self.allowed("reveal") else []
        extras = self.attachment_extras(model)
        extras["step_documents"] = self.step_uploads(model, steps)
        return dict(history=history, signoffs=signoffs, steps=steps, step_forms=forms,
                    late=self.overdue_badges(model), pii=permissions.may_see_pii(self.roles),
                    secure_form=SecureForm(), reveal_fields=reveal, **extras)
