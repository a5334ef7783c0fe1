"""Duty screens: roster month grid, duty log reading, daily summary; the rest is declaration."""
import calendar
import io
from datetime import date, timedelta
from types import SimpleNamespace

import openpyxl
from flask import Response, abort, flash, g, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup, escape
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    String,
    Text,
    Time,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)

from app.admin import RegisterView, SignedInPage, endpoint, statements
from kernel import audit, imports, permissions, scoping
from kernel.audit import AuditLog
from kernel.clock import now, start_of, today
from kernel.db import db
from kernel.deadlines import overdue_clause, overdue_for
from kernel.display import Display
from kernel.i18n import T
from kernel.identity import Membership, Property, Role, StaffUser
from kernel.permissions import VIEW
from kernel.register import summary_date_of
from kernel.validators import business_day
from models.duty import (
    DutyLog,
    DutyLogReading,
    Handover,
    QualityCheck,
    Roster,
    RosterAssignment,
    apply_grid,
    grid_plan,
    open_records,
    roster_due,
)
from models.master import Shift

OPEN_DAY = "open_day"  # the audit row of a supervisor opening a day's duty log (4.2.5: 查阅)


class RosterView(RegisterView):
    details_template = "admin/roster_details.html"
    column_list = ("month", "state", "due_at", "submitted_at", "note")
    column_filters = ("state", "month")
    form_excluded_columns = ("due_at", "submitted_at", "assignments")
    column_formatters = {"month": lambda v, c, m, n: f"{m.month:%Y-%m}"}

    def staff_of_desk(self, property_id):
        q = (select(StaffUser).join(Membership, Membership.user_id == StaffUser.id).join(Role)
             .where(Membership.property_id == property_id, Role.code.in_(("clerk", "cs_admin")), StaffUser.active)
             .distinct().order_by(StaffUser.id))
        return db.session.scalars(q).all()

    @endpoint("/grid/", "details", methods=("GET", "POST"))
    def grid_view(self):
        """The month as a grid (staff x day -> shift), saved in one transaction (saving needs 'edit').

        填充 (a pattern across the month for a person) and 复制上月 (last month's roster) only fill the grid on
        the page from what was posted, unsaved: 保存排班 saves it through the one save path below.
        """
        roster = self.get_one(request.args.get("id"))
        if roster is None:
            abort(404)
        editable = self.allowed("edit") and not roster.is_locked
        days = [
            roster.month + timedelta(days=i)
            for i in range(calendar.monthrange(roster.month.year, roster.month.month)[1])
        ]
        staff = self.staff_of_desk(roster.property_id)
        shifts = db.session.scalars(select(Shift).where(Shift.property_id == roster.property_id, Shift.active)
                                    .order_by(Shift.starts_at)).all()
        cells = {(a.staff_id, a.day): a for a in roster.assignments}
        chosen = {key: a.shift_id for key, a in cells.items()}
        errors = []
        proposed = False
        if request.method == "POST":
            if not editable:
                abort(403)
            shift_ids, staff_ids = {s.id for s in shifts}, {s.id for s in staff}
            wanted = {}
            for key, value in request.form.items():
                if not key.startswith("c_"):
                    continue
                try:
                    _, sid, iso = key.split("_", 2)
                    sid, day = int(sid), date.fromisoformat(iso)
                except ValueError:
                    errors.append(gettext("无法识别的格子 %(key)s", key=key))
                    continue
                if sid not in staff_ids or day not in days:
                    errors.append(gettext("格子不属于本月/本项目：%(key)s", key=key))
                elif value and (not value.isdigit() or int(value) not in shift_ids):
                    errors.append(gettext("未知班次：%(value)s", value=value))
                else:
                    wanted[(sid, day)] = int(value) if value else None
            if not errors and ("fill" in request.form or "copy" in request.form):
                chosen = {**chosen, **wanted}
                proposal = (self._fill_pattern(staff, shifts, days) if "fill" in request.form
                            else self._copy_last_month(roster, staff, shifts, days))
                if isinstance(proposal, dict):
                    chosen.update(proposal)
                    proposed = True
                    flash(gettext("已填入表格，尚未保存：核对后请点“保存排班”"), "info")
                else:
                    errors.append(proposal)
            elif not errors:
                roster.on_edit(db.session, current_user)  # changed after the review: back to draft
                for key, shift_id in wanted.items():
                    cell = cells.get(key)
                    if shift_id is None and cell is not None:
                        db.session.delete(cell)
                    elif shift_id is not None and cell is None:
                        db.session.add(RosterAssignment(roster_id=roster.id, property_id=roster.property_id,
                                                        staff_id=key[0], day=key[1], shift_id=shift_id))
                    elif cell is not None and cell.shift_id != shift_id:
                        cell.shift_id = shift_id
                db.session.commit()
                flash(gettext("排班已保存"), "success")
                return redirect(url_for(".grid_view", id=roster.id))
            for e in errors[:20]:
                flash(e, "error")
        staff_ids = {s.id for s in staff}
        coverage = {(day, sh.id): 0 for day in days for sh in shifts}
        for (sid, day), shift_id in chosen.items():
            if shift_id is not None and sid in staff_ids and (day, shift_id) in coverage:
                coverage[(day, shift_id)] += 1
        unstaffed = [(day, sh) for day in days for sh in shifts if not coverage[(day, sh.id)]]
        return self.render("admin/roster_grid.html", roster=roster, days=days, staff=staff, shifts=shifts,
                           chosen=chosen, editable=editable, coverage=coverage, unstaffed=unstaffed,
                           proposed=proposed, pattern=request.form.get("pattern", ""),
                           fill_staff=request.form.get("fill_staff", ""),
                           fill_from=request.form.get("fill_from", "1"))

    @staticmethod
    def _fill_pattern(staff, shifts, days):
        """{(staff, day): shift} for 早早中中晚晚休 repeated from a day to the month's end, or why not.

        A letter is a shift's first character (早班 -> 早; two shifts sharing one are not offered); 休 or - is off."""
        sid = request.form.get("fill_staff", "")
        person = next((s for s in staff if str(s.id) == sid), None)
        if person is None:
            return gettext("请选择要填充排班的人员")
        pattern = "".join((request.form.get("pattern") or "").split())[:62]
        if not pattern:
            return gettext("请填写排班规律，例如“早早中中晚晚休”")
        by_letter = {}
        for sh in shifts:
            by_letter.setdefault(sh.name[:1], set()).add(sh.id)
        letters = {k: next(iter(v)) for k, v in by_letter.items() if len(v) == 1}
        letters.update({"休": None, "-": None})
        unknown = sorted({ch for ch in pattern if ch not in letters})
        if unknown:
            names = "、".join(f"{k}={sh.name}" for sh in shifts for k in [sh.name[:1]] if k in letters)
            return gettext("排班规律中有无法识别的字：%(chars)s（可用：%(names)s、休）", chars="".join(unknown),
                           names=names)
        raw = request.form.get("fill_from", "1")
        start = int(raw) if raw.isdigit() and 1 <= int(raw) <= len(days) else 1
        return {(person.id, day): letters[pattern[i % len(pattern)]]
                for i, day in enumerate(days[start - 1:])}

    @staticmethod
    def _copy_last_month(roster, staff, shifts, days):
        """{(staff, day): shift} of last month's roster (not voided) on the same day of the month, or why not.
        Every cell of the desk's staff is filled (a day last month left empty is empty here too)."""
        last = (roster.month - timedelta(days=1)).replace(day=1)
        previous = db.session.scalar(scoping.scope(select(Roster), Roster).where(
            Roster.property_id == roster.property_id, Roster.month == last, Roster.state != "void"))
        if previous is None:
            return gettext("上月（%(month)s）没有排班表可复制", month=f"{last:%Y-%m}")
        shift_ids = {sh.id for sh in shifts}
        before = {(a.staff_id, a.day.day): a.shift_id for a in previous.assignments if a.shift_id in shift_ids}
        return {(s.id, day): before.get((s.id, day.day)) for s in staff for day in days}

    # ---------------------------------------------------------------- the month's grid from a spreadsheet
    def _grid_roster(self):
        roster = self.get_one(request.args.get("id"))
        if roster is None:
            abort(404)
        if roster.is_locked:
            flash(gettext("该排班表已报经理或已作废，不能再导入"), "error")
            abort(redirect(url_for(".details_view", id=roster.id)))
        return roster

    def _grid_parts(self, roster):
        shifts = db.session.scalars(select(Shift).where(Shift.property_id == roster.property_id, Shift.active)
                                    .order_by(Shift.starts_at)).all()
        return self.staff_of_desk(roster.property_id), shifts

    @endpoint("/grid/template/", "import")
    def grid_template_view(self):
        """The month as a sheet to fill in: a desk person per row, a day per column, today's cells filled in."""
        roster = self._grid_roster()
        staff, shifts = self._grid_parts(roster)
        n = calendar.monthrange(roster.month.year, roster.month.month)[1]
        cells = {(a.staff_id, a.day): a.shift_id for a in roster.assignments}
        names = {sh.id: sh.name for sh in shifts}
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = f"{roster.month:%Y-%m}"
        ws.append(["用户名", "姓名"] + list(range(1, n + 1)))
        for s_ in staff:
            ws.append([s_.username, s_.full_name] + [names.get(cells.get((s_.id, roster.month.replace(day=d))), "")
                                                     for d in range(1, n + 1)])
        choices = ",".join([sh.name for sh in shifts] + ["休"])
        dv = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True)
        ws.add_data_validation(dv)
        dv.add(f"C2:{get_column_letter(n + 2)}{len(staff) + 200}")
        notes = wb.create_sheet("填写说明")
        for line in (["每行一位前台值班人员（按用户名识别，没有用户名时按姓名），每列一天，格子填班次。"],
                     ["班次可填：" + "、".join(f"{sh.name}（{sh.code}，{sh.starts_at:%H:%M}-{sh.ends_at:%H:%M}）"
                                              for sh in shifts) + "；空白或“休”为不排班。"],
                     ["文件中列出的人员，其本月排班以文件为准；未列出的人员不变。"]):
            notes.append(line)
        buf = io.BytesIO()
        wb.save(buf)
        response = Response(buf.getvalue(),
                            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response.headers["Content-Disposition"] = f'attachment; filename="roster-{roster.month:%Y-%m}.xlsx"'
        return response

    def _grid_page(self, roster, plan=None, **kw):
        rows = []
        if plan is not None:
            names = {sh.id: sh.name for sh in self._grid_parts(roster)[1]}
            for r in sorted(plan.rows, key=lambda r: ("error", "changed", "new", "unchanged").index(r.status))[:500]:
                rows.append(dict(line=r.line, status=r.status, errors=r.errors,
                                 cells=[(gettext("人员"), str(r.staff))] if r.staff else [],
                                 changes=[(f"{r.staff} {d.day}日", names.get(a, "休"), names.get(b, "休"))
                                          for d, a, b in r.changes]))
        return self.render("admin/import.html", plan=plan, rows=rows, columns=[],
                           keys=gettext("用户名或姓名"), statuses=imports.STATUS, limit=500,
                           max_rows=imports.MAX_ROWS, upload_url=url_for(".grid_import_view", id=roster.id),
                           confirm_url=url_for(".grid_confirm_view", id=roster.id),
                           template_url=url_for(".grid_template_view", id=roster.id),
                           back_url=url_for(".grid_view", id=roster.id), **kw)

    @endpoint("/grid/import/", "import", methods=("GET", "POST"))
    def grid_import_view(self):
        roster = self._grid_roster()
        if request.method == "GET":
            return self._grid_page(roster)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(gettext("请选择要导入的文件"), "error")
            return self._grid_page(roster)
        data = upload.stream.read(imports.MAX_BYTES + 1)
        filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
        staff, shifts = self._grid_parts(roster)
        try:
            plan = grid_plan(roster, db.session, data, staff, shifts)
        except imports.ImportRefused as ex:
            db.session.rollback()
            flash(str(ex.message), "error")
            return self._grid_page(roster)
        db.session.rollback()
        token, digest = self.keep_upload(data, filename, roster.property_id, plan.digest, roster=roster.id)
        return self._grid_page(roster, plan=plan, token=token, filename=filename, sha256=digest)

    @endpoint("/grid/import/confirm/", "import", methods=("POST",))
    def grid_confirm_view(self):
        roster = self._grid_roster()
        token = request.form.get("token") or ""
        kept = self.kept_upload(token, roster.property_id)
        back = redirect(url_for(".grid_import_view", id=roster.id))
        if kept is None or kept[0].get("roster") != roster.id:
            flash(gettext("预览已失效，请重新上传文件"), "error")
            return back
        ticket, data = kept
        staff, shifts = self._grid_parts(roster)
        try:
            plan = grid_plan(roster, db.session, data, staff, shifts)
            if plan.counts["error"] or plan.digest != ticket["plan"]:
                raise imports.ImportRefused(T("预览之后数据已有变化，请重新预览后再确认",
                                              "The data changed since the preview: preview again"))
            apply_grid(roster, db.session, plan, ticket["file"], ticket["sha256"], current_user)
            db.session.commit()
        except imports.ImportRefused as ex:
            db.session.rollback()
            flash(str(ex.message), "error")
            return back
        self.drop_ticket(token)
        flash(gettext("排班已导入"), "success")
        return redirect(url_for(".grid_view", id=roster.id))


class LeaveRequestView(RegisterView):
    column_list = ("number", "state", "staff", "kind", "day", "swap_with", "substitute", "reason")
    column_filters = ("state", "kind", "day")
    form_excluded_columns = ("substitute", "staff")

    def before_save(self, form, model, is_created):
        if is_created:
            model.staff_id = current_user.id  # everyone applies for themself (篇3 4.2.6: 值班人员须提前一天...说明)


class AttendanceExceptionView(RegisterView):
    column_list = ("day", "staff", "shift", "kind", "minutes_late", "automatic", "handling")
    column_filters = ("day", "kind", "automatic")


class DutyLogView(RegisterView):
    list_template = "admin/duty_log_list.html"
    dashboard_panels = (lambda dashboard: escalation_panel(dashboard),)
    form_excluded_columns = ("escalated_to", "escalated_at", "escalation_handled_at", "escalation_handled_by")
    column_list = (
        "number",
        "logged_at",
        "source",
        "priority",
        "content",
        "handling",
        "escalation",
        "follow_up",
        "created_by",
    )
    column_filters = ("logged_at", "priority", "escalation", "follow_up")
    search_prefix = ("number",)
    search_contains = ("content",)
    column_default_sort = ("logged_at", True)

    DAY_COLUMNS = ("number", "logged_at", "source", "priority", "content", "handling", "escalation", "follow_up",
                   "created_by")

    @endpoint("/day/", "list")
    def day_view(self):
        """One day's log, whole, as the supervisor reads it (4.2.5); the supervisor's opening is kept (open_day)."""
        pid = scoping.current_property_id()
        day = business_day(request.args.get("day")) if request.args.get("day") else today()
        if pid is None or day is None:
            abort(400 if day is None else 403)
        rows = db.session.scalars(select(DutyLog).where(
            DutyLog.property_id == pid, DutyLog.logged_at >= start_of(day),
            DutyLog.logged_at < start_of(day + timedelta(days=1)), DutyLog.state != "void")
            .order_by(DutyLog.logged_at, DutyLog.id)).all()
        may_mark = self.allowed("mark_read") and day <= today()
        if may_mark:
            audit.record_bulk(db.session, self.register, OPEN_DAY, [(None, pid, {"day": (None, day.isoformat())})])
            db.session.commit()
        read = db.session.scalar(select(DutyLogReading).where(DutyLogReading.property_id == pid,
                                                              DutyLogReading.day == day))
        show = self.display()
        cells = [[show.value(c)(getattr(r, c)) for c in self.DAY_COLUMNS] for r in rows]
        return self.render("admin/duty_log_day.html", day=day, cells=cells, read=read, may_mark=may_mark,
                           headers=[self.column_labels.get(c, c) for c in self.DAY_COLUMNS],
                           future=day > today())

    def opened(self, pid, day) -> bool:
        """The current user opened that day's log page (an open_day row in the audit log)."""
        rows = db.session.scalars(select(AuditLog.changes).where(
            AuditLog.register == self.register, AuditLog.action == OPEN_DAY, AuditLog.user_id == current_user.id,
            AuditLog.property_id == pid, AuditLog.at >= start_of(day)))
        return any((ch or {}).get("day", [None, None])[1] == day.isoformat() for ch in rows)

    @endpoint("/read/", "mark_read", methods=("POST",))
    def read_view(self):
        """The supervisor marks a day's log as read (source 4.2.5): a past or current day, after opening it."""
        if scoping.current_property_id() is None:
            abort(403)
        day = business_day(request.form.get("day"))
        if day is None:
            flash(gettext("请先选择要标记的日期"), "error")
            return redirect(url_for(".index_view"))
        if day > today():
            flash(gettext("不能预先标记未来日期的值班记录，请在当天或之后查阅"), "error")
            return redirect(url_for(".index_view"))
        pid = scoping.current_property_id()
        if not self.opened(pid, day):
            flash(gettext("请先打开 %(day)s 的值班记录阅读，再在该页标记已查阅", day=day), "error")
            return redirect(url_for(".day_view", day=day.isoformat()))
        if not db.session.scalar(select(DutyLogReading.id).where(DutyLogReading.property_id == pid,
                                                                 DutyLogReading.day == day)):
            db.session.add(DutyLogReading(property_id=pid, day=day, read_by_id=current_user.id))
            db.session.commit()
        flash(gettext("%(day)s 的值班记录已查阅", day=day), "success")
        return redirect(url_for(".day_view", day=day.isoformat()))


class DutyLogReadingView(RegisterView):
    column_list = ("day", "read_by", "read_at")


class ChecklistItemView(RegisterView):
    column_list = ("name", "quantity")


class HandoverView(RegisterView):
    dashboard_panels = (lambda dashboard: duty_panels(dashboard),)
    column_list = (
        "number",
        "state",
        "day",
        "to_shift",
        "outgoing",
        "incoming",
        "outgoing_signed_at",
        "incoming_signed_at",
    )
    column_filters = ("state", "day")
    # the incoming's checks and a substitute are entered on their steps (接班人签字, 指定替班接班人), never here
    form_excluded_columns = ("outgoing", "incoming", "open_items", "outgoing_signed_at", "incoming_signed_at",
                             "incoming_read_log", "incoming_desk_checked", "incoming_items_counted", "substitute")
    column_details_list = ("number", "state", "day", "to_shift", "open_items", "items_counted", "items_complete",
                           "desk_checked", "remarks", "outgoing", "outgoing_signed_at", "substitute",
                           "incoming_read_log", "incoming_desk_checked", "incoming_items_counted", "incoming",
                           "incoming_signed_at")


class QualityCheckView(RegisterView):
    column_list = ("checked_at", "kind", "inspector", "staff_checked", "nonconformities", "corrective_action")
    column_filters = ("kind", "checked_at")
    form_excluded_columns = ("inspector",)

    def before_save(self, form, model, is_created):
        """The server says who inspected; the kind is one the inspector's roles record (4.4.2-4.4.4): a supervisor
        picks a spot check or a daily handover check, a CS admin's and a manager's checks are their own kinds."""
        if is_created:
            model.inspector_id = current_user.id
        model.kind = QualityCheck.kind_for(self.roles, model.kind)


class DailySummaryView(SignedInPage, BaseView):
    """For a date: records made per register and what is still open, printable (for the supervisor)."""

    register = "daily_summary"
    # 篇2 §6: the clerk compiles each day's information and reports it to the supervisor
    grants = dict(clerk=VIEW, supervisor=VIEW, manager=VIEW, cs_admin=VIEW, regional=VIEW)
    permissions.declare(register, grants)

    def is_accessible(self):
        return current_user.is_authenticated and permissions.allowed(scoping.current_roles(), self.register, "list")

    @expose("/")
    def index(self):
        raw = request.args.get("date")
        day = business_day(raw) if raw else today()
        if day is None:
            abort(400)
        start, end = start_of(day), start_of(day + timedelta(days=1))
        rows = []
        for view in self.admin._views:
            model = getattr(view, "model", None)
            dated = summary_date_of(model) if model is not None else None
            if dated is None or not hasattr(model, "property_id") or not view.allowed("list"):
                continue
            column = getattr(model, dated)  # each record by its own date (received, happened, logged)
            on_day = column == day if isinstance(column.type, Date) else and_(column >= start, column < end)
            q = scoping.scope(select(func.count()).select_from(model).where(on_day), model)
            if "void" in (getattr(model, "states", None) or {}):
                q = q.where(model.state != "void")  # 作废 counts for nothing
            made = db.session.scalar(q)
            if made:
                rows.append((view.name, made, view.endpoint))
        pid = scoping.current_property_id()
        still_open = open_records(db.session, pid) if pid else []
        return self.render("admin/daily_summary.html", day=day, rows=rows, still_open=still_open)


def waited_text(minutes: int) -> str:
    hours, mins = divmod(max(minutes, 0), 60)
    if hours >= 24:
        return gettext("已等待 %(d)d 天 %(h)d 小时", d=hours // 24, h=hours % 24)
    return gettext("已等待 %(h)d 小时 %(m)d 分钟", h=hours, m=mins)


# The two duty panels of the home page (待我处理的上报, 值班) read everything they show in one statement: a UNION
# ALL whose parts are told apart by their first column, built once per set of roles and kept
# (app/admin/statements.py), run with the user, the property and this day's bounds as parameters, once per request
# (panel_rows). Each part fills the columns it needs; the others are typed NULLs.
ESCALATED, WAITING, ROSTER, CHECKS, SUPERVISORS, LOGGED, READ = range(7)
PANEL_COLUMNS = (("key", Integer()), ("n", Integer()), ("a", String()), ("b", String()), ("c", String()),
                 ("body", Text()), ("at", DateTime()), ("day", Date()), ("t1", Time()), ("t2", Time()))
ESCALATION_ROLES = {"cs_admin", "supervisor", "manager"}
DUTY_ROLES = {"clerk", "cs_admin", "supervisor", "manager"}
WAITING_STATES = ("open", "outgoing_signed")


def _part(tag: int, query, **columns):
    """One part of the panels' statement: `query`'s rows as (tag, the PANEL_COLUMNS)."""
    return query.with_only_columns(literal_column(str(tag), Integer()).label("part"), *[
        (type_coerce(columns[name], type_) if name in columns else cast(null(), type_)).label(name)
        for name, type_ in PANEL_COLUMNS], maintain_column_froms=True)


def panels_statement(roles: frozenset):
    """The statement of both panels for `roles` (escalations only for the roles they go to, the duty lines only
    for the desk's roles; the other supervisors' names only where the user is not a supervisor)."""
    pid, user, week, day_start = (statements.PROPERTY, statements.USER, bindparam("fd_week", type_=DateTime()),
                                  bindparam("fd_today", type_=DateTime()))
    parts = []
    mine = sorted(roles & ESCALATION_ROLES)
    if mine:  # oldest first, at most 50 (the order and the limit inside, the union keeps neither)
        entries = select(DutyLog).where(
            DutyLog.property_id == pid, DutyLog.escalated_to.in_(mine), DutyLog.escalation_handled_at.is_(None),
            DutyLog.state != "void").order_by(DutyLog.escalated_at, DutyLog.id).limit(50).subquery()
        parts.append(_part(ESCALATED, select(entries), key=entries.c.id, a=entries.c.number,
                           b=entries.c.priority, c=entries.c.state, body=entries.c.content,
                           at=entries.c.escalated_at))
    if roles & DUTY_ROLES:
        parts.append(_part(WAITING, select(Handover).join(Shift, Shift.id == Handover.to_shift_id).where(
            Handover.property_id == pid, Handover.state.in_(WAITING_STATES)), key=Handover.id, a=Handover.number,
            b=Handover.state, c=Shift.name, t1=Shift.starts_at, t2=Shift.ends_at))
        parts.append(_part(ROSTER, select(Roster).where(
            Roster.property_id == pid, Roster.month == bindparam("fd_month", type_=Date())),
            key=Roster.id, a=Roster.state, at=Roster.submitted_at))
        kinds = [and_(QualityCheck.kind == "supervisor_spot", QualityCheck.checked_at >= week)]
        if "cs_admin" in roles:  # my own checks today
            kinds.append(and_(QualityCheck.kind == "admin_daily", QualityCheck.inspector_id == user,
                              QualityCheck.checked_at >= day_start))
        if "manager" in roles:  # my own random checks this week
            kinds.append(and_(QualityCheck.kind == "manager_random", QualityCheck.inspector_id == user,
                              QualityCheck.checked_at >= week))
        parts.append(_part(CHECKS, select(QualityCheck).where(
            QualityCheck.property_id == pid, QualityCheck.state != "void", or_(*kinds))
            .group_by(QualityCheck.kind, QualityCheck.inspector_id),
            key=QualityCheck.inspector_id, n=func.count(), a=QualityCheck.kind))
        if "supervisor" not in roles:
            parts.append(_part(SUPERVISORS, select(StaffUser).join(Membership, Membership.user_id == StaffUser.id)
                               .join(Role).where(Membership.property_id == pid, Role.code == "supervisor",
                                                 StaffUser.active).distinct(),
                               key=StaffUser.id, a=StaffUser.full_name))
        parts.append(_part(LOGGED, select(DutyLog).where(
            DutyLog.property_id == pid, DutyLog.logged_at >= bindparam("fd_week_ago", type_=DateTime()),
            DutyLog.logged_at < day_start).distinct(), day=func.date(DutyLog.logged_at)))
        parts.append(_part(READ, select(DutyLogReading).where(
            DutyLogReading.property_id == pid, DutyLogReading.day >= bindparam("fd_since", type_=Date())),
            day=DutyLogReading.day))
    return union_all(*parts) if parts else None


def panel_rows() -> dict[int, list]:
    """The panels' rows at the current property for the current user, by part: one statement, run once per
    request (both panels draw on it; a later request reads again)."""
    roles = frozenset(scoping.current_roles())
    key = (statements.who(), scoping.current_property_id(), current_user.id)
    done = g.get("fd_duty_panel_rows")
    if done is not None and done[0] == key:
        return done[1]
    statement = statements.kept(("duty_panels", statements.who()), lambda: panels_statement(roles))
    parts: dict[int, list] = {tag: [] for tag in range(READ + 1)}
    if statement is not None:
        day = today()
        since = day - timedelta(days=7)
        params = statements.params(fd_week=start_of(day - timedelta(days=day.weekday())), fd_today=start_of(day),
                                   fd_month=next_month_of(day), fd_week_ago=start_of(since), fd_since=since)
        for row in db.session.execute(statement, params):
            parts[row.part].append(row)
    g.fd_duty_panel_rows = (key, parts)
    return parts


def next_month_of(day: date) -> date:
    return ((day.replace(day=1)) + timedelta(days=32)).replace(day=1)


class _Escalated:
    """What kernel.deadlines.overdue_for reads of an escalated duty-log entry, from its row in the panel."""

    deadlines, states = DutyLog.deadlines, DutyLog.states
    escalation_handled_at = None  # the panel shows only entries not handled yet

    def __init__(self, row):
        self.priority, self.state, self.escalated_at = row.b, row.c, row.at


def escalation_panel(dashboard):
    """4.2.3: the duty-log entries escalated to one of my roles here, waiting until I mark them handled."""
    pid, roles = scoping.current_property_id(), scoping.current_roles()
    if pid is None or not roles & ESCALATION_ROLES:
        return None
    rows = sorted(panel_rows()[ESCALATED], key=lambda r: (r.at, r.key))
    lines = []
    at = now()
    show = Display(DutyLog, roles, db.session).value("priority")
    for r in rows:
        late = overdue_for(_Escalated(r), at)
        badge = Markup(' <span class="badge badge-danger">{}</span>').format(gettext("超时")) if late else ""
        lines.append(Markup(
            '<a class="fd-escalation" href="{}">{}</a> {} · <span class="fd-data">{}</span> · {}{}').format(
            url_for("duty_log.details_view", id=r.key), r.a, show(r.b),
            r.body[:40], waited_text(int((at - r.at).total_seconds() // 60)), badge))
    if not lines:
        lines.append(gettext("没有待我处理的上报"))
    return _panel(gettext("待我处理的上报"), lines)


def _panel(title, lines):
    return dict(title=title, body=Markup("<br>".join(
        str(escape(str(line))) if not isinstance(line, Markup) else line for line in lines)))


def check_lines(roles, parts):
    """4.4.3: each supervisor's own spot checks this week against three; a CS admin's daily checks (4.4.4) and
    a manager's random checks (4.4.2) are counted as theirs, never toward the supervisor's three."""
    counts = {(r.a, r.key): r.n for r in parts[CHECKS]}
    spots = {inspector: n for (kind, inspector), n in counts.items() if kind == "supervisor_spot"}
    lines = []
    if "supervisor" in roles:
        mine = spots.get(current_user.id, 0)
        lines.append(Markup('<span id="fd-spot-checks" class="{}">{}</span>').format(
            "text-danger" if mine < 3 else "text-success", gettext("本周主管抽查: %(n)d/3", n=mine)))
    else:
        supervisors = sorted(parts[SUPERVISORS], key=lambda r: r.key)
        each = Markup(", ").join(Markup('<span class="fd-data">{}</span> {}/3').format(  # names are data
            s.a, spots.get(s.key, 0)) for s in supervisors)
        lines.append(Markup('<span id="fd-spot-checks">{}</span>').format(
            escape(gettext("本周主管抽查: %(each)s", each="{}")).format(each or "—")))
    if "cs_admin" in roles:
        lines.append(Markup('<span id="fd-daily-checks">{}</span>').format(
            gettext("今日本人交接班检查: %(n)d", n=counts.get(("admin_daily", current_user.id), 0))))
    if "manager" in roles:
        lines.append(Markup('<span id="fd-manager-checks">{}</span>').format(
            gettext("本周本人经理抽查: %(n)d", n=counts.get(("manager_random", current_user.id), 0))))
    return lines


def duty_panels(dashboard):
    """Handover state, next month's roster deadline, spot checks this week, unread duty-log days."""
    pid, roles = scoping.current_property_id(), scoping.current_roles()
    if pid is None or not roles & DUTY_ROLES:
        return None
    parts = panel_rows()
    lines = []
    # awaiting the outgoing first, then awaiting the incoming, each oldest first (the (property, state, id) index's
    # order, in which the unordered query that came before read them on SQLite)
    waiting = sorted(parts[WAITING], key=lambda r: (WAITING_STATES.index(r.b), r.key))
    for h in waiting:
        badge = gettext("待交接")
        shift = Shift.__str__(SimpleNamespace(name=h.c, starts_at=h.t1, ends_at=h.t2))  # str(h.to_shift)
        lines.append(Markup('<span class="badge badge-warning" id="fd-awaiting-handover">{}</span> {} {} · {}').format(
            badge, h.a, shift, Handover.states[h.b]))
    if not waiting:
        lines.append(gettext("前台无待交接班"))
    next_month = next_month_of(today())
    roster = min(parts[ROSTER], key=lambda r: r.key, default=None)  # the first of the month's rosters
    due = roster_due(next_month)
    if roster is None or roster.at is None:
        late = now() > due
        text = gettext("下月排班表 %(month)s：未提交，期限 %(due)s", month=next_month.strftime("%Y-%m"),
                       due=due.strftime("%m-%d"))
        css = "text-danger font-weight-bold" if late else ""
        lines.append(Markup('<span class="{}" id="fd-roster-due">{}</span>').format(css, text))
    else:
        lines.append(gettext("下月排班表 %(month)s：%(state)s", month=next_month.strftime("%Y-%m"),
                             state=str(Roster.states.get(roster.a, roster.a))))
    lines += check_lines(roles, parts)
    days = {r.day if isinstance(r.day, date) else date.fromisoformat(str(r.day)) for r in parts[LOGGED]}
    unread = sorted(days - {r.day for r in parts[READ]})
    text = gettext("值班记录未查阅天数: %(n)d", n=len(unread))
    links = Markup(", ").join(Markup('<a href="{}">{}</a>').format(
        url_for("duty_log.day_view", day=d.isoformat()), d.isoformat()) for d in unread)  # open the day to read it
    days_text = Markup(" (") + links + Markup(")") if unread else ""
    lines.append(Markup('<span id="fd-unread-log">{}</span>{}').format(text, days_text))
    return _panel(gettext("值班"), lines)


class RegionalOverviewView(SignedInPage, BaseView):
    """Company-wide oversight: per property and register, how many are open and how many are overdue.

    Totals and deadlines, never the records themselves (issue #20: no record-level view of residents and passes
    across properties).
    """

    register = "overview"
    grants = dict(regional=VIEW, manager=VIEW)
    permissions.declare(register, grants)

    def is_accessible(self):
        return current_user.is_authenticated and any(
            permissions.allowed(scoping.roles_at(pid), self.register, "list") for pid in self.properties())

    def properties(self):
        return scoping.user_property_ids()

    @expose("/")
    def index(self):
        pids = [p for p in self.properties() if permissions.allowed(scoping.roles_at(p), self.register, "list")]
        props = db.session.scalars(select(Property).where(Property.id.in_(pids)).order_by(Property.id)).all()
        rows = []
        for view in self.admin._views:
            model = getattr(view, "model", None)
            if model is None or not hasattr(model, "property_id") or not (model.open_states or
                                                                          getattr(model, "deadlines", ())):
                continue
            cells = []
            for p in props:
                open_count = db.session.scalar(select(func.count()).select_from(model).where(
                    model.property_id == p.id, model.state.in_(model.open_states))) if model.open_states else 0
                late = db.session.scalar(select(func.count()).select_from(model).where(
                    model.property_id == p.id, overdue_clause(model))) if getattr(model, "deadlines", ()) else 0
                cells.append((open_count, late))
            if any(o or late for o, late in cells):
                rows.append((view.name, cells))
        return self.render("admin/overview.html", props=props, rows=rows)
