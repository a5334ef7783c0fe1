"""How a screen says which operation it performs, and where an anonymous visitor is sent."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import abort, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from werkzeug.wrappers import Response

# Flask-Admin's own views -> the operation each performs (RegisterView's guard reads this and `endpoint`).
STOCK_OPERATIONS = {
    "index_view": ("list",), "details_view": ("details",), "create_view": ("create",), "edit_view": ("edit",),
    "delete_view": ("delete",), "export": ("export",), "ajax_update": ("edit",),
    "ajax_lookup": ("create", "edit"),  # only forms search for linked records
}


def endpoint(url: str, operation: str | Iterable[str], methods: Iterable[str] = ("GET",)) -> Callable:
    """Expose a view method and declare the operation it needs: `@endpoint("/print/", "details")`.

    A method exposed without a declared operation is refused by the guard, so a new screen cannot
    be reached before someone decides who may reach it. `operation="self"` means the method checks
    for itself (actions and steps, whose operation depends on what is posted).
    """
    ops = (operation,) if isinstance(operation, str) else tuple(operation)

    def deco(fn: Callable) -> Callable:
        fn._operations = ops
        return expose(url, methods=tuple(methods))(fn)
    return deco


def operations_of(view: object, name: str) -> tuple[str, ...] | None:
    """The operations a view method (of a view or its class) declares, or Flask-Admin's own mapping."""
    fn = getattr(view if isinstance(view, type) else type(view), name, None)
    return getattr(fn, "_operations", None) or STOCK_OPERATIONS.get(name)


def login_redirect() -> Response:
    return redirect(url_for("auth.login", next=request.full_path))


class SignedInPage:
    """A page beside the registers (charts, daily summary, overview, inbox, outbox): an anonymous visitor is sent to
    the login page, a user whose roles may not open it (`is_accessible`) gets 403."""

    def _handle_view(self, name: str, **kwargs: object) -> Response | None:
        if not current_user.is_authenticated:
            return login_redirect()
        if not self.is_accessible():
            abort(403)
        return None
