"""A PostgreSQL database of its own for a test that needs one, even while the suite runs on SQLite."""
import contextlib
import os
import uuid

from sqlalchemy import create_engine, text

from tests.conftest import PG_DEFAULT, need_postgres


@contextlib.contextmanager
def scratch_postgres(database_url):
    base = database_url if database_url.startswith("postgresql") else PG_DEFAULT
    need_postgres(base)
    name = f"{os.environ.get('SCRATCH_DB_PREFIX', 'fd_scratch_')}{uuid.uuid4().hex[:8]}"  # a prefix per run
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    url = base.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
