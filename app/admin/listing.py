"""The list of a register: scoped rows, capped counts, indexed search, filters, the overdue switch, and values
shown through the register's Display (one function per column per request, never a check per cell)."""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any
from urllib.parse import quote

from flask import abort, current_app, g, request
from flask_admin.babel import gettext as admin_gettext
from flask_admin.babel import ngettext as admin_ngettext
from flask_admin.model.template import DeleteRowAction, EditRowAction, ViewRowAction
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_context
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape
from sqlalchemy import Integer, and_, bindparam, or_, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import joinedload

from app.admin import statements
from app.admin.filters import ChoiceEqual
from app.admin.statements import Kept
from kernel import scoping
from kernel.deadlines import overdue_checker, overdue_clause, overdue_for
from kernel.i18n import kept_translation
from kernel.register import blind_indexes, model_for

DEEP_PAGE_ROWS = 500  # from this offset on, find the page's ids from the index alone first
LAST_PAGE = 10_000_000  # beyond any list; keeps OFFSET inside a 64-bit integer
SEARCH_TERMS = 5
ROW_ID = "FDROWID"  # stands for a row's id in a URL built once per page
ICONS = {ViewRowAction: (".details_view", "fa fa-eye glyphicon glyphicon-eye-open"),
         EditRowAction: (".edit_view", "fa fa-pencil glyphicon glyphicon-pencil")}
UNITS_PER_SEARCH = 500
TAB_COUNTS = "frontdesk.state_tab_counts"  # request.environ: {register: {state: count}} read with a page's rows
STATE_TAB_CAP = 1000  # a tab counts at most this many ("1000+"): tabs orient, the list's own count is exact to 10000
FAST_LIST, INLINE_LIST = "admin/register_list.html", "admin/register_list_inline.html"
_pieces = Kept(1024)  # parts of a list page that depend only on the register, roles, language and prefix


def _translated(catalogue: Any, text: str, values: dict) -> str:
    translated = kept_translation(catalogue, text)
    return translated % values if values else translated


def _admin(text: str, **values: Any) -> str:
    """Flask-Admin's translation of `text` (its catalogue), kept per language."""
    return _translated(admin_gettext, text, values)


def _ours(text: str, **values: Any) -> str:
    """The app's translation of `text`, kept per language."""
    return _translated(gettext, text, values)


