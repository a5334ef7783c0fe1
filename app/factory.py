"""Application factory: configuration, extensions, the kernel's hooks, screens, and the start-up checks."""
from __future__ import annotations

import gc
import importlib
import json
import os
from pathlib import Path
from typing import Any

from flask import Flask, abort, redirect, request, session, url_for
from flask_admin import Admin
from flask_admin import babel as fa_babel
from flask_admin.theme import Bootstrap4Theme

import admin_views
import models  # noqa: F401  (registers every model on the metadata)
from app import clock_control, errors, observe, security
from app.admin import checks as _view_checks  # noqa: F401
from app.auth import bp as auth_bp
from app.cli import register_cli
from app.config import Config
from app.dashboard import Dashboard
from app.extensions import babel, csrf, limiter, login_manager, migrate
from app.templating import install as install_templating
from app.verify import bp as verify_bp
from kernel import attachments, audit, checks, delivery, kept, notify, numbering, pii  # noqa: F401  (delivery: outbox probes)
from kernel.db import db, ping_when_idle
from kernel.i18n import T

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def create_app(config_object: type = Config, **overrides: Any) -> Flask:
    app = Flask(__name__)
    app.config.from_object(config_object)
    app.config.update(overrides)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # psycopg prepares a statement after 5 runs and PostgreSQL may then keep a generic plan, which
        # cannot see that a prefix range or a rare state is selective: lists went from 1 ms to 500 ms.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {**options.get("connect_args", {}), "prepare_threshold": None}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
        cache_long_statements()
    security.install(app)

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_when_idle(engine, app.config["DB_PING_IDLE_SECONDS"])
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", MIGRATIONS)), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    babel.init_app(app, locale_selector=lambda: session.get("lang") or app.config["BABEL_DEFAULT_LOCALE"])
    configure_pii(app)
    audit.install()
    kept.install()  # reference data kept per process, checked against the database every request
    numbering.install()
    pii.install()
    notify.install()  # who is told of what: inbox and outbox rows in the transaction of the change
    app.after_request(audit.write_denied)
    app.teardown_request(lambda exc: audit.write_denied())  # an abort(404) skips after_request handlers
    app.teardown_request(attachments.discard_pending)  # files written by a request that did not commit
    observe.install(app)  # request id, JSON request log, /metrics, /readyz

    app.register_blueprint(auth_bp)
    app.register_blueprint(verify_bp)
    install_templating(app)
    errors.install(app)
    clock_control.install(app)
    app.extensions["frontdesk_screens"] = dict(views=admin_views.views(), pages=admin_views.pages())
    checks.enforce(app)  # before any screen is built: a wrong declaration names itself, not a traceback
    build_admin(app)
    register_cli(app)
    app.before_request(refuse_nul_bytes)
    app.add_url_rule("/", "root", lambda: redirect(url_for("admin.index")))
    # the start-up objects (models, views, templates) live as long as the process: keep them out of every
    # full garbage collection, which otherwise walks them all in the middle of a request (~15 % of a list page)
    gc.freeze()
    return app


def cache_long_statements() -> None:
    """psycopg converts a statement's %(name)s placeholders with a regex on every execution unless it is at most
    4096 characters with at most 50 parameters; the home page's kept statements (app/admin/statements.py) are
    6-9 KB with 55-75 parameters: 0.2 ms each, every request. Raise both bounds (its LRU keeps 128 entries)."""
    try:
        _queries = importlib.import_module("psycopg._queries")
    except ImportError:  # not psycopg 3: nothing to tune
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH") and hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 32768)
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 200)


def configure_pii(app: Flask) -> None:
    """The keys of personal data at rest: from configuration, or a random pair made once for this install."""
    keys, index = list(app.config["PII_KEYS"]), app.config["PII_INDEX_KEY"]
    if not keys or not index:
        path = Path(app.config["PII_KEY_FILE"])
        if path.exists():
            stored = json.loads(path.read_text())
        else:
            stored = {"keys": [pii.new_key()], "index": os.urandom(32).hex()}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stored))
            path.chmod(0o600)
        keys, index = keys or stored["keys"], index or stored["index"]
        if not app.debug and not app.testing:
            app.logger.warning("PII keys come from %s; set FRONTDESK_PII_KEYS and FRONTDESK_PII_INDEX_KEY in "
                               "production (see README: personal data)", path)
    pii.configure(keys, index)


def refuse_nul_bytes() -> None:
    """No text a person types contains NUL; PostgreSQL refuses it in any text column or parameter."""
    for values in (request.args, request.form):
        if any("\x00" in k or "\x00" in v for k, v in values.items(multi=True)):
            abort(400)


class _AppCatalogFirst(fa_babel.CustomDomain):
    """Flask-Admin merges its own catalog after ours, so its "项目" for "items" would win over our "条/页"."""

    @property
    def translation_directories(self) -> list[str]:
        return list(reversed(super().translation_directories))


def build_admin(app: Flask) -> Admin:
    """Every register's screen at /admin/<register>/, the pages, and the dashboard at /admin/."""
    admin = Admin(app, name=T("物业客服前台", "FrontDesk"), url="/admin", translations_path=str(TRANSLATIONS),
                  index_view=Dashboard(name=T("工作台", "Dashboard"), url="/admin"),
                  theme=Bootstrap4Theme(base_template="admin/fd_master.html", fluid=True))
    for view_class, model, category in admin_views.views():
        admin.add_view(view_class(model, category=category))
    for endpoint, view_class, name, category in admin_views.pages():
        admin.add_view(view_class(name=name, endpoint=endpoint, category=category))
    fa_babel.domain.__class__ = _AppCatalogFirst  # Flask-Admin's templates hold bound methods of this object
    app.extensions["frontdesk_admin"] = admin
    return admin
