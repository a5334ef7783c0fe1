"""Saved views on a register's list (kernel/saved_views.py): save, share, delete, open.

A view keeps the list's filters by meaning (the column and the operation), its search, its sort by column name,
the 待我办理 / 超时 switches and the columns chosen in the list's 显示列 menu (`?cols=`: the others are hidden).
Opening one rebuilds today's list URL from that; a filter, sort or shown column that the screen no longer has
is left out with a message, never a 500. Every write is scoped to the current property and audited
(SavedView is a Register).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from app.admin.access import endpoint
from kernel import permissions, scoping
from kernel.db import db
from kernel.kept import kept
from kernel.saved_views import SavedView

SHARERS = frozenset({"supervisor", "it"})  # who may share a view with a role at their property
SWITCHES = ("mine", "overdue")
COLUMNS_ARG = "cols"  # the columns a list shows, by name, comma-separated
FILTER_ARG = re.compile(r"flt(\d+)_(\d+)")
NAME_MAX = 80
MSG_GONE = _l("视图“%(name)s”中的条件已不存在，已忽略：%(what)s")


@dataclass(frozen=True)
class ViewShown:
    """A saved view as the menus read it (kept between requests: kernel/kept.py)."""
    id: int
    register: str
    name: str
    spec: str
    shared_role: str | None


def visible_views(register: str | None = None) -> list[ViewShown]:
    """The views the current user may open here: their own, and those shared with a role they hold here."""
    pid = scoping.current_property_id()
    if pid is None or not current_user.is_authenticated:
        return []
    key = ("saved_views", pid)
    if key not in g.setdefault("fd_saved", {}):
        roles = sorted(scoping.current_roles())
        uid = current_user.id
        g.fd_saved[key] = kept(("saved_views", pid, uid, tuple(roles)), lambda: [
            ViewShown(*row) for row in db.session.execute(
                select(SavedView.id, SavedView.register, SavedView.name, SavedView.spec, SavedView.shared_role)
                .where(SavedView.property_id == pid,
                       or_(SavedView.created_by_id == uid, SavedView.shared_role.in_(roles)))
                .order_by(SavedView.register, SavedView.name, SavedView.id))])
    rows = g.fd_saved[key]
    return [v for v in rows if register is None or v.register == register]


def shared_views(register: str) -> list[ViewShown]:
    """For the menu: the views shared with one of my roles here (and those I shared), under their register."""
    return [v for v in visible_views(register) if v.shared_role]


class SavedViews:
    """Mixed into RegisterView: the list's 视图 menu and its endpoints."""

    def view_spec(self, args: Any) -> dict:
        """What the list at `args` shows, by meaning: {"filters": [[field, operation, value]], ...}."""
        spec: dict[str, Any] = {"filters": []}
        filters = self._filters or ()
        for key, value in args.items(multi=True) if hasattr(args, "items") else args:
            m = FILTER_ARG.fullmatch(key)
            if m and int(m.group(2)) < len(filters):
                f = filters[int(m.group(2))]
                name = getattr(f, "field", None) or getattr(getattr(f, "column", None), "key", None)
                spec["filters"].append([name, type(f).__name__, value])
            elif key == "search" and value.strip():
                spec["search"] = value.strip()[:200]
            elif key == "sort" and value.isdigit():
                col = self._get_column_by_idx(int(value))
                if col:
                    spec["sort"] = col[0]
            elif key == "desc" and value in ("0", "1"):
                spec["desc"] = value
            elif key in SWITCHES and value == "1":
                spec[key] = "1"
            elif key == COLUMNS_ARG:
                names = {n for n, _ in self._list_columns}
                spec["columns"] = [n for n in value.split(",") if n in names][:60]
        return spec

    def view_args(self, spec: dict) -> tuple[dict, list[str]]:
        """Today's list URL arguments for a saved spec, and what no longer exists (a readable list)."""
        args: dict[str, Any] = {}
        gone: list[str] = []
        filters = self._filters or ()
        for pos, item in enumerate(spec.get("filters") or ()):
            try:
                name, op, value = item
            except (TypeError, ValueError):
                gone.append(str(item)[:40])
                continue
            idx = next((i for i, f in enumerate(filters) if type(f).__name__ == op and (
                getattr(f, "field", None) or getattr(getattr(f, "column", None), "key", None)) == name), None)
            if idx is None or not filters[idx].validate(str(value)):
                gone.append(str(self.column_labels.get(name, name)))
                continue
            args[f"flt{pos}_{self.get_filter_arg(idx, filters[idx])}"] = str(value)
        if spec.get("sort"):
            idx = next((i for i, (n, _) in enumerate(self._list_columns) if n == spec["sort"]), None)
            if idx is None or spec["sort"] not in (self._sortable_columns or {}):
                gone.append(str(self.column_labels.get(spec["sort"], spec["sort"])))
            else:
                args["sort"] = idx
                if spec.get("desc") == "1":
                    args["desc"] = 1
        if spec.get("search"):
            args["search"] = spec["search"]
        for key in SWITCHES:
            if spec.get(key) == "1":
                args[key] = 1
        if isinstance(spec.get("columns"), list):
            names = {n for n, _ in self._list_columns}
            kept = [str(n) for n in spec["columns"] if n in names]
            gone += [str(self.column_labels.get(n, n)) for n in spec["columns"] if n not in names]
            if kept:
                args[COLUMNS_ARG] = ",".join(kept)
        return args, gone

    # ---------------------------------------------------------------- which columns the list shows
    def chosen_columns(self) -> list[str]:
        """The list's columns the user chose (`?cols=number,state,unit`); all of them when none is chosen."""
        names = [n for n, _ in self._list_columns]
        wanted = set((request.args.get(COLUMNS_ARG) or "").split(","))
        chosen = [n for n in names if n in wanted]
        return chosen or names

    def hidden_columns(self) -> list[str]:
        chosen = set(self.chosen_columns())
        return [n for n, _ in self._list_columns if n not in chosen]

    def views_html(self, nonce: str = "") -> Markup:
        """The 视图 menu (the views I may open here), the 显示列 menu and the form saving the list shown."""
        out = ['<div class="dropdown mr-2">\n<button type="button" class="btn btn-sm btn-outline-secondary '
               f'dropdown-toggle" data-toggle="dropdown">{escape(gettext("视图"))}</button>\n'
               '<div class="dropdown-menu">\n']
        views = self.saved_views_here()
        for v in views:
            role = ""
            if v.shared_role:
                label = permissions.ROLES[v.shared_role][0] if v.shared_role in permissions.ROLES else v.shared_role
                role = f" · {escape(str(label))}"
            out.append(f'<a class="dropdown-item fd-view" href="{escape(self.get_url(".open_saved_view", vid=v.id))}">'
                       f"{escape(v.name)}{role}</a>\n")
        if not views:
            out.append(f'<span class="dropdown-item-text text-muted">{escape(gettext("没有保存的视图"))}</span>\n')
        out.append("</div>\n</div>\n")
        out.append(self.columns_html(nonce))
        if scoping.current_property_id() is not None:  # "all properties" saves no view
            out.append(f'<form method="post" action="{escape(self.get_url(".save_saved_view"))}" '
                       'class="form-inline mr-2" id="fd-save-view">\n'
                       f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">\n'
                       '<input type="hidden" name="query" '
                       f'value="{escape(request.query_string.decode("utf-8", "replace"))}">\n'
                       '<input name="name" class="form-control form-control-sm mr-1" '
                       f'placeholder="{escape(gettext("视图名称"))}" maxlength="80" required>\n'
                       f'<button class="btn btn-sm btn-outline-primary">{escape(gettext("保存当前视图"))}</button>\n'
                       "</form>\n")
        return Markup("".join(out))

    def columns_html(self, nonce: str = "") -> Markup:
        """The 显示列 menu: a checkbox per list column, and the style hiding the columns not chosen."""
        hidden = self.hidden_columns()
        out = []
        if hidden:
            out.append(f"<style {nonce}>" + "".join(f"table.model-list .col-{escape(c.replace('.', '-'))}"
                                                    "{display:none}" for c in hidden) + "</style>\n")
        query = escape(request.query_string.decode("utf-8", "replace"))
        action = escape(self.get_url(".choose_columns"))
        out.append('<div class="dropdown mr-2" id="fd-columns">\n<button type="button" class="btn btn-sm '
                   'btn-outline-secondary dropdown-toggle" data-toggle="dropdown">'
                   f'{escape(gettext("显示列"))}</button>\n<form method="get" action="{action}" '
                   'class="dropdown-menu px-3 py-2" style="min-width:14em">\n'
                   f'<input type="hidden" name="query" value="{query}">\n')
        for name, label in self._list_columns:
            out.append('<div class="form-check"><label class="form-check-label"><input type="checkbox" '
                       f'class="form-check-input" name="col" value="{escape(name)}" '
                       f'{"" if name in hidden else "checked"}> {escape(label)}</label></div>\n')
        out.append(f'<button class="btn btn-sm btn-primary mt-1">{escape(gettext("确定"))}</button>\n</form>\n</div>\n')
        return Markup("".join(out))

    @endpoint("/views/columns/", "list")
    def choose_columns(self) -> Response:
        """The chooser's checkboxes (col=a&col=b) as one list argument, kept by the list's own links."""
        args = {k: v for k, v in parse_qsl(request.args.get("query", "")[:2000]) if k not in (COLUMNS_ARG, "page")}
        names = [n for n, _ in self._list_columns]
        chosen = [n for n in names if n in set(request.args.getlist("col"))]
        if chosen and len(chosen) < len(names):
            args[COLUMNS_ARG] = ",".join(chosen)
        return redirect(url_for(".index_view", **args))

    def may_share(self) -> bool:
        return bool(SHARERS & set(self.roles))

    def share_roles(self) -> list[tuple[str, str]]:
        """The roles a view of this register may be shared with: those that may list it."""
        return [(code, str(label)) for code, (label, _) in permissions.ROLES.items()
                if permissions.allowed({code}, self.register, "list")]

    def _own_view(self, vid: Any, sharing: bool = False) -> SavedView:
        view = db.session.get(SavedView, int(vid)) if str(vid or "").isdigit() and len(str(vid)) < 12 else None
        if view is None or view.register != self.register or view.property_id != scoping.current_property_id():
            abort(404)
        if view.created_by_id != current_user.id and not (sharing and self.may_share()):
            abort(403)
        return view

    @endpoint("/views/save/", "list", methods=("POST",))
    def save_saved_view(self) -> Response:
        name = (request.form.get("name") or "").strip()[:NAME_MAX]
        pid = scoping.current_property_id()
        back = url_for(".index_view")
        if not name or pid is None:
            flash(gettext("请先选择一个项目并填写视图名称"), "error")
            return redirect(back)
        spec = self.view_spec(parse_qsl(request.form.get("query", "")[:2000]))
        view = SavedView(property_id=pid, register=self.register, name=name, spec=json.dumps(spec, ensure_ascii=False))
        db.session.add(view)
        db.session.commit()
        flash(gettext("已保存视图“%(name)s”", name=name), "success")
        return redirect(url_for(".open_saved_view", vid=view.id))

    @endpoint("/views/share/", "list", methods=("POST",))
    def share_saved_view(self) -> Response:
        if not self.may_share():
            abort(403)
        view = self._own_view(request.form.get("id"), sharing=True)
        role = request.form.get("role") or None
        if role is not None and role not in dict(self.share_roles()):
            abort(400)
        view.shared_role = role
        db.session.commit()
        flash(gettext("已共享视图“%(name)s”", name=view.name) if role else
              gettext("已取消共享视图“%(name)s”", name=view.name), "success")
        return redirect(url_for(".open_saved_view", vid=view.id))

    @endpoint("/views/delete/", "list", methods=("POST",))
    def delete_saved_view(self) -> Response:
        view = self._own_view(request.form.get("id"))
        db.session.delete(view)
        db.session.commit()
        flash(gettext("已删除视图“%(name)s”", name=view.name), "success")
        return redirect(url_for(".index_view"))

    @endpoint("/views/<int:vid>/", "list")
    def open_saved_view(self, vid: int) -> Response:
        view = next((v for v in visible_views(self.register) if v.id == vid), None)
        if view is None:
            abort(404)
        try:
            spec = json.loads(view.spec)
            spec = spec if isinstance(spec, dict) else {}
        except ValueError:
            spec = {}
        args, gone = self.view_args(spec)
        if gone:
            flash(str(MSG_GONE) % dict(name=view.name, what="、".join(gone)), "warning")
        return redirect(url_for(".index_view", view=view.id, **args))

    def saved_views_here(self) -> list[ViewShown]:
        return visible_views(self.register)

    def current_view(self) -> ViewShown | None:
        vid = request.args.get("view", "")
        return next((v for v in visible_views(self.register) if str(v.id) == vid), None)
