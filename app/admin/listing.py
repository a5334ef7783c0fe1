"""The list of a register: scoped rows, capped counts, indexed search, filters, the overdue switch, and values
shown through the register's Display (one function per column per request, never a check per cell)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import abort, current_app, g, request
from flask_admin.babel import gettext as admin_gettext
from flask_admin.model.template import DeleteRowAction, EditRowAction, ViewRowAction
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import joinedload

from app.admin import statements
from app.admin.filters import ChoiceEqual
from kernel import scoping
from kernel.deadlines import overdue_clause, overdue_for
from kernel.register import blind_indexes, model_for

DEEP_PAGE_ROWS = 500  # from this offset on, find the page's ids from the index alone first
LAST_PAGE = 10_000_000  # beyond any list; keeps OFFSET inside a 64-bit integer
SEARCH_TERMS = 5
ROW_ID = "FDROWID"  # stands for a row's id in a URL built once per page
ICONS = {ViewRowAction: (".details_view", "fa fa-eye glyphicon glyphicon-eye-open"),
         EditRowAction: (".edit_view", "fa fa-pencil glyphicon glyphicon-pencil")}
UNITS_PER_SEARCH = 500
STATE_TAB_CAP = 1000  # a tab counts at most this many ("1000+"): tabs orient, the list's own count is exact to 10000


def prefix(column: Any, term: str) -> Any:
    """`column` starts with `term`, as a range both SQLite and PostgreSQL answer from a plain b-tree index."""
    return and_(column >= term, column < term + "\U0010ffff")


class Listing:
    can_set_page_size = True
    page_size = 25
    page_size_options = (25, 50, 100)
    named_filter_urls = False  # Chinese labels slug to '' and would collide; positions are stable
    search_prefix: tuple[str, ...] = ()  # indexed columns matched exactly or by prefix
    search_contains: tuple[str, ...] = ()  # short text columns matched anywhere
    search_units = True                  # a term like 3-2-1501 finds records of that unit (models with unit_id)

    def _declare_listing(self, model: type) -> None:
        if getattr(model, "deadlines", ()) and self.column_list and "overdue" not in self.column_list:
            self.column_list = list(self.column_list) + ["overdue"]
        searchable = list(self.search_prefix) + list(self.search_contains)
        if self.search_units and hasattr(model, "unit_id"):
            searchable.append("unit_id")
        self.column_searchable_list = searchable or None

    def _filtered(self, search: str | None, filters: Any) -> tuple[Any, dict]:
        """The list's rows before sorting and paging: scope, search, filters, the 待我办理 and 超时 switches."""
        query, joins, count_joins = self.get_query(), {}, {}
        if self._search_supported and search:
            query, _, joins, _ = self._apply_search(query, None, joins, count_joins, search)
        if filters and self._filters:
            query, _, joins, _ = self._apply_filters(query, None, joins, count_joins, filters)
        if request.args.get("overdue") == "1":
            query = query.filter(overdue_clause(self.model))
        if request.args.get("mine") == "1":
            query = query.filter(self.mine_clause())
        return query, joins

    def get_list(self, page: int | None, sort_column: Any, sort_desc: bool, search: str | None, filters: Any,
                 execute: bool = True, page_size: int | None = None) -> tuple[int, Any]:
        """Stock get_list, but the count stops at LIST_COUNT_CAP (shown as 'more than N')."""
        page = min(max(page or 0, 0), LAST_PAGE)  # ?page=-1 is a negative OFFSET, which PostgreSQL rejects
        query, joins = self._filtered(search, filters)
        cap = current_app.config["LIST_COUNT_CAP"]
        capped = query.with_entities(self.model.id).order_by(None).limit(cap + 1).subquery()
        count = self.checked(lambda: self.session.execute(select(func.count()).select_from(capped)).scalar_one())
        g.count_capped = count > cap
        query, joins = self._apply_sorting(query, joins, sort_column, sort_desc)
        size = page_size if page_size is not None else self.page_size
        if execute and page and size and page * size >= DEEP_PAGE_ROWS:
            ids = self._apply_pagination(query.with_entities(self.model.id), page, page_size).subquery()
            query = query.filter(self.model.id.in_(select(ids.c.id)))
        else:
            query = self._apply_pagination(query, page, page_size)
        for j in self._auto_joins:
            query = query.options(joinedload(j))
        return min(count, cap), (query.all() if execute else query)

    def checked(self, run: Any) -> Any:
        """Run a query built from URL arguments; a value the database cannot take (a 30-digit filter) is a 400."""
        try:
            return run()
        except (DataError, OverflowError):
            self.session.rollback()
            abort(400)

    def _apply_search(self, query: Any, count_query: Any, joins: dict, count_joins: dict, search: str) -> tuple:
        """Exact or prefix match on indexed columns (an index range, never LIKE), contains only on short text."""
        for term in search.split()[:SEARCH_TERMS]:
            clauses = [prefix(getattr(self.model, name), term) for name in self.search_prefix]
            clauses += self.pii_search_clauses(term)
            for name in self.search_contains:
                like = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append(getattr(self.model, name).ilike(f"%{like}%", escape="\\"))
            if self.search_units and hasattr(self.model, "unit_id"):
                unit = model_for("unit")
                # resolved first: an IN (subquery) inside OR makes PostgreSQL scan the whole table
                units = self.session.scalars(scoping.scope(select(unit.id).where(prefix(unit.code, term)), unit)
                                             .limit(UNITS_PER_SEARCH)).all()
                if units:
                    clauses.append(self.model.unit_id.in_(units))
            if clauses:
                query = query.filter(or_(*clauses))
        return query, count_query, joins, count_joins

    def filter_arg(self, column: str, operation: type) -> str:
        """The list URL argument of a filter, e.g. flt0_12 (tests, benchmarks, links from the dashboard)."""
        for i, f in enumerate(self._filters or ()):
            name = getattr(f, "field", None) or getattr(f.column, "key", None)
            if name == column and (type(f) is operation or isinstance(f, operation)):
                return f"flt0_{self.get_filter_arg(i, f)}"
        raise KeyError((column, operation))

    # ---------------------------------------------------------------- state tabs
    def state_tabs(self) -> list[dict] | None:
        """全部 / 待签字 / 已签发 ...: one tab per declared state with its count, each a link to exactly the rows
        it counts (the list's state filter). One statement, one count per state of its rows up to a cap (an
        index range on (property, state, id)), kept per property and roles (app/admin/statements.py);
        a count past the cap reads "1000+"."""
        states = getattr(self.model, "states", None) or {}
        if len(states) <= 2 or not self._filters:  # 有效 / 作废 alone is not a workflow
            return None
        from_states = list(states)
        try:
            arg = self.filter_arg("state", ChoiceEqual)
        except KeyError:
            return None
        cap = min(current_app.config["LIST_COUNT_CAP"], STATE_TAB_CAP)

        def build() -> Any:  # scalar counts, not a UNION ALL grouped: nothing is materialised or sorted
            return select(*[select(func.count()).select_from(
                self.kept_query().filter(self.model.state == code).with_entities(self.model.id).order_by(None)
                .limit(cap + 1).subquery()).scalar_subquery() for code in from_states])
        statement = statements.kept(("state_tabs", self.register, statements.who(), self.kept_where(), cap), build)
        counts = dict(zip(from_states, self.session.execute(statement, statements.params()).one(), strict=True))
        chosen = request.args.get(arg) if not request.args.get("search") else None
        others = [k for k in request.args if k.startswith("flt") and k != arg] or request.args.get("mine") \
            or request.args.get("overdue")
        def shown(n: int) -> str:
            return f"{cap}+" if n > cap else str(n)
        total = sum(counts.values())
        tabs = [dict(code="", label=_l("全部"), count=shown(total), url=self.get_url(".index_view"),
                     active=not chosen and not others)]
        for code in from_states:
            tabs.append(dict(code=code, label=states[code], count=shown(counts.get(code, 0)),
                             url=self.get_url(".index_view", **{arg: code}), active=chosen == code and not others))
        return tabs

    # ---------------------------------------------------------------- values shown
    def overdue_badges(self, record: Any) -> Markup:
        return Markup(" ".join(f'<span class="badge badge-danger">{escape(str(d.label))}</span>'
                               for d in overdue_for(record)))

    def _value(self, formatters: dict, context: Any, model: Any, name: str) -> Any:
        fmt = formatters.get(name) or (self.column_formatters or {}).get(name)
        if fmt is not None:
            return fmt(self, context, model, name)
        if name == "overdue":
            return self.overdue_badges(model)
        return self.display().attr(model, name)

    @pass_context
    def get_list_value(self, context: Any, model: Any, name: str) -> Any:
        value = self._value(self.column_formatters or {}, context, model, name)
        if getattr(model, "state", None) == "void":  # 作废: kept and shown, struck through
            return Markup('<del class="fd-void">') + escape(value) + Markup("</del>")
        return value

    # ---------------------------------------------------------------- the compiled list row
    @pass_context
    def list_row_html(self, context: Any, row: Any) -> Markup:
        """One list row's cells (what Flask-Admin's list_row block renders: checkbox, row actions, one cell per
        column), from a renderer compiled once per page: formatters chosen per column, row URLs from a prefix,
        one delete form for the page (filled by JavaScript) instead of one per row."""
        # a row's context is new each row: the renderer is kept with the request (g may outlive one)
        cache = request.environ.setdefault("frontdesk.list_rows", {})
        key = (self.register, context.get("return_url"))
        if key not in cache:
            cache[key] = self._row_renderer(context)
        return cache[key](row)

    def _row_renderer(self, context: Any) -> Callable[[Any], Markup]:
        cells = [(f'<td class="col-{escape(name)}">', self._cell(context, name)) for name, _ in context["list_columns"]]
        checkbox = None
        if context.get("actions"):
            title = escape(admin_gettext("Select record"))
            checkbox = ('<td>\n<input type="checkbox" name="rowid" class="action-checkbox" value="',
                        f'" title="{title}" />\n</td>')
        actions = [self._row_action(context, a) for a in context["list_row_actions"]] \
            if self.column_display_actions else None
        pk_of = self.get_pk_value

        def render(row: Any) -> Markup:
            pk = pk_of(row)
            epk = escape(pk)
            out = [checkbox[0], epk, checkbox[1]] if checkbox else []
            if actions is not None:
                out.append('<td class="list-buttons-column">')
                out.extend(str(a(pk, epk, row)) for a in actions)
                out.append("</td>")
            void = getattr(row, "state", None) == "void"  # 作废: kept and shown, struck through
            for td, cell in cells:
                value = escape(cell(row))
                out.append(f'{td}<del class="fd-void">{value}</del></td>' if void else f"{td}{value}</td>")
            return Markup("".join(out))
        return render

    def _cell(self, context: Any, name: str) -> Callable[[Any], Any]:
        """A column's value function, chosen once per page (the same choice as get_list_value makes per cell)."""
        fmt = (self.column_formatters or {}).get(name)
        if fmt is not None:
            return lambda row: fmt(self, context, row, name)
        if name == "overdue":
            return self.overdue_badges
        text = self.display().value(name)
        return lambda row: text(getattr(row, name, None))

    def _row_action(self, context: Any, action: Any) -> Callable[[Any, Markup, Any], Any]:
        title = escape(action.title or "")
        if type(action) in ICONS:
            endpoint, icon = ICONS[type(action)]
            head, _, tail = str(escape(self.get_url(endpoint, id=ROW_ID, url=context["return_url"]))).partition(ROW_ID)
            return lambda pk, epk, row: (f'<a class="icon" href="{head}{escape(quote(str(pk), safe=""))}{tail}" '
                                         f'title="{title}"><span class="{icon}"></span></a>')
        if type(action) is DeleteRowAction:  # the page's one delete form (register_list.html) takes the id
            return lambda pk, epk, row: (f'<button type="button" class="fd-delete" data-id="{epk}" title="{title}">'
                                         f'<span class="fa fa-trash glyphicon glyphicon-trash"></span></button>')
        return lambda pk, epk, row: action.render_ctx(context, pk, row)

    @pass_context
    def get_detail_value(self, context: Any, model: Any, name: str) -> Any:
        return self._value(self.column_formatters_detail or {}, context, model, name)

    def get_details_columns(self) -> list:
        """Number and state first, the record's own fields, then who/when/where."""
        hidden = {"version", "session_generation"} | set(blind_indexes(self.model).values())
        cols = [c for c in super().get_details_columns() if c[0] not in hidden]
        first = [c for c in cols if c[0] in ("number", "state")]
        tail_names = ("property", "created_by", "created_at", "updated_at", "state_changed_at")
        last = sorted((c for c in cols if c[0] in tail_names), key=lambda c: tail_names.index(c[0]))
        return first + [c for c in cols if c not in first and c not in last] + last
