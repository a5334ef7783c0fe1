"""Issue #19: `flask backup DIR` / `flask restore DIR`. A demo database with attachment files is backed up and
restored into a fresh database, on SQLite and PostgreSQL, and every table's rows and checksum, and every file,
come back the same; restore refuses a database that is not empty and a backup that is damaged."""
import contextlib
import json

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text

import app as app_package
from app.config import TestConfig
from app.factory import create_app
from app.ops import file_checksums, table_checksums
from kernel.db import db
from seeds.demo import load_demo
from tests import upgrades
from tests.pg import scratch_postgres

FILES = {"2026/11/报修照片-1.jpg": bytes(range(256)) * 40, "2026/11/notes.txt": "楼上漏水\n".encode(),
         "permits/7/承诺书.pdf": b"%PDF-1.4 fake"}


@contextlib.contextmanager
def databases(kind, tmp_path, database_url):
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'restored.db'}"
    else:
        with scratch_postgres(database_url) as source, scratch_postgres(database_url) as target:
            yield source, target


def checksums(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return table_checksums(conn)
    finally:
        engine.dispose()


def stored_keys(url):
    """The files the demo's attachment rows point at (kernel/attachments: the file and its thumbnail)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("select storage_key, thumb_key from attachment")).all()
    finally:
        engine.dispose()
    keys = {k for row in rows for k in row if k}
    assert keys  # the demo carries sample files
    return keys


def demo_app(url, files_dir):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, ATTACHMENTS_DIR=str(files_dir))
    with app.app_context():
        upgrade()
        load_demo()
        db.session.remove()
    for rel, data in FILES.items():
        (files_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (files_dir / rel).write_bytes(data)
    return app


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def dispose(*apps):
    for a in apps:
        with a.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_backup_of_the_demo_restores_into_a_fresh_database_table_for_table(kind, tmp_path, database_url):
    with databases(kind, tmp_path, database_url) as (source_url, target_url):
        source = demo_app(source_url, tmp_path / "files")
        r = cli(source, "backup", str(tmp_path / "backup"))
        assert r.exit_code == 0, r.output
        manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
        original = checksums(source_url)
        assert manifest["tables"] == original  # the manifest describes exactly the data
        assert manifest["schema_revision"] == upgrades.script(source).get_heads()
        assert manifest["app_version"] == app_package.__version__
        assert manifest["database"]["format"] == ("sqlite3" if kind == "sqlite" else "pg_dump custom")
        assert set(manifest["attachments"]["files"]) == set(FILES) | stored_keys(source_url)  # the demo's too
        assert original["repair_order"]["rows"] >= 10 and original["resident"]["rows"] > 100

        target = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=target_url, ATTACHMENTS_DIR=str(tmp_path / "restored"))
        r = cli(target, "restore", str(tmp_path / "backup"))
        assert r.exit_code == 0, r.output
        assert "match the manifest" in r.output

        restored = checksums(target_url)
        assert set(restored) == set(original)
        for name in original:
            assert restored[name] == original[name], name  # every table: rows and checksum
        assert file_checksums(tmp_path / "restored") == file_checksums(tmp_path / "files")
        assert {rel: (tmp_path / "restored" / rel).read_bytes() for rel in FILES} == FILES
        with target.app_context():
            assert target.test_client().get("/readyz").status_code == 200
        dispose(source, target)


def test_restore_refuses_a_database_that_is_not_empty_and_leaves_it_alone(tmp_path):
    source = demo_app(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "files")
    assert cli(source, "backup", str(tmp_path / "backup")).exit_code == 0
    busy_url = f"sqlite:///{tmp_path / 'busy.db'}"
    busy = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=busy_url, ATTACHMENTS_DIR=str(tmp_path / "r"))
    with busy.app_context():
        upgrade()  # schema only: still not a database to restore into
    before = checksums(busy_url)
    r = cli(busy, "restore", str(tmp_path / "backup"))
    assert r.exit_code == 1
    assert "the database is not empty" in r.output and "数据库不是空的" in r.output
    assert checksums(busy_url) == before
    assert not (tmp_path / "r").exists()

    files_only = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'e.db'}",
                            ATTACHMENTS_DIR=str(tmp_path / "files"))  # the source's own files are there
    r = cli(files_only, "restore", str(tmp_path / "backup"))
    assert r.exit_code == 1 and "already holds files" in r.output
    dispose(source, busy, files_only)


@pytest.mark.parametrize("damage", ["database", "attachment", "manifest"])
def test_restore_checks_the_backup_before_it_writes_anything(tmp_path, damage):
    source = demo_app(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "files")
    backup = tmp_path / "backup"
    assert cli(source, "backup", str(backup)).exit_code == 0
    if damage == "database":
        with (backup / "database.sqlite3").open("r+b") as f:
            f.seek(5000)
            f.write(b"\x00\x01\x02")
    elif damage == "attachment":
        (backup / "attachments" / "2026/11/notes.txt").write_bytes("楼下漏水\n".encode())
    else:
        (backup / "manifest.json").unlink()  # what an interrupted backup leaves
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    target = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=target_url, ATTACHMENTS_DIR=str(tmp_path / "r"))
    r = cli(target, "restore", str(backup))
    assert r.exit_code == 1
    assert ("did not finish" if damage == "manifest" else "damaged, nothing was restored") in r.output
    with target.app_context():
        assert inspect(db.engine).get_table_names() == []
    assert not (tmp_path / "r").exists()
    dispose(source, target)


def test_backup_wants_a_new_directory_and_restore_the_same_kind_of_database(tmp_path):
    source = demo_app(f"sqlite:///{tmp_path / 'source.db'}", tmp_path / "files")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "x").write_text("yesterday")
    r = cli(source, "backup", str(tmp_path / "old"))
    assert r.exit_code == 1 and "not empty" in r.output
    assert cli(source, "backup", str(tmp_path / "backup")).exit_code == 0
    elsewhere = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    r = cli(elsewhere, "restore", str(tmp_path / "backup"))
    assert r.exit_code == 1 and "this is a sqlite backup" in r.output
    dispose(source)


def test_table_checksums_are_the_same_on_sqlite_and_postgresql(tmp_path, database_url):
    """The checksum is dialect-independent: the same rows give the same sums in both databases."""
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    source = demo_app(source_url, tmp_path / "files")
    dispose(source)
    with scratch_postgres(database_url) as pg_url:
        target = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=pg_url)
        with target.app_context():
            upgrade()
            db.engine.dispose()
        upgrades.copy_rows(source_url, pg_url)
        on_sqlite, on_postgres = checksums(source_url), checksums(pg_url)
        assert on_sqlite["audit_log"]["rows"] > 0
        assert on_postgres == on_sqlite
        engine = create_engine(pg_url)
        with engine.begin() as conn:  # and one changed value shows
            conn.execute(text("UPDATE fee_item SET amount = amount + 0.01 WHERE id = 1"))
        engine.dispose()
        assert checksums(pg_url)["fee_item"]["checksum"] != on_sqlite["fee_item"]["checksum"]
