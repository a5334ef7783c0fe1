"""Application factory."""
from flask import Flask, redirect, session, url_for

from app.config import Config


def create_app(config_object=Config, **overrides):
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(config_object)
    app.config.update(overrides)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # psycopg prepares a statement after 5 runs and PostgreSQL may then keep a generic plan, which
        # cannot see that a prefix range or a rare state is selective: lists went from 1 ms to 500 ms.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options["connect_args"] = {**options.get("connect_args", {}), "prepare_threshold": None}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if app.config["SECRET_KEY"] == "dev-only-not-secret" and not app.debug and not app.testing:
        app.logger.warning("SECRET_KEY is the development default; set SECRET_KEY in production.")

    from app.extensions import babel, csrf, db, limiter, login_manager, migrate
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", _migrations_dir())),
                     render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    babel.init_app(app, locale_selector=lambda: session.get("lang") or app.config["BABEL_DEFAULT_LOCALE"])

    import models  # noqa: F401  (registers every model on the metadata)
    from app import audit, numbering
    if not getattr(create_app, "_hooks", False):
        audit.install()
        numbering.install()
        create_app._hooks = True
    audit.init_app(app)

    from app.auth import bp as auth_bp
    app.register_blueprint(auth_bp)
    from app.printing import bp as verify_bp
    app.register_blueprint(verify_bp)
    from app.templating import install as install_templating
    install_templating(app)
    from admin_views import build_admin
    build_admin(app)

    from app.cli import register_cli
    register_cli(app)

    @app.before_request
    def refuse_nul_bytes():
        """No text a person types contains NUL; PostgreSQL refuses it in any text column or parameter."""
        from flask import abort, request
        for values in (request.args, request.form):
            if any("\x00" in k or "\x00" in v for k, v in values.items(multi=True)):
                abort(400)

    @app.route("/")
    def root():
        return redirect(url_for("admin.index"))

    return app


def _migrations_dir():
    from pathlib import Path
    return Path(__file__).resolve().parent.parent / "migrations"
