"""Login, logout, property and language switch, health check."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select, text
from werkzeug.security import check_password_hash

from app.extensions import limiter, login_manager
from kernel import scoping
from kernel.db import db
from kernel.i18n import T
from kernel.identity import StaffUser

bp = Blueprint("auth", __name__)
MSG_BAD_LOGIN = T("用户名或密码错误", "Wrong username or password")
MSG_THROTTLED = T("登录失败次数过多，请15分钟后再试", "Too many failed logins; try again in 15 minutes")

# Flask-Login's own messages (its defaults are English), shown on the login page after a redirect
login_manager.login_message = _l("请先登录，再打开此页面。")
login_manager.login_message_category = "warning"
login_manager.needs_refresh_message = _l("为了安全，请重新登录。")
login_manager.needs_refresh_message_category = "warning"
login_manager.localize_callback = str  # flash the text of the request's language, not a lazy object


@login_manager.user_loader
def load_user(user_id):
    return db.session.get(StaffUser, int(user_id)) if str(user_id).isdigit() else None


def _safe_next(target):
    if not target:
        return url_for("admin.index")
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else url_for("admin.index")


def _login_key():
    return f"{(request.form.get('username') or '').strip().lower()}|{request.remote_addr}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT"], key_func=_login_key, methods=["POST"],
               deduct_when=lambda response: response.status_code != 302)
def login():
    error = None
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        if user and user.active and check_password_hash(user.password_hash, request.form.get("password") or ""):
            session.clear()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = MSG_BAD_LOGIN
    return render_template("login.html", error=error), (401 if error else 200)


@bp.errorhandler(429)
def throttled(e):
    return render_template("login.html", error=MSG_THROTTLED), 429


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/property", methods=["POST"])
def switch_property():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    raw = request.form.get("property_id", "")
    value = scoping.ALL_PROPERTIES if raw == scoping.ALL_PROPERTIES else (int(raw) if raw.isdigit() else None)
    if not scoping.choose_property(value):
        flash(str(T("您不在该项目工作", "You do not work at that property")), "error")
    return redirect(url_for("admin.index"))


@bp.route("/language/<code>")
def language(code):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        return jsonify(status="ok", database="ok", dialect=db.engine.dialect.name)
    except Exception as ex:  # the point of a health check is to report, not to raise
        db.session.rollback()
        return jsonify(status="error", database="unreachable", error=type(ex).__name__), 503
