"""The list of a register: scoped rows, capped counts, indexed search, filters, the overdue switch, and values
shown through the register's Display (one function per column per request, never a check per cell)."""
from __future__ import annotations

from typing import Any

from flask import abort, current_app, g, request
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import joinedload

from kernel import scoping
from kernel.deadlines import overdue_clause, overdue_for
from kernel.register import blind_indexes, model_for

DEEP_PAGE_ROWS = 500  # from this offset on, find the page's ids from the index alone first
LAST_PAGE = 10_000_000  # beyond any list; keeps OFFSET inside a 64-bit integer
SEARCH_TERMS = 5
UNITS_PER_SEARCH = 500


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
        """The list's rows before sorting and paging: scope, search, filters, the overdue switch."""
        query, joins, count_joins = self.get_query(), {}, {}
        if self._search_supported and search:
            query, _, joins, _ = self._apply_search(query, None, joins, count_joins, search)
        if filters and self._filters:
            query, _, joins, _ = self._apply_filters(query, None, joins, count_joins, filters)
        if request.args.get("overdue") == "1":
            query = query.filter(overdue_clause(self.model))
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