def attr(value: Any) -> str:
    return str(escape(value))


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
        if self.list_template == FAST_LIST and (self.column_editable_list or self.create_modal or self.edit_modal
                                                or self.details_modal or self.column_extra_row_actions):
            # x-editable cells, modal windows and extra row actions (their row_actions macros) need list.html
            self.list_template = INLINE_LIST
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
        cap = current_app.config["LIST_COUNT_CAP"]
        size = page_size if page_size is not None else self.page_size
        kept = bool(execute and not search and size and self._keeps_page(filters))

        def answer(count: int, data: Any) -> tuple[int, Any]:
            g.count_capped = count > cap  # the pager says "more than N"
            return min(count, cap), data
        found = self.checked(lambda: self._kept_page(page, sort_column, sort_desc, filters, size, cap)) if kept \
            else None
        if found:
            data, count = found
            return answer(count, data)
        query, joins = self._filtered(search, filters)
        counted = statements.capped_count(query, self.model.id, cap)

        def count_alone() -> int:
            return self.checked(lambda: self.session.execute(counted).scalar_one())
        if kept:  # an empty page (past the end, or no rows): its count alone
            return answer(count_alone(), [])
        query, joins = self._apply_sorting(query, joins, sort_column, sort_desc)
        # the page's ids first, its rows and their linked records after: deep pages (OFFSET over ids from the index
        # alone) and the overdue switch, whose OR over deadline columns no index orders, so the matches are sorted
        # after the filter and the joins ran on every one (at 10M rows in 50 properties: 1,969 overdue orders each
        # joined to unit and, by a nested loop, all 50 properties' departments, for 25 shown; README "PostgreSQL at 1M")
        if execute and size and ((page and page * size >= DEEP_PAGE_ROWS) or request.args.get("overdue") == "1"):
            ids = self._apply_pagination(query.with_entities(self.model.id), page, page_size).subquery()
            query = query.filter(self.model.id.in_(select(ids.c.id)))
        else:
            query = self._apply_pagination(query, page, page_size)
        for j in self._auto_joins:
            query = query.options(joinedload(j))
        if not execute or self.joins_a_collection:
            # a joined collection would repeat rows: then the count is asked on its own
            return answer(count_alone(), query.all() if execute else query)
        if page * (size or 0) >= cap:
            # a page that starts past the cap: if it has rows, there are more than the cap (no count to read)
            data = self.checked(lambda: query.all())
            return answer(cap + 1 if data else count_alone(), data)
        # the page's rows and the capped count in one round trip: the count is an uncorrelated scalar subquery,
        # which SQLite and PostgreSQL evaluate once; an empty page (past the end, or no rows) asks it alone
        rows = self.checked(lambda: query.add_columns(counted.scalar_subquery().label("fd_count")).all())
        data = [row[0] for row in rows]
        return answer(rows[0][1] if rows else count_alone(), data)

    def _keeps_page(self, filters: Any) -> bool:
        """A page whose statement can be kept: no switch on, filters only by a column's choice (the state tabs'
        links), no joined collection. Search and the other filters build their statement per request."""
        if request.args.get("overdue") == "1" or request.args.get("mine") == "1":
            return False
        for idx, _, _ in filters or ():
            flt = self._filters[idx]
            if type(flt) is not ChoiceEqual or self._filter_joins.get(flt.key_name or flt.column):
                return False
        return not self.joins_a_collection

    @cached_property
    def joins_a_collection(self) -> bool:
        """The list joins a one-to-many link (its rows would repeat in a joined count). Declarations only."""
        return any(getattr(getattr(j, "property", None), "uselist", False) for j in self._auto_joins)

    def _kept_page(self, page: int, sort_column: Any, sort_desc: bool, filters: Any, size: int,
                   cap: int) -> tuple[list, int] | None:
        """A plain page's rows and capped count, by a statement built once per register, roles, order, page size
        and filtered columns (app/admin/statements.py): the property, the user, the offset and the filters' values
        are its parameters. Building the statement and SQLAlchemy's cache key of it was a tenth of a page. The
        state tabs' counts come in the same statement (kept for state_tabs). None: the page has no rows."""
        filters = list(filters or ())
        deep, counted = page * size >= DEEP_PAGE_ROWS, page * size < cap
        tabs = self.tab_states
        tab_cap = min(cap, STATE_TAB_CAP)

        def build() -> Any:
            query, joins = self.kept_query(), {}
            for n, (idx, _, _) in enumerate(filters):
                flt = self._filters[idx]
                query = flt.apply(query, bindparam(f"fd_flt{n}", type_=flt.column.type))
            columns = [statements.capped_count(query, self.model.id, cap).scalar_subquery().label("fd_count")] \
                if counted else []
            if tabs:
                columns += self.tab_counts(tabs[0], tab_cap)
            query, _ = self._apply_sorting(query, joins, sort_column, sort_desc)
            offset = bindparam("fd_offset", type_=Integer())
            if deep:  # as get_list: the page's ids from the index alone, then their rows
                ids = query.with_entities(self.model.id).limit(size).offset(offset).subquery()
                query = query.filter(self.model.id.in_(select(ids.c.id)))
            else:
                query = query.limit(size).offset(offset)
            for j in self._auto_joins:
                query = query.options(joinedload(j))
            return (query.add_columns(*columns) if columns else query).statement
        key = ("list_page", self.register, statements.who(), self.kept_where(), cap, sort_column, bool(sort_desc),
               size, deep, counted, tuple(idx for idx, _, _ in filters), tabs and tab_cap)
        values = {f"fd_flt{n}": value for n, (_, _, value) in enumerate(filters)}
        rows = self.session.execute(statements.kept(key, build),
                                    statements.params(fd_offset=page * size, **values)).all()
        if not rows:
            return None
        if tabs:
            request.environ.setdefault(TAB_COUNTS, {})[self.register] = \
                dict(zip(tabs[0], rows[0][-len(tabs[0]):], strict=True))
        # a page that starts past the cap has no count to read: it has rows, so there are more than the cap
        return [row[0] for row in rows], rows[0][1] if counted else cap + 1

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
    @cached_property
    def tab_states(self) -> tuple[list[str], str] | None:
        """The states the tabs count and the state filter's URL argument; None: no tabs (有效 / 作废 alone is not
        a workflow, or no state filter). Declarations only, so known once."""
        states = getattr(self.model, "states", None) or {}
        if len(states) <= 2 or not self._filters:
            return None
        try:
            return list(states), self.filter_arg("state", ChoiceEqual)
        except KeyError:
            return None

    def tab_counts(self, codes: list[str], cap: int) -> list:
        """SQL: each state's rows, counted up to cap + 1 (an index range on (property, state, id) each; scalar
        counts, not a UNION ALL grouped: nothing is materialised or sorted)."""
        return [self.capped_select(self.model.state == code, cap, kept=True) for code in codes]

    def state_tabs(self) -> list[dict] | None:
        """全部 / 待签字 / 已签发 ...: one tab per declared state with its count, each a link to exactly the rows
        it counts (the list's state filter); a count past the cap reads "1000+". The counts came with a plain
        page's rows (_kept_page), or else by a statement of their own, kept per roles (app/admin/statements.py)."""
        if not self.tab_states:
            return None
        states = self.model.states
        from_states, arg = self.tab_states
        cap = min(current_app.config["LIST_COUNT_CAP"], STATE_TAB_CAP)
        counts = request.environ.get(TAB_COUNTS, {}).get(self.register)
        if counts is None:
            statement = statements.kept(("state_tabs", self.register, statements.who(), self.kept_where(), cap),
                                        lambda: select(*self.tab_counts(from_states, cap)))
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

    def state_tabs_html(self) -> Markup:
        """The state tabs above the list (empty when the register has none)."""
        tabs = self.state_tabs()
        if not tabs:
            return Markup("")
        out = ['<ul class="nav nav-tabs mb-2" id="fd-state-tabs">\n']
        for t in tabs:
            out.append(f'<li class="nav-item"><a class="nav-link{" active" if t["active"] else ""}" '
                       f'data-state="{attr(t["code"])}" href="{attr(t["url"])}">{attr(t["label"])} '
                       f'<span class="badge badge-light fd-count">{attr(t["count"])}</span></a></li>\n')
        out.append("</ul>\n")
        return Markup("".join(out))

    # ---------------------------------------------------------------- values shown
    @staticmethod
    def badge(d: Any) -> str:
        return f'<span class="badge badge-danger">{escape(str(d.label))}</span>'

    def overdue_badges(self, record: Any) -> Markup:
        return Markup(" ".join(self.badge(d) for d in overdue_for(record)))

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
            title = escape(_admin("Select record"))
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
                # the id as a URL carries it: a number as it is, anything else quoted (once per row, not per link)
                qpk = str(pk) if type(pk) is int else str(escape(quote(str(pk), safe="")))
                out.append('<td class="list-buttons-column">')
                out += [str(a(pk, epk, qpk, row)) for a in actions]
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
        if name == "overdue":  # one clock reading and one lookup of each deadline's minutes for the page
            late, badges = overdue_checker(self.model), {}

            def overdue(row: Any) -> Markup:
                return Markup(" ".join(badges.get(d) or badges.setdefault(d, self.badge(d)) for d in late(row)))
            return overdue
        text = self.display().value(name)
        rel = self.model.__mapper__.relationships.get(name)
        if rel is not None and not rel.uselist:  # a linked record repeats down a page (one department): once each
            seen: dict[int, str] = {}

            def linked(row: Any) -> str:
                obj = getattr(row, name, None)
                if obj is None:
                    return text(None)
                key = id(obj)  # the page's rows hold every object: an id is not reused while it renders
                if key not in seen:
                    seen[key] = text(obj)
                return seen[key]
            return linked
        return lambda row: text(getattr(row, name, None))

    def _row_action(self, context: Any, action: Any) -> Callable[[Any, Markup, str, Any], Any]:
        """A row action's markup from (id, id escaped for HTML, id quoted for a URL, the row)."""
        title = escape(action.title or "")
        if type(action) in ICONS:
            endpoint, icon = ICONS[type(action)]
            head, _, tail = str(escape(self.get_url(endpoint, id=ROW_ID, url=context["return_url"]))).partition(ROW_ID)
            return lambda pk, epk, qpk, row: (f'<a class="icon" href="{head}{qpk}{tail}" '
                                              f'title="{title}"><span class="{icon}"></span></a>')
        if type(action) is DeleteRowAction:  # the page's one delete form (register_list.html) takes the id
            return lambda pk, epk, qpk, row: (f'<button type="button" class="fd-delete" data-id="{epk}" '
                                              f'title="{title}"><span class="fa fa-trash glyphicon glyphicon-trash">'
                                              "</span></button>")
        return lambda pk, epk, qpk, row: action.render_ctx(context, pk, row)

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

    # ---------------------------------------------------------------- the page around the rows
    # Flask-Admin's list template builds its menu bar, column headers and scripts from a dozen macros and some
    # fifty translated strings per page. The same markup is written here in Python: what depends only on the
    # register, the roles held at the property, the language and the prefix the app is served at is built once
    # (`piece`); what depends on the request's arguments is joined from it per page (tests/test_fast_list.py
    # compares it with the stock template's, tests/test_kept_list.py shows that nothing kept lags behind).
    def piece(self, name: str, build: Callable[[], str]) -> str:
        key = (self.register, name, statements.who(), scoping.current_property_id(), str(get_locale()),
               request.script_root)
        return _pieces.get(key, build)

    @pass_context
    def menu_bar_html(self, context: Any) -> Markup:
        """Flask-Admin's list menu bar (list.html `model_menu_bar`) up to, not including, its closing </ul>."""
        c = context
        count = c.get("count")
        out = ['<ul class="nav nav-tabs">\n<li class="nav-item">\n'
               '<a href="javascript:void(0)" class="nav-link active">',
               attr(_admin("List")), f" ({attr(count)})" if count else "", "</a>\n</li>\n"]
        if self.can_create:
            out.append(f'<li class="nav-item">\n<a href="{attr(self.get_url(".create_view", url=c["return_url"]))}" '
                       + self.piece("create", lambda: f'title="{attr(_admin("Create New Record"))}" '
                                    f'class="nav-link">{attr(_admin("Create"))}</a>') + "</li>\n")
        if self.can_export:
            out.append(self.export_html())
        out.append(self.before_filters_html(count))
        if c.get("filters"):
            groups = c.get("filter_groups") or {}
            out.append(self.piece("filters", lambda: "".join(
                ['<li class="nav-item dropdown">\n<a class="nav-link dropdown-toggle" data-toggle="dropdown" '
                 f'href="javascript:void(0)">{attr(_admin("Add Filter"))}</a>\n'
                 '<div class="dropdown-menu field-filters">\n']
                + [f'<a href="javascript:void(0)" class="dropdown-item filter" onclick="return false;">{attr(k)}</a>\n'
                   for k in groups] + ["</div>\n</li>\n"])))
        if c.get("can_set_page_size"):
            size = c["page_size"]
            out.append('<li class="nav-item dropdown">\n<a class="nav-link dropdown-toggle" data-toggle="dropdown" '
                       f'href="javascript:void(0)">\n{attr(size)} {attr(_admin("items"))}\n</a>\n'
                       '<div class="dropdown-menu">\n')
            url = c["page_size_url"]
            for option in self.page_size_options:
                label = admin_ngettext(f"{option} item", f"{option} items", option)
                out.append(f'<a class="dropdown-item{" active" if size == option else ""}" href="{attr(url(option))}">'
                           f"{attr(label)}</a>\n")
            out.append("</div>\n</li>\n")
        if c.get("actions"):
            out.append(self.piece("actions", lambda: "".join(
                ['<li class="nav-item dropdown">\n<a class="nav-link dropdown-toggle" data-toggle="dropdown" '
                 'href="javascript:void(0)" role="button" aria-haspopup="true" aria-expanded="false">'
                 f'{attr(_admin("With selected"))}</a>\n<div class="dropdown-menu">\n']
                + [f'<a class="dropdown-item" href="javascript:void(0)" onclick="return modelActions.execute('
                   f"'{attr(name)}');\">{attr(admin_gettext(text))}</a>\n" for name, text in c["actions"]]
                + ["</div>\n</li>\n"])))
        if c.get("search_supported"):
            out.append(f'<li class="nav-item ml-2">\n{self.search_form_html(c)}</li>\n')
        return Markup("".join(out))

    def export_html(self) -> str:
        """list.html's export_options: the export links carry the list's arguments."""
        args = request.args.to_dict()
        title = attr(_admin("Export"))
        types = self.export_types
        if len(types) == 1:
            url = self.get_url(".export", **{**args, "export_type": types[0]})
            return f'<li>\n<a class="nav-link" href="{attr(url)}" title="{title}">{title}</a>\n</li>\n'
        out = ['<li class="dropdown">\n<a class="nav-link dropdown-toggle" data-toggle="dropdown" '
               f'href="javascript:void(0)" role="button" aria-haspopup="true" aria-expanded="false">{title}</a>\n'
               '<div class="dropdown-menu">\n']
        for kind in types:
            url = self.get_url(".export", **{**args, "export_type": kind})
            out.append(f'<a class="dropdown-item" href="{attr(url)}" title="{title}">'
                       f'{attr(_admin("Export") + " " + kind.upper())}</a>\n')
        out.append("</div>\n</li>\n")
        return "".join(out)

    def before_filters_html(self, count: Any) -> Markup:
        """The list's count ("共 N 条" / "超过 N 条"), 导入, 待我办理 and 只看超时, before Flask-Admin's filters."""
        out = []
        if count is not None:
            text = _ours("超过 %(n)d 条", n=count) if g.get("count_capped") else _ours("共 %(n)d 条", n=count)
            out.append(f'<li class="nav-item"><span class="nav-link disabled">\n{attr(text)}\n</span></li>\n')
        if self.can_import:
            out.append(self.piece("import", lambda: f'<li class="nav-item"><a class="nav-link" id="fd-import-link" '
                                  f'href="{attr(self.get_url(".import_view"))}">{attr(_ours("导入"))}</a></li>\n'))
        if self.has_queue():
            out.append(self._switch("mine", ('class="nav-link active bg-primary text-white" id="fd-mine-on"',
                                             _ours("待我办理 ✕")),
                                    ('class="nav-link" id="fd-mine"', _ours("待我办理"))))
        if getattr(self.model, "deadlines", None):
            out.append(self._switch("overdue", ('class="nav-link active bg-danger text-white"', _ours("只看超时 ✕")),
                                    ('class="nav-link text-danger"', _ours("只看超时"))))
        return Markup("".join(out))

    def _switch(self, arg: str, on: tuple[str, str], off: tuple[str, str]) -> str:
        """A list switch (待我办理, 只看超时): its (attributes, text) when on, which links back to the whole list,
        and when off, which links to the list with `arg=1`."""
        active = request.args.get(arg) == "1"
        attrs, text = on if active else off
        url = self.get_url(".index_view") if active else self.get_url(".index_view", **{arg: 1})
        return f'<li class="nav-item">\n<a {attrs} href="{attr(url)}">{attr(text)}</a>\n</li>\n'

    def _hidden_inputs(self, c: Any, filters: bool) -> list[str]:
        out = []
        items = list(c["filter_args"].items()) if filters else []
        if filters and c["page_size"] != c["default_page_size"]:
            items.append(("page_size", c["page_size"]))
        items += list(c["extra_args"].items())
        for name, value in items:
            out.append(f'<input type="hidden" name="{attr(name)}" value="{attr(value)}">\n')
        if c["sort_column"] is not None:
            out.append(f'<input type="hidden" name="sort" value="{attr(c["sort_column"])}">\n')
        if c["sort_desc"]:
            out.append('<input type="hidden" name="desc" value="1">\n')
        return out

    def search_form_html(self, c: Any) -> str:
        """layout.html's search_form."""
        search = c.get("search")
        placeholder = attr(_admin("%(placeholder)s", placeholder=c["search_placeholder"]))
        button = f'<button class="btn btn-secondary my-2 my-sm-0 ml-2" type="submit">{attr(_admin("Search"))}' \
                 "</button>\n"
        out = [f'<form method="GET" action="{attr(c["return_url"])}" class="form-inline my-2 my-lg-0" role="search">\n']
        out += self._hidden_inputs(c, True)
        if search:
            out.append('<div class="form-inline input-group">\n<input  class="form-control col-auto" size="30" '
                       f'type="text" name="search" value="{attr(search)}"\nplaceholder="{placeholder}">\n'
                       '<div class="input-group-append">\n<span class="input-group-text">\n'
                       f'<a href="{attr(c["clear_search_url"])}" class="align-middle">\n'
                       '<span class="fa fa-times glyphicon glyphicon-remove"></span>\n</a>\n</span>\n</div>\n'
                       f"{button}</div>\n")
        else:
            out.append('<div class="form-inline">\n<input class="form-control col-auto" size="30" type="text" '
                       f'name="search" value=""\nplaceholder="{placeholder}">\n{button}</div>\n')
        out.append("</form>\n")
        return "".join(out)

    @pass_context
    def filter_form_html(self, context: Any) -> Markup:
        """layout.html's filter_form (the active filters' rows are drawn by Flask-Admin's script)."""
        c = context
        out = [f'<form id="filter_form" method="GET" action="{attr(c["return_url"])}">\n']
        extra = [f'<input type="hidden" name="{attr(k)}" value="{attr(v)}">\n' for k, v in c["extra_args"].items()]
        out += extra
        if c["sort_column"] is not None:
            out.append(f'<input type="hidden" name="sort" value="{attr(c["sort_column"])}">\n')
        if c["sort_desc"]:
            out.append('<input type="hidden" name="desc" value="1">\n')
        if c.get("search"):
            out.append(f'<input type="hidden" name="search" value="{attr(c["search"])}">\n')
        if c["page_size"] != c["default_page_size"]:
            out.append(f'<input type="hidden" name="page_size" value="{attr(c["page_size"])}">\n')
        out.append('<div class="pull-right">\n<button type="submit" class="btn btn-primary d-none">'
                   f'{attr(_admin("Apply"))}</button>\n')
        if c.get("active_filters"):
            out.append(f'<a href="{attr(c["clear_search_url"])}" class="btn btn-secondary">'
                       f'{attr(_admin("Reset Filters"))}</a>\n')
        out.append('</div>\n\n<table class="filters"></table>\n</form>\n<div class="clearfix"></div>\n')
        return Markup("".join(out))

    @pass_context
    def list_header_html(self, context: Any) -> Markup:
        """list.html's `list_header` block: the checkbox column, the actions column, a sortable link per column."""
        c = context
        out = []
        if c.get("actions"):
            out.append(self.piece("rowtoggle", lambda: '<th class="list-checkbox-column">\n<input type="checkbox" '
                                  'name="rowtoggle" class="action-rowtoggle" '
                                  f'title="{attr(_admin("Select all records"))}" />\n</th>\n'))
        if self.column_display_actions:
            out.append('<th class="">&nbsp;</th>\n')
        sort_column, sort_url = c.get("sort_column"), c["sort_url"]
        descriptions = self.column_descriptions or {}
        for column, (name, label) in enumerate(c["list_columns"]):
            out.append(f'<th class="column-header col-{attr(name.replace(".", "-"))}">\n')
            if self.is_sortable(name):
                title = attr(_admin("Sort by %(name)s", name=label))
                if sort_column == column:
                    arrow = "down" if c.get("sort_desc") else "up"
                    out.append(f'<a href="{attr(sort_url(column, True))}" title="{title}">\n{attr(label)}\n'
                               f'<span class="fa fa-chevron-{arrow} glyphicon glyphicon-chevron-{arrow}"></span>\n'
                               "</a>\n")
                else:
                    out.append(f'<a href="{attr(sort_url(column))}" title="{title}">{attr(label)}</a>\n')
            else:
                out.append(f"{attr(label)}\n")
            if descriptions.get(name):
                out.append(f'<a class="fa fa-question-circle glyphicon glyphicon-question-sign" '
                           f'title="{attr(descriptions[name])}" href="javascript:void(0)" data-role="tooltip"\n></a>\n')
            out.append("</th>\n")
        return Markup("".join(out))

    @pass_context
    def rows_html(self, context: Any, data: Any) -> Markup:
        """Every row of the page (list.html's loop over `data` with its `list_row` block), or its empty message."""
        if not data:
            return Markup('<tr>\n<td colspan="999">\n<div class="text-center">\n'
                          f"{attr(self.get_empty_list_message())}\n</div>\n</td>\n</tr>\n")
        render = self._row_renderer(context)
        return Markup("".join(f"<tr>\n{render(row)}\n</tr>\n" for row in data))

    def form_css_html(self) -> Markup:
        """lib.html's `form_css` (the style sheets of the filters' widgets), kept per prefix."""
        static = f"{self.admin.endpoint}.static"
        return Markup(self.piece("form_css", lambda: "".join(
            f'<link href="{attr(self.get_url(static, filename=name, v=v))}" rel="stylesheet">\n'
            for name, v in (("vendor/select2/select2.css", "4.2.1"), ("vendor/select2/select2-bootstrap4.css", "1.4.6"),
                            ("vendor/bootstrap-daterangepicker/daterangepicker-bs4.css", "1.3.22")))))

    @pass_context
    def pager_html(self, context: Any) -> Markup:
        """lib.html's `pager` (pages known: up to seven numbered links around this one) or `simple_pager`."""
        c = context
        page, pages, url = c["page"], c["num_pages"], c["pager_url"]

        def item(href: str | None, text: Any, state: str = "") -> str:
            link = attr(url(href)) if href is not None else "javascript:void(0)"
            return f'<li class="page-item{state}">\n<a class="page-link" href="{link}">{text}</a>\n</li>\n'
        if pages is None:  # no count: back, and on when this page is full
            return Markup('<ul class="pagination">\n'
                          + (item(page - 1, "&lt;") if page > 0 else item(0, "&lt;", " disabled"))
                          + (item(page + 1, "&gt;") if len(c["data"]) == c["page_size"] else
                             item(page, "&gt;", " disabled")) + "</ul>")
        if pages <= 1:
            return Markup("")
        low, high = page - 3, page + 4
        if low < 0:
            high -= low
        if high >= pages:
            low = low - high + pages
        low, high = max(low, 0), min(high, pages)
        out = ['<ul class="pagination">\n',
               item(0, "&laquo;") if low > 0 else item(None, "&laquo;", " disabled"),
               item(page - 1, "&lt;") if page > 0 else item(None, "&lt;", " disabled")]
        out += [item(None, p + 1, " active") if p == page else item(p, p + 1) for p in range(low, high)]
        out += [item(page + 1, "&gt;") if page + 1 < pages else item(None, "&gt;", " disabled"),
                item(pages - 1, "&raquo;") if high < pages else item(None, "&raquo;", " disabled"), "</ul>"]
        return Markup("".join(out))

    def action_form(self, obj: Any = None) -> Any:
        """The bulk actions' form; the list page (register_list.html) writes its three hidden inputs itself
        (actions_form_html), so the list does not build a WTForms form it only prints."""
        if request.method == "GET" and self.list_template == FAST_LIST and \
                request.endpoint == f"{self.endpoint}.index_view":
            return None
        return super().action_form(obj)

    @pass_context
    def actions_form_html(self, context: Any) -> Markup:
        """actions.html's `form`: the hidden form the bulk actions post (their dropdown fills in the action), with
        the inputs the form would print: its CSRF token (SecureForm's, Flask-WTF's per session), url and action."""
        c = context
        if not c.get("actions"):
            return Markup("")
        return Markup(f'<form id="action_form" action="{attr(self.get_url(".action_view"))}" method="POST" '
                      'class="d-none">\n'
                      f'<input id="csrf_token" name="csrf_token" type="hidden" value="{attr(generate_csrf())}">\n'
                      f'<input id="url" name="url" type="hidden" value="{attr(c.get("return_url") or "")}">\n'
                      '<input id="action" name="action" type="hidden" value="">\n</form>\n')

    @pass_context
    def tail_html(self, context: Any) -> Markup:
        """list.html's `tail` block: the filters' data, Flask-Admin's scripts, the bulk actions' messages."""
        c = context
        policies = current_app.jinja_env.policies  # Jinja's tojson filter, as Flask sets it up

        def tojson(value: Any) -> Markup:
            return htmlsafe_json_dumps(value, dumps=policies["json.dumps_function"], **policies["json.dumps_kwargs"])
        nonce = c.get("admin_csp_nonce_attribute") or ""
        out = []
        if c.get("filter_groups"):
            out.append(f'<div id="filter-groups-data" class="d-none">{tojson(c["filter_groups"])}</div>\n'
                       f'<div id="active-filters-data" class="d-none">{tojson(c["active_filters"])}</div>\n')

        def scripts() -> str:
            static = f"{self.admin.endpoint}.static"
            return "".join(f'<script {nonce} src="{attr(self.get_url(static, filename=name, v=v))}"></script>\n'
                           for name, v in (("vendor/bootstrap-daterangepicker/daterangepicker.js", "1.3.22"),
                                           ("admin/js/form.js", "1.0.1"), ("admin/js/bs4_modal.js", "1.0.0"),
                                           ("admin/js/bs4_filters.js", "1.0.0")))
        out.append(self.piece("scripts", scripts) if not nonce else scripts())
        if c.get("actions"):
            message = _admin("Please select at least one record.")
            script = self.get_url(f"{self.admin.endpoint}.static", filename="admin/js/actions.js", v="1.0.0")
            out.append(f'<div id="actions-confirmation-data" class="d-none">{tojson(c["actions_confirmation"])}</div>\n'
                       f'<div id="message-data" class="d-none">{tojson(message)}</div>\n<script {nonce} '
                       f'src="{attr(script)}"></script>\n')
        return Markup("".join(out))
