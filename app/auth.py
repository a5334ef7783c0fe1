"""Login, logout, property and language switch, health check, one's own password.

Sessions hold the user's session generation; `kernel.identity.end_sessions` bumps it (password reset,
deactivation), which ends every session of that user at its next request. An account whose password IT set
(a new account, a reset) must choose its own password before anything else.
"""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select, text
from werkzeug.security import check_password_hash

from app.extensions import limiter, login_manager
from kernel import scoping
from kernel.db import db
from kernel.i18n import T
from kernel.identity import StaffUser, end_sessions, hash_password

bp = Blueprint("auth", __name__)
GENERATION = "fd_gen"
MSG_CHANGE = T("请先修改初始密码", "Choose your own password first")
OPEN_ENDPOINTS = {"auth.login", "auth.logout", "auth.change_password", "auth.language", "auth.healthz", "static"}
MSG_BAD_LOGIN = T("用户名或密码错误", "Wrong username or password")
MSG_THROTTLED = T("登录失败次数过多，请15分钟后再试", "Too many failed logins; try again in 15 minutes")


@login_manager.user_loader
def load_user(user_id):
    """The session's user, only while active and while the session's generation is the user's current one."""
    if not str(user_id).isdigit() or len(str(user_id)) > 18:
        return None
    user = db.session.get(StaffUser, int(user_id))
    if user is None or not user.active or session.get(GENERATION) != user.session_generation:
        return None
    return user


@bp.before_app_request
def password_first():
    """An initial or reset password is IT's: nothing but the password page until the user chose their own."""
    endpoint = request.endpoint or ""
    if endpoint in OPEN_ENDPOINTS or endpoint.endswith("static") or not current_user.is_authenticated:
        return None
    if current_user.must_change_password:
        flash(str(MSG_CHANGE), "warning")
        return redirect(url_for("auth.change_password"))
    return None


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
            session[GENERATION] = user.session_generation
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")))
        error = MSG_BAD_LOGIN
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    """Anyone's own password; the forced stop after an initial or reset password."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.path))
    error = None
    if request.method == "POST":
        user = db.session.get(StaffUser, current_user.id)
        old, new = request.form.get("password") or "", request.form.get("new_password") or ""
        if not check_password_hash(user.password_hash, old):
            error = T("当前密码不正确", "The current password is wrong")
        elif len(new) < 8 or len(new) > 128:
            error = T("新密码至少8位", "The new password needs at least 8 characters")
        elif new != (request.form.get("new_password_again") or ""):
            error = T("两次输入的新密码不一致", "The two new passwords differ")
        elif new == old:
            error = T("新密码不能与当前密码相同", "Choose a password different from the current one")
        else:
            user.password_hash = hash_password(new)
            user.must_change_password = False
            end_sessions(user)  # every other session opened with the old password ends
            db.session.commit()
            session[GENERATION] = user.session_generation
            flash(str(T("密码已修改", "Password changed")), "success")
            return redirect(url_for("admin.index"))
    return render_template("password.html", error=error), (400 if error else 200)


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
