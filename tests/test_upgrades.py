"""Issue #19: upgrades with data. A database made by the first migration and holding the demo data is upgraded
to head on SQLite and PostgreSQL and keeps its rows, states and numbers; every later migration reverses (or
says IRREVERSIBLE); `make run`'s steps upgrade an old instance database in place and seed idempotently.

Works for whatever chain of migrations exists: the old data is today's demo copied into the first schema
(tests/upgrades.py), and a migration that changes data on purpose declares it (DATA_CHANGES).
"""
import contextlib
import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from app.config import TestConfig
from app.factory import MIGRATIONS, create_app
from app.ops import reflect
from kernel import pii
from kernel.db import db
from seeds.demo import load_demo
from tests import upgrades
from tests.pg import scratch_postgres

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_at_head(tmp_path_factory):
    """The demo as the first release wrote it (tests/data/first_release_demo.db.gz: `flask seed-demo` run by the
    code of the first release on its own schema), so the upgrade meets data in the shapes that release stored."""
    path = tmp_path_factory.mktemp("demo") / "first_release.db"
    with gzip.open(ROOT / "tests" / "data" / "first_release_demo.db.gz") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def empty_database(kind, tmp_path, database_url):
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        with scratch_postgres(database_url) as url:
            yield url


def old_demo(url, demo_at_head, **config):
    """An app on a database at the first revision that holds the demo data."""
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, **config)
    with app.app_context():
        upgrade(revision=upgrades.first_revision(app))
        db.engine.dispose()
    upgrades.copy_rows(demo_at_head, url)
    return app


def states(url):
    """How many records of each register are in each state."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {(name, s): n for name, t in reflect(conn).tables.items() if "state" in t.c
                    for s, n in conn.execute(select(t.c.state, func.count()).group_by(t.c.state))}
    finally:
        engine.dispose()


def id_numbers(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT id, id_number FROM resident WHERE id_number IS NOT NULL")).all())
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_from_the_first_migration_keeps_the_demo_data(kind, tmp_path, database_url, demo_at_head):
    with empty_database(kind, tmp_path, database_url) as url:
        app = old_demo(url, demo_at_head, ATTACHMENTS_DIR=str(tmp_path / "files"))
        before, states_before = upgrades.column_checksums(url), states(url)
        plain_ids = id_numbers(url)
        assert before[("repair_order", None)]["rows"] >= 10 and before[("resident", None)]["rows"] > 100
        assert {s for (t, s) in states_before if t == "repair_order"} >= {"registered", "dispatched", "closed"}
        with app.app_context():
            not_ready = app.test_client().get("/readyz")
            upgrade()
            ready = app.test_client().get("/readyz")
        heads = upgrades.script(app).get_heads()
        if heads != [upgrades.first_revision(app)]:  # with only the first migration there is nothing to upgrade
            assert not_ready.status_code == 503 and not not_ready.json["checks"]["migrations"]["ok"]
        assert ready.status_code == 200, ready.json

        lost = upgrades.lost_data(before, upgrades.column_checksums(url), upgrades.declared_changes(app))
        assert lost == [], "the upgrade lost or changed data (declare DATA_CHANGES if on purpose): " + "; ".join(lost)
        old_tables = {t for t, _ in states_before}  # a register that gained a state column (作废) starts all active
        assert {k: v for k, v in states(url).items() if k[0] in old_tables} == states_before
        with app.app_context():  # encrypted in place: each one reads back as the number the first release kept
            assert {k: pii.decrypt(v) for k, v in id_numbers(url).items()} == plain_ids
        counts = {t: v["rows"] for (t, c), v in upgrades.column_checksums(url).items() if c is None}
        with app.app_context():
            load_demo()  # the demo seeding finds its rows after the upgrade ...
            assert load_demo() == 0  # ... and stays idempotent
            db.session.remove()
            db.engine.dispose()
        after_seed = {t: v["rows"] for (t, c), v in upgrades.column_checksums(url).items() if c is None}
        assert {t: after_seed[t] for t in counts if t in ("property", "staff_user", "unit", "resident")} == \
            {t: counts[t] for t in counts if t in ("property", "staff_user", "unit", "resident")}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_every_migration_after_the_first_reverses_or_says_why(kind, tmp_path, database_url, demo_at_head):
    with empty_database(kind, tmp_path, database_url) as url:
        app = old_demo(url, demo_at_head)
        before = upgrades.column_checksums(url)
        upgrades.walk(app, url)  # up, down, up again, one migration at a time, with the demo data in
        with app.app_context():
            db.engine.dispose()
        lost = upgrades.lost_data(before, upgrades.column_checksums(url), upgrades.declared_changes(app))
        assert lost == [], "; ".join(lost)


PLANTED = '''"""{doc}"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None
{marker}

def upgrade():
    op.create_table("{table}", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    {down_body}
'''


def plant(directory, rev, down, table, down_body, marker=""):
    (directory / "versions" / f"{rev}_planted.py").write_text(PLANTED.format(
        doc=f"planted {rev}", rev=rev, down=down, table=table, down_body=down_body, marker=marker))


def test_the_walk_accepts_irreversible_with_a_reason_and_catches_a_downgrade_that_does_not_reverse(tmp_path):
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    url = f"sqlite:///{tmp_path / 'walk.db'}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, MIGRATIONS_DIR=str(migrations))
    heads = upgrades.script(app).get_heads()
    assert len(heads) == 1, f"the migrations have several heads; merge them: {heads}"
    plant(migrations, "h19planted01", heads[0], "planted_reversible", 'op.drop_table("planted_reversible")')
    plant(migrations, "h19planted02", "h19planted01", "planted_kept", 'raise NotImplementedError("merged")',
          marker='IRREVERSIBLE = "planted: two tables merged into one"')
    with app.app_context():
        upgrade(revision=upgrades.first_revision(app))
    assert upgrades.walk(app, url) == ["h19planted02"]

    with app.app_context():
        db.engine.dispose()

    plant(migrations, "h19planted03", "h19planted02", "planted_broken", "pass")  # forgot the drop
    url = f"sqlite:///{tmp_path / 'walk2.db'}"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, MIGRATIONS_DIR=str(migrations))
    with app.app_context():
        upgrade(revision=upgrades.first_revision(app))
    with pytest.raises(AssertionError, match="h19planted03.*does not restore the schema"):
        upgrades.walk(app, url)
    with app.app_context():
        db.engine.dispose()


def test_make_run_upgrades_an_old_instance_database_in_place_and_seeds_once(tmp_path, demo_at_head):
    """`make run` = `flask db upgrade` + `flask seed-demo` on instance/frontdesk.db (here: an old copy of it)."""
    url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    old_demo(url, demo_at_head)
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), "ATTACHMENTS_DIR": str(tmp_path / "f")}

    def flask(*args):
        r = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    flask("db", "upgrade")
    flask("seed-demo")
    assert "demo data: 0 rows added" in flask("seed-demo")
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM staff_user WHERE username = 'clerk'")).scalar() == 1
    engine.dispose()
