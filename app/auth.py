"""Login, logout, property and language switch, health check, one's own password.

Sessions hold the user's session generation; `kernel.identity.end_sessions` bumps it (logout, password change,
reset, deactivation, "log out everywhere"), which ends every session of that user at its next request. An
account whose password IT set (a new account, a reset) must choose its own password before anything else.
Throttling: OWASP "device cookies" (see app/config.py).
"""
from typing import NamedTuple
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Integer, bindparam, func, select, text
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from app.extensions import limiter, login_manager
from kernel import kept, scoping
from kernel.db import db
from kernel.i18n import T
from kernel.identity import (
    PASSWORD_RULE,
    Membership,
    Property,
    Role,
    StaffUser,
    end_sessions,
    hash_password,
    password_weakness,
)
from kernel.notify import Notification

bp = Blueprint("auth", __name__)
GENERATION = "fd_gen"
MSG_CHANGE = T("请先修改初始密码", "Choose your own password first")
OPEN_ENDPOINTS = {"auth.login", "auth.logout", "auth.change_password", "auth.language", "auth.healthz", "static"}
MSG_BAD_LOGIN = T("用户名或密码错误", "Wrong username or password")
MSG_THROTTLED = T("登录失败次数过多，请15分钟后再试", "Too many failed logins; try again in 15 minutes")
DEVICE_COOKIE = "fd_device"

# Flask-Login's own messages (its defaults are English), shown on the login page after a redirect
login_manager.login_message = _l("请先登录，再打开此页面。")
login_manager.login_message_category = "warning"
login_manager.needs_refresh_message = _l("为了安全，请重新登录。")
login_manager.needs_refresh_message_category = "warning"
login_manager.localize_callback = str  # flash the text of the request's language, not a lazy object


class Held(NamedTuple):
    """One membership as kernel.scoping reads it (`g.memberships`)."""

    property_id: int
    role_id: int


class HeldCodes(dict):
    """`g.role_codes` as read with the user: the codes of the roles they hold. A role asked that is not among them
    (memberships read again later in the request) reads every role, as kernel.scoping would have."""

    def __missing__(self, role_id: int) -> tuple[str, bool]:
        self.update({r.id: (r.code, r.company_wide) for r in db.session.scalars(select(Role))})
        return dict.__getitem__(self, role_id)


# The session's user, their memberships with each role's code and reach, the properties' names (the header's
# switch), their unread notifications (the bell) and the generation of the kept reference data (kernel/kept.py),
# in one statement built once: each request still reads them all from the database (a role taken, a deactivated
# account, an ended session, an edited deadline show on the next request).
_UNREAD = (select(func.count()).select_from(Notification)
           .where(Notification.user_id == StaffUser.id, Notification.read_at.is_(None)).scalar_subquery())
SIGNED_IN = (select(StaffUser, Membership.property_id, Membership.role_id, Role.code, Role.company_wide,
                    Property.name, _UNREAD.label("unread"), kept.CURRENT.label("generation"))
             .outerjoin(Membership, Membership.user_id == StaffUser.id)
             .outerjoin(Role, Role.id == Membership.role_id)
             .outerjoin(Property, Property.id == Membership.property_id)
             .where(StaffUser.id == bindparam("fd_uid", type_=Integer())))


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """The session's user, only while active and while the session's generation is the user's current one.
    What kernel.scoping and the header read of them next (memberships, role codes, property names, unread
    count) comes with it and is kept in `g` for this request only."""
    if not str(user_id).isdigit() or len(str(user_id)) > 18:
        return None
    rows = db.session.execute(SIGNED_IN, {"fd_uid": int(user_id)}).all()
    user = rows[0][0] if rows else None
    if user is None or not user.active or session.get(GENERATION) != user.session_generation:
        return None
    held = [r for r in rows if r.property_id is not None]
    if "memberships" not in g and "role_codes" not in g:
        g.memberships = [Held(r.property_id, r.role_id) for r in held]
        g.role_codes = HeldCodes({r.role_id: (r.code, r.company_wide) for r in held})
    g.fd_property_names = {r.property_id: r.name for r in held}
    g.fd_unread = rows[0].unread or 0
    kept.read(rows[0].generation)  # which kept reference data is current (kernel/kept.py)
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


def _safe_next(target: str | None) -> str:
    """A path on this site only: `//host`, `/\\host`, schemes and hosts are refused."""
    if not target:
        return url_for("admin.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return url_for("admin.index")
    return target


def _username() -> str:
    return (request.form.get("username") or "").strip().lower()[:40]


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="fd-device")


def known_device() -> bool:
    """This browser logged in before as the user it now names (a signed cookie per user)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return False
    try:
        names = _devices().loads(raw, max_age=current_app.config["DEVICE_COOKIE_DAYS"] * 86400)
    except BadSignature:
        return False
    return isinstance(names, list) and _username() in names


def _failed(response: Response) -> bool:
    return request.method == "POST" and response.status_code != 302


def _limit(name: str):
    return lambda: current_app.config[name]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_limit("LOGIN_ADDRESS_LIMIT"), key_func=lambda: f"addr|{request.remote_addr}", methods=["POST"],
               deduct_when=_failed, exempt_when=known_device)
@limiter.limit(_limit("LOGIN_ACCOUNT_LIMIT"), key_func=lambda: f"acct|{_username()}", methods=["POST"],
               deduct_when=_failed, exempt_when=known_device)
@limiter.limit(_limit("LOGIN_FAILURE_LIMIT"), key_func=lambda: f"acct+addr|{_username()}|{request.remote_addr}",
               methods=["POST"], deduct_when=_failed, exempt_when=known_device)
@limiter.limit(_limit("LOGIN_DEVICE_LIMIT"), methods=["POST"], deduct_when=_failed,
               key_func=lambda: f"device|{_username()}|{request.cookies.get(DEVICE_COOKIE)}",
               exempt_when=lambda: not known_device())
def login() -> Response | tuple:
    error = None
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        if user and user.active and check_password_hash(user.password_hash, request.form.get("password") or ""):
            session.clear()  # nothing of a previous user's session survives (a shared desk browser)
            login_user(user)
            session[GENERATION] = user.session_generation
            response = redirect(url_for("auth.change_password") if user.must_change_password
                                else _safe_next(request.args.get("next")))
            _remember_device(response, username)
            return response
        error = MSG_BAD_LOGIN
    return render_template("login.html", error=error), (401 if error else 200)


def _remember_device(response: Response, username: str) -> None:
    names = []
    raw = request.cookies.get(DEVICE_COOKIE)
    if raw:
        try:
            names = _devices().loads(raw, max_age=current_app.config["DEVICE_COOKIE_DAYS"] * 86400)
        except BadSignature:
            names = []
    names = [n for n in names if n != username.lower()][-4:] + [username.lower()]
    response.set_cookie(DEVICE_COOKIE, _devices().dumps(names), httponly=True, samesite="Lax",
                        max_age=current_app.config["DEVICE_COOKIE_DAYS"] * 86400, secure=request.is_secure)
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
        elif password_weakness(user.username, new):
            error = password_weakness(user.username, new)
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
    return render_template("password.html", error=error, rule=PASSWORD_RULE), (400 if error else 200)


@bp.errorhandler(429)
def throttled(e: Exception) -> tuple:
    return render_template("login.html", error=MSG_THROTTLED), 429


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Logging out ends every session of the user (a copied cookie stops working too)."""
    if current_user.is_authenticated:
        end_sessions(db.session.get(StaffUser, current_user.id))
        db.session.commit()
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
