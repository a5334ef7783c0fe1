"""Data entry at the desk (issue 17): what a clerk needs between one record and the next.

- after a new record is saved, the flash names its number with 打印 (a printable register) and 继续办理 (its
  details page, where its steps are) links, instead of Flask-Admin's generic "Record was successfully created.";
- 保存并添加另一个 opens the next empty form with the same household (`household_fields`: the unit, the resident,
  the applicant) filled in, through query arguments the create form reads (each value still goes through the
  field's scoped lookup, so an id from elsewhere fills nothing);
- the form's first field has the focus (`autofocus`);
- a lookup of residents is narrowed to the unit chosen on the same form (`ScopedLoader` reads `unit` on a lookup
  request; the create/edit page's script adds it).
"""
from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, session
from flask_admin import expose
from flask_admin.babel import gettext as admin_gettext
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField

HOUSEHOLD_FIELDS = ("unit", "resident", "applicant")


def first_field(form: Any) -> Any:
    """The first field a person types into (not the hidden ones: CSRF token, row version)."""
    for f in form:
        if isinstance(f, HiddenField) or f.type in ("CSRFTokenField", "HiddenField") or f.name == "csrf_token":
            continue
        return f
    return None


def focus_first(form: Any) -> Any:
    f = first_field(form)
    if f is not None:
        f.render_kw = {**(f.render_kw or {}), "autofocus": True}
    return form


class Entry:
    household_fields: tuple[str, ...] = HOUSEHOLD_FIELDS

    def household_values(self, model: Any) -> dict[str, Any]:
        """{field: value} of the household fields the record has, as the create form reads them back."""
        out = {}
        for name in self.household_fields:
            if not hasattr(model, name):
                continue
            value = getattr(model, name)
            if hasattr(value, "id"):  # a linked record: its id, looked up again (and scoped) by the form
                value = value.id
            if value not in (None, ""):
                out[name] = value
        return out

    def create_form(self, obj: Any = None) -> Any:
        form = super().create_form(obj)
        if request.method == "GET":
            for name in self.household_fields:
                raw = request.args.get(name)
                if raw and name in form and not isinstance(form[name], HiddenField):
                    form[name].process(MultiDict({name: raw[:100]}))
        return focus_first(form)

    def created_message(self, model: Any) -> Markup:
        """已保存 A-BX-20261128-0001 · 打印 · 继续办理"""
        number = getattr(model, "number", None) or ""
        text = escape(gettext("已保存：%(number)s", number=number) if number else gettext("已保存"))
        links = []
        if self.print_template and self.allowed("details"):
            links.append(Markup('<a href="{}" target="_blank" class="alert-link ml-2" id="fd-created-print">{}</a>')
                         .format(self.get_url(".print_view", id=model.id), gettext("打印")))
        if self.allowed("details"):
            links.append(Markup('<a href="{}" class="alert-link ml-2" id="fd-created-open">{}</a>')
                         .format(self.get_url(".details_view", id=model.id), gettext("继续办理")))
        return Markup('<span id="fd-created">{}</span>').format(text) + Markup("").join(links)

    def after_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        super().after_model_change(form, model, is_created)
        if is_created:
            g.fd_created = model

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self) -> Any:
        response = super().create_view()
        model = g.pop("fd_created", None)
        if model is None:
            return response
        generic = admin_gettext("Record was successfully created.")
        session["_flashes"] = [f for f in session.get("_flashes", []) if f[1] != generic]
        flash(self.created_message(model), "success")
        if "_add_another" in request.form:
            return_url = get_redirect_target() or self.get_url(".index_view")
            return redirect(self.get_url(".create_view", url=return_url, **self.household_values(model)))
        return response
