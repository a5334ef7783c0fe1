"""The work queue of a register: the records waiting for *me* now, in SQL, from the declarations.

A record waits for me when
- a declared step (`@transition`) that queues (`Transition.queued`: a forward step, not 驳回/取消/作废) names one of
  my roles at this property and the record is in one of its source states, and the step's own rules would not
  refuse me for who I am: not my own record on a sign-off step, not a record about me, not a parallel review
  already signed, not a step after one I took (`distinct_from`); or
- it is overdue on one of the register's deadlines and my role keeps the register (may edit it).

`mine_clause()` is that as one SQL clause: the list filter `?mine=1`, the home page's counts and its queue
all use it, so a count and the rows behind its link are the same rows. Conditions a step checks in Python
(`conditions`, `requires`) are not in the clause: the step's page says why, greyed.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app, url_for
from flask_login import current_user
from sqlalchemy import and_, case, exists, false, func, literal, or_, select, union_all

from app.admin import statements
from kernel import permissions, scoping
from kernel.clock import now
from kernel.deadlines import deadline_clause, late_params, open_states_of, overdue_clause
from kernel.i18n import T
from kernel.register import model_for
from kernel.workflow import SignOff, Transition

MINUTE, HOUR, DAY = T("分钟", " min"), T("小时", " h"), T("天", " d")


def waited(delta: timedelta) -> str:
    """How long, as a person says it: 2天3小时, 5小时10分钟, 7分钟."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}{DAY}{hours}{HOUR}" if hours else f"{days}{DAY}"
    if hours:
        return f"{hours}{HOUR}{mins}{MINUTE}" if mins else f"{hours}{HOUR}"
    return f"{mins}{MINUTE}"


def queue_steps(model: type, roles: Any) -> list[Transition]:
    """The steps that put a record of `model` into the queue of someone holding `roles`."""
    roles = set(roles)
    return [t for t in model.transitions.values() if t.queued and roles & set(t.roles)]


def by_state_alone(model: type, t: Transition) -> bool:
    """`step_clause` of `t` is its source states alone: no rule about who takes the step."""
    return not (t.sign_off or t.together_with or t.distinct_from or getattr(model, "not_edited_by", ()))


def step_clause(model: type, t: Transition, user_id: int) -> Any:
    """SQL: records on which the user may take `t` now, as far as state and who they are decide."""
    parts = [model.state.in_(t.source)]
    if t.sign_off:
        parts.append(or_(model.created_by_id.is_(None), model.created_by_id != user_id))
    for name in getattr(model, "not_edited_by", ()):
        col = getattr(model, name)
        parts.append(or_(col.is_(None), col != user_id))
    register = model.__tablename__
    if t.together_with:  # a parallel review I (or a colleague in my role) already signed waits for the others
        parts.append(~exists().where(SignOff.register == register, SignOff.record_id == model.id,
                                     SignOff.transition == t.name,
                                     or_(model.state_changed_at.is_(None), SignOff.at >= model.state_changed_at)))
    if t.distinct_from:
        parts.append(~exists().where(SignOff.register == register, SignOff.record_id == model.id,
                                     SignOff.transition.in_(t.distinct_from), SignOff.user_id == user_id))
    return and_(*parts)


