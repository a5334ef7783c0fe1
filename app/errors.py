"""Error pages a person can read: Chinese (or English) in the app's own frame, with a way home.

Every HTTP error the app raises (abort(403), a missing page, a wrong method, a stale CSRF token, a throttle,
an unexpected exception) is rendered by `errors/error.html` through the dashboard view, so the header, the
menu of what this user may open and the language switch are there. `request_id` is shown when a request id
is in the template context (g.request_id).
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from kernel.db import db

PAGES: dict[int, tuple[Any, Any]] = {
    400: (_l("请求无效"), _l("提交的内容不完整或页面已过期。请返回上一页，刷新后重新操作。")),
    403: (_l("无权访问"), _l("您当前的角色不能打开此页面或办理此操作。如需权限，请联系主管或IT。")),
    404: (_l("页面不存在"), _l("找不到该页面或记录：可能已被删除、编号有误，或属于其他项目。")),
    405: (_l("不支持的操作"), _l("该地址不接受这种请求。请从页面上的按钮或菜单进入。")),
    429: (_l("操作过于频繁"), _l("请稍后再试。")),
    500: (_l("系统出错"), _l("服务器处理时出错，您的操作没有保存。请稍后重试；如再次出现，请联系IT。")),
}
MSG_CSRF = _l("页面已过期（安全令牌失效）。请返回上一页，刷新后重新提交。")


def page(code: int, message: Any = None) -> tuple[str, int]:
    title, text = PAGES.get(code, PAGES[500] if code >= 500 else PAGES[400])
    args = dict(code=code, title=str(title), message=str(message or text), request_id=g.get("request_id"))
    try:
        admin = current_app.extensions.get("frontdesk_admin")
        if admin is not None:
            return admin.index_view.render("errors/error.html", **args), code
    except Exception:  # the frame itself may be what failed (the database is down): fall back to a bare page
        current_app.logger.exception("error page frame failed")
        db.session.rollback()
    return render_template("errors/bare.html", **args), code


def handle_http(e: HTTPException) -> Any:
    if e.code is None or e.code < 400:
        return e
    if isinstance(e, CSRFError):
        return page(400, MSG_CSRF)
    return page(e.code)


def handle_crash(e: Exception) -> Any:
    original = getattr(e, "original_exception", None) or e
    current_app.logger.error("unhandled error", exc_info=original)
    try:
        db.session.rollback()
    except Exception:  # nothing more to undo
        pass
    return page(500)


def install(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(InternalServerError, handle_crash)
