"""The migrations build exactly the schema the models declare (on the database under test)."""
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, text


def test_models_and_migrations_agree(tmp_path, database_url):
    from app.config import TestConfig
    from app.factory import create_app
    from kernel.db import db
    name = f"fd_migration_check_{uuid.uuid4().hex[:8]}"  # several runs may share one server
    if database_url.startswith("postgresql"):
        base = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with base.connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        url = database_url.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        db.engine.dispose()
    assert diff == [], f"models differ from migrations; run `flask db migrate`: {diff[:5]}"
    if database_url.startswith("postgresql"):
        with base.connect() as c:
            c.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