class Queue:
    """The register's part of the work queue (mixed into RegisterView)."""

    def has_queue(self) -> bool:
        """Records of this register can wait for the current roles at all (the list offers 待我办理)."""
        return bool(queue_steps(self.model, self.roles)) or self.late_in_queue()

    def mine_clause(self, bound: bool = False) -> Any:
        """SQL: the records of this register waiting for the current user now (see the module's docstring).
        `bound`: who and "now" are left to parameters (statements.params, kernel.deadlines.late_params), for a
        kept statement."""
        model, roles = self.model, self.roles
        if not current_user.is_authenticated or not hasattr(model, "state"):
            return false()
        steps = queue_steps(model, roles)
        user = statements.USER if bound else current_user.id
        # states in which a step waits for me by the state alone (no rule about who I am): one IN over them
        # says it, and any other clause that holds only in those states adds no row (A or (B and C) is A when
        # B implies A), so the count reads the (property, state, id) index alone instead of every waiting row
        plain = {s for t in steps if by_state_alone(model, t) for s in t.source}
        clauses = [model.state.in_(sorted(plain))] if plain else []
        clauses += [step_clause(model, t, user) for t in steps if not set(t.source) <= plain]
        states: set[str] | None = {s for t in steps for s in t.source}
        if self.late_in_queue():
            open_states = [open_states_of(model, d) for d in model.deadlines]
            if not (all(open_states) and {s for o in open_states for s in o} <= plain):
                clauses.append(overdue_clause(model, bound=bound))
            states = states | {s for o in open_states for s in o} if all(open_states) else None
        if not clauses:
            return false()
        if len(clauses) == 1 and plain:
            return clauses[0]
        # one IN over the states first lets the (property, state, id) index narrow the rows before the OR
        return and_(model.state.in_(sorted(states)), or_(*clauses)) if states else or_(*clauses)

    def kept_query(self) -> Any:
        """The list's rows with who and where as parameters (statements.USER, statements.PROPERTY); a screen
        that narrows its own get_query keeps its query (and `kept_where` keys its statements by user and place)."""
        if self.own_query():
            return self.get_query()
        return self.scoped_query(statements.USER, statements.PROPERTY)

    def own_query(self) -> bool:
        return type(self).get_query.__qualname__ != "RegisterView.get_query"

    def kept_where(self) -> tuple:
        """What a kept statement of this screen depends on besides the roles (statements.who())."""
        return (current_user.id, scoping.current_property_id()) if self.own_query() else ()

    def capped_select(self, clause: Any, cap: int, kept: bool = False) -> Any:
        """SQL (a scalar subquery): how many rows of the list match `clause`, stopping at cap + 1; `kept`: for a
        kept statement (who and where as parameters)."""
        query = self.kept_query() if kept else self.get_query()
        return statements.capped_count(query.filter(clause), self.model.id, cap).scalar_subquery()

    def capped_count(self, clause: Any) -> int:
        """How many rows of the list match `clause`, counted like the list counts (stops past the cap)."""
        cap = current_app.config["LIST_COUNT_CAP"]
        return min(self.session.execute(select(self.capped_select(clause, cap))).scalar_one(), cap + 1)

    def queue_statement(self, limit: int) -> Any:
        """The query behind `queue_rows`, who and "now" left to parameters: kept per property and roles."""
        def build() -> Any:
            model = self.model
            deadlines = getattr(model, "deadlines", ())
            late_cols = [case((deadline_clause(model, d, None, bound=i), 1), else_=0).label(f"late{i}")
                         for i, d in enumerate(deadlines)]
            late = case((overdue_clause(model, bound=True), 1), else_=0) if deadlines else literal(0)
            unit = model_for("unit") if hasattr(model, "unit_id") else None

            def columns(late: Any, late_cols: list) -> list:
                return [model.id, model.state, model.state_changed_at,
                        getattr(model, "number", literal(None)).label("number"),
                        (model.unit_id if unit is not None else literal(None)).label("unit_ref"), late.label("late"),
                        *late_cols]
            # the oldest first, then their units' codes: a join before the LIMIT looked up every waiting row's unit
            waiting = self.kept_query().filter(self.mine_clause(bound=True))
            extra = []
            states = self.waiting_states()
            if self.late_in_queue():
                # every overdue record waits for me: the waiting rows read once (materialised) give the queue's
                # first rows and the count of the overdue ones (`queue_and_late`), not a second pass of their own
                waiting = waiting.with_entities(*columns(late, late_cols)).cte("fd_waiting").prefix_with("MATERIALIZED")
                extra = [select(func.coalesce(func.sum(waiting.c.late), 0)).scalar_subquery().label("n_late")]
                first = select(*waiting.c).order_by(waiting.c.late.desc(), waiting.c.state_changed_at.asc(),
                                                    waiting.c.id.asc()).limit(limit).subquery()
            elif states:
                first = self._oldest_per_state(waiting, states, limit, columns)
            else:
                first = (waiting.with_entities(*columns(late, late_cols))
                         .order_by(late.desc(), model.state_changed_at.asc(), model.id.asc()).limit(limit).subquery())
            # the unit's code looked up for those rows alone (a join let PostgreSQL hash every unit of the estate)
            code = (select(unit.code).where(unit.id == first.c.unit_ref).scalar_subquery() if unit is not None
                    else literal(None))
            statement = select(*[c for c in first.c if c.name != "unit_ref"], code.label("unit_code"), *extra)
            return (statement.order_by(first.c.late.desc(), first.c.state_changed_at.asc(), first.c.id.asc())
                    .limit(limit))  # a union of states holds up to `limit` rows of each
        return statements.kept(("queue_rows", self.register, statements.who(), self.kept_where(), limit), build)

    def waiting_states(self) -> set[str] | None:
        """The states a record must be in to wait for me, when the queue's steps alone decide (else None)."""
        if self.late_in_queue() or not hasattr(self.model, "state"):
            return None
        return {s for t in queue_steps(self.model, self.roles) for s in t.source} or None

    def _oldest_per_state(self, waiting: Any, states: set[str], limit: int, columns: Any) -> Any:
        """The first `limit` waiting rows (overdue first, then the longest waiting), as the union of each state's
        first `limit`: a state in which no deadline runs is read in the order of the (property, state,
        state_changed_at, id) index and stops after `limit` rows. One ORDER BY over all waiting rows sorted every
        one of them: a supervisor's 50,000 回访 orders at 1M rows, 157 ms and 20,000 heap blocks per home page."""
        model = self.model
        branches = []
        for state in sorted(states):
            # a deadline that never runs in this state is never late here: left out, the order is the index's
            deadlines = getattr(model, "deadlines", ())
            runs_in = [open_states_of(model, d) for d in deadlines]
            live = {i for i, states in enumerate(runs_in) if states is None or state in states}
            late_cols = [(case((deadline_clause(model, d, None, bound=i), 1), else_=0) if i in live
                          else literal(0)).label(f"late{i}") for i, d in enumerate(deadlines)]
            late = (case((or_(*[deadline_clause(model, deadlines[i], None, bound=i) for i in sorted(live)]), 1),
                         else_=0) if live else literal(0))
            order = ([late.desc()] if live else []) + [model.state_changed_at.asc(), model.id.asc()]
            branch = (waiting.filter(model.state == state).with_entities(*columns(late, late_cols))
                      .order_by(*order).limit(limit).subquery())
            branches.append(select(*branch.c))
        return union_all(*branches).subquery()

    def late_in_queue(self) -> bool:
        """Every overdue record of this register waits for the current roles: those who may edit it handle its
        late records (`mine_clause` holds the overdue clause, `has_queue` offers 待我办理 for it), so the queue's
        statement can count them too (`queue_and_late`)."""
        return bool(getattr(self.model, "deadlines", ()) and hasattr(self.model, "state")
                    and permissions.allowed(self.roles, self.register, "edit"))

    def queue_rows(self, limit: int, at: datetime | None = None) -> list[dict]:
        """The oldest waiting records, overdue first: number, unit, what waits, since when, one link each."""
        return self.queue_and_late(limit, at)[0]

    def queue_and_late(self, limit: int, at: datetime | None = None) -> tuple[list[dict], int | None]:
        """`queue_rows`, and how many records are overdue (the list's `?overdue=1`, uncapped) when
        `late_in_queue`, else None: one statement instead of a count of its own."""
        model, at = self.model, at or now()
        steps = queue_steps(model, self.roles)
        deadlines = getattr(model, "deadlines", ())
        out, n_late = [], (0 if self.late_in_queue() else None)
        shown = self.display().value("state")
        details = None  # the details page's URL, + "?id=<id>" as url_for adds it
        by_state: dict[Any, tuple] = {}  # per state: its label, what waits and the step's anchor
        labels = [str(d.label) for d in deadlines]
        for row in self.session.execute(self.queue_statement(limit), statements.params(**late_params(model, at))):
            if n_late is not None:
                n_late = int(row.n_late or 0)
            if details is None:
                details = url_for(f"{self.endpoint}.details_view")
            if row.state not in by_state:
                waiting = [t for t in steps if row.state in t.source]
                by_state[row.state] = (shown(row.state), "、".join(str(t.label) for t in waiting),
                                       f"#step-{waiting[0].name}" if waiting else "")
            state, steps_waiting, anchor = by_state[row.state]
            late_labels = [labels[i] for i in range(len(deadlines)) if getattr(row, f"late{i}")]
            out.append(dict(
                view=self, id=row.id, number=row.number or f"#{row.id}", unit=row.unit_code or "",
                state=state, waiting=steps_waiting or "、".join(late_labels),
                late="、".join(late_labels), overdue=bool(row.late), since=row.state_changed_at,
                waited=waited(at - row.state_changed_at) if row.state_changed_at else "",
                url=f"{details}?id={int(row.id)}{anchor}"))
        return out, n_late
