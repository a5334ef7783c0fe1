"""flask backup DIR | restore DIR: a consistent copy of the database and the attachment files, with a manifest.

A backup directory holds
    database.dump       pg_dump --format=custom (PostgreSQL), or database.sqlite3 (SQLite's online backup API)
    attachments/        the files under ATTACHMENTS_DIR, if that directory exists
    manifest.json       app version, schema revision, rows and a checksum per table, a checksum per file;
                        written last, so a backup without it is unfinished and restore refuses it.

Consistency: on PostgreSQL the manifest is computed inside a REPEATABLE READ transaction whose snapshot
pg_dump is handed (`--snapshot`), so the counts describe exactly the dumped data while the desk keeps working;
on SQLite it is computed from the copy. Files are copied after the database, so every file a backed-up
record names is there (attachments are only ever added).

A table's checksum is the sum (mod 2**256) of a SHA-256 per row over the row's values turned into text in
one dialect-independent way (columns by name, decimals normalised, times in ISO form), so it neither depends
on row order nor on which database holds the rows: the same data gives the same checksum on SQLite and
PostgreSQL.

Restore goes only into an empty database (and an empty ATTACHMENTS_DIR), checks every file against the
manifest before it writes anything, and checks every table's rows and checksum after.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from sqlalchemy import Connection, MetaData, Table, create_engine, inspect, select, text
from sqlalchemy.engine import URL

import app as app_package
from kernel.db import db

FORMAT = "frontdesk-backup/1"
CHECKSUM_METHOD = "sum mod 2**256 of sha256(json list of normalised values, columns sorted by name) per row"
MANIFEST = "manifest.json"
ATTACHMENTS = "attachments"
ROOT = Path(__file__).resolve().parent.parent


class BackupError(click.ClickException):
    """A refusal or failure the operator can act on; the CLI prints it and exits 1."""


# ---- checksums ---------------------------------------------------------------------------------------------

def normalise(value: Any) -> Any:
    """One text form per value, whichever database returned it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        text_form = format(value.normalize(), "f")
        return "0" if text_form in ("-0", "0") else text_form
    if isinstance(value, float):
        return normalise(Decimal(repr(value)))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def table_checksum(conn: Connection, table: Table, columns: list[str] | None = None) -> dict[str, Any]:
    """Rows and the order-independent checksum of one table (optionally over some of its columns only)."""
    names = sorted(columns or [c.name for c in table.columns])
    total, rows = 0, 0
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        select(*[table.c[n] for n in names]))
    for row in result:
        line = json.dumps([normalise(v) for v in row], ensure_ascii=False, separators=(",", ":"))
        total = (total + int.from_bytes(hashlib.sha256(line.encode()).digest(), "big")) % (1 << 256)
        rows += 1
    head = hashlib.sha256(json.dumps(names).encode()).hexdigest()[:16]  # a column renamed changes the checksum
    return {"rows": rows, "checksum": f"{head}:{total:064x}"}


def reflect(conn: Connection) -> MetaData:
    meta = MetaData()
    meta.reflect(conn)
    return meta


def table_checksums(conn: Connection) -> dict[str, dict[str, Any]]:
    meta = reflect(conn)
    return {name: table_checksum(conn, meta.tables[name]) for name in sorted(meta.tables)}


def schema_revision(conn: Connection) -> list[str]:
    return sorted(MigrationContext.configure(conn).get_current_heads())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_checksums(directory: Path) -> dict[str, dict[str, Any]]:
    if not directory.is_dir():
        return {}
    return {p.relative_to(directory).as_posix(): {"sha256": file_sha256(p), "bytes": p.stat().st_size}
            for p in sorted(directory.rglob("*")) if p.is_file() and not p.is_symlink()}


def _migration_heads() -> list[str]:
    return sorted(ScriptDirectory(current_app.extensions["migrate"].directory).get_heads())


def _known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory(current_app.extensions["migrate"].directory).get_revision(revision) is not None
    except Exception:  # alembic raises for an unknown id; unknown is the answer
        return False


def _git_commit() -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or None if r.returncode == 0 else None
    except OSError:
        return None


# ---- PostgreSQL client tools ---------------------------------------------------------------------------------

def _tool(name: str) -> str:
    directory = current_app.config.get("PG_BIN_DIR") or ""
    path = str(Path(directory) / name) if directory else shutil.which(name)
    if not path or not Path(path).exists():
        raise BackupError(f"{name} not found: install the PostgreSQL client tools (Debian: postgresql-client) "
                          f"or set PG_BIN_DIR to their directory")
    return path


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def libpq_target(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for pg_dump/pg_restore, and the environment carrying the password
    (so it never shows in the process list)."""
    parts = {"dbname": url.database, "host": url.host, "port": url.port, "user": url.username}
    parts.update({k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()})
    conninfo = " ".join(f"{k}={_quote(v)}" for k, v in parts.items() if v not in (None, ""))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _run(args: list[str], env: dict[str, str]) -> None:
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")


def _check_client_version(tool: str, conn: Connection) -> None:
    out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout  # pg_dump (PostgreSQL) 15.2
    found = re.search(r"\)\s*(\d+)", out)
    client = int(found.group(1)) if found else 0
    server = conn.dialect.server_version_info[0]
    if client < server:
        raise BackupError(f"{Path(tool).name} {client} cannot dump a PostgreSQL {server} server: install "
                          f"postgresql-client-{server} or point PG_BIN_DIR at it")


# ---- backup --------------------------------------------------------------------------------------------------

def _prepare_target(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty; give a new directory for each backup")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # it holds residents' personal data


def _copy_files(source: Path, target: Path) -> dict[str, dict[str, Any]]:
    copied = {}
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(source).as_posix()
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with path.open("rb") as f, out.open("wb") as w:
            for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(chunk)
                w.write(chunk)
                size += len(chunk)
        shutil.copystat(path, out)
        copied[rel] = {"sha256": digest.hexdigest(), "bytes": size}
    return copied


def _backup_sqlite(url: URL, directory: Path) -> tuple[dict, list[str], dict]:
    source = url.database
    out = directory / "database.sqlite3"
    src = sqlite3.connect(f"file:{Path(source).resolve()}?mode=ro", uri=True)
    dst = sqlite3.connect(out)
    try:
        src.backup(dst)  # a consistent copy while other connections keep writing
    finally:
        dst.close()
        src.close()
    engine = create_engine(f"sqlite:///{out}")
    try:
        with engine.connect() as conn:
            tables, revision = table_checksums(conn), schema_revision(conn)
    finally:
        engine.dispose()
    return {"file": out.name, "format": "sqlite3"}, revision, tables


def _backup_postgres(url: URL, directory: Path) -> tuple[dict, list[str], dict]:
    pg_dump = _tool("pg_dump")
    conninfo, env = libpq_target(url)
    out = directory / "database.dump"
    with db.engine.connect() as conn:
        _check_client_version(pg_dump, conn)
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tables, revision = table_checksums(conn), schema_revision(conn)
            # pg_dump reads the very snapshot the counts above were taken from
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={out}", f"--dbname={conninfo}"],
                 env)
    return {"file": out.name, "format": "pg_dump custom"}, revision, tables


def backup(directory: Path) -> dict[str, Any]:
    url = db.engine.url
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {url.get_backend_name()} database")
    if url.get_backend_name() == "sqlite" and not Path(url.database or ":memory:").is_file():
        raise BackupError(f"no SQLite database file at {url.database!r}")
    _prepare_target(directory)
    started = datetime.now(UTC)
    if url.get_backend_name() == "sqlite":
        database, revision, tables = _backup_sqlite(url, directory)
    else:
        database, revision, tables = _backup_postgres(url, directory)
    database_file = directory / database["file"]
    database.update(sha256=file_sha256(database_file), bytes=database_file.stat().st_size)
    attachments_dir = Path(current_app.config["ATTACHMENTS_DIR"])
    files = _copy_files(attachments_dir, directory / ATTACHMENTS) if attachments_dir.is_dir() else {}
    manifest = {
        "format": FORMAT, "app_version": app_package.__version__, "git_commit": _git_commit(),
        "created_at": started.isoformat(timespec="seconds"), "dialect": url.get_backend_name(),
        "schema_revision": revision, "database": database, "checksum_method": CHECKSUM_METHOD,
        "tables": tables, "attachments": {"dir": ATTACHMENTS, "source": str(attachments_dir), "files": files},
    }
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True))
    tmp.rename(directory / MANIFEST)  # last: a directory without a manifest is an unfinished backup
    return manifest


# ---- restore -------------------------------------------------------------------------------------------------

def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise BackupError(f"{path} is missing: not a backup, or the backup did not finish")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r} (this version reads {FORMAT})")
    return manifest


def verify_files(directory: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems with the backup's own files (database file and attachments) against the manifest."""
    problems = []
    database = manifest["database"]
    path = directory / database["file"]
    if not path.is_file():
        problems.append(f"{database['file']}: missing")
    elif file_sha256(path) != database["sha256"]:
        problems.append(f"{database['file']}: checksum differs from the manifest (damaged or altered)")
    stored = file_checksums(directory / manifest["attachments"]["dir"])
    for rel, meta in manifest["attachments"]["files"].items():
        if rel not in stored:
            problems.append(f"attachments/{rel}: missing")
        elif stored[rel]["sha256"] != meta["sha256"]:
            problems.append(f"attachments/{rel}: checksum differs from the manifest")
    problems += [f"attachments/{rel}: not in the manifest" for rel in stored
                 if rel not in manifest["attachments"]["files"]]
    return problems


def verify_database(conn: Connection, manifest: dict[str, Any]) -> list[str]:
    """Problems with a database's tables (rows, checksums) against the manifest."""
    found = table_checksums(conn)
    problems = [f"table {name}: missing" for name in manifest["tables"] if name not in found]
    problems += [f"table {name}: not in the backup" for name in found if name not in manifest["tables"]]
    for name, want in manifest["tables"].items():
        got = found.get(name)
        if got and got["rows"] != want["rows"]:
            problems.append(f"table {name}: {got['rows']} rows, the backup had {want['rows']}")
        elif got and got["checksum"] != want["checksum"]:
            problems.append(f"table {name}: checksum differs from the backup")
    return problems


def _require_empty(attachments_dir: Path) -> None:
    with db.engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
    if tables:
        raise BackupError(
            f"数据库不是空的，拒绝恢复 / the database is not empty ({len(tables)} tables, e.g. "
            f"{', '.join(tables[:3])}). "
            "Restore only into a new, empty database: create one (createdb) and point DATABASE_URL at it; "
            "do not run `flask db upgrade` before restoring.")
    if attachments_dir.exists() and any(p.is_file() for p in attachments_dir.rglob("*")):
        raise BackupError(f"ATTACHMENTS_DIR {attachments_dir} already holds files; restore into an empty one")


def _restore_sqlite(url: URL, source: Path) -> None:
    target = url.database
    if not target or target == ":memory:":
        raise BackupError("restore needs a SQLite database file, not an in-memory database")
    db.engine.dispose()
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _restore_postgres(url: URL, source: Path) -> None:
    pg_restore = _tool("pg_restore")
    conninfo, env = libpq_target(url)
    db.engine.dispose()
    # one transaction: a failure leaves the database empty, so the restore can simply be run again
    _run([pg_restore, "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
          f"--dbname={conninfo}", str(source)], env)


def restore(directory: Path, allow_unknown_revision: bool = False) -> dict[str, Any]:
    manifest = read_manifest(directory)
    url = db.engine.url
    if manifest["dialect"] != url.get_backend_name():
        raise BackupError(f"this is a {manifest['dialect']} backup; DATABASE_URL names a {url.get_backend_name()} "
                          "database")
    problems = verify_files(directory, manifest)
    if problems:
        raise BackupError("the backup is damaged, nothing was restored:\n  " + "\n  ".join(problems))
    unknown = [r for r in manifest["schema_revision"] if not _known_revision(r)]
    if unknown and not allow_unknown_revision:
        raise BackupError(f"the backup's schema revision {unknown} is unknown to this release "
                          f"({app_package.__version__}); restore with the release that made it "
                          f"({manifest['app_version']}), or pass --allow-unknown-revision")
    attachments_dir = Path(current_app.config["ATTACHMENTS_DIR"])
    _require_empty(attachments_dir)
    source = directory / manifest["database"]["file"]
    if url.get_backend_name() == "sqlite":
        _restore_sqlite(url, source)
    else:
        _restore_postgres(url, source)
    if manifest["attachments"]["files"]:
        _copy_files(directory / manifest["attachments"]["dir"], attachments_dir)
    with db.engine.connect() as conn:
        problems = verify_database(conn, manifest)
    copied = file_checksums(attachments_dir)
    problems += [f"attachments/{rel}: differs after copying" for rel, meta in manifest["attachments"]["files"].items()
                 if copied.get(rel, {}).get("sha256") != meta["sha256"]]
    if problems:
        raise BackupError("restored, but it does not match the manifest:\n  " + "\n  ".join(problems))
    return manifest


# ---- command line ----------------------------------------------------------------------------------------------

def register(app: Flask) -> None:
    @app.cli.command("backup")
    @click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
    def backup_command(directory: Path) -> None:
        """Back up the database and ATTACHMENTS_DIR into DIRECTORY (new or empty), with a manifest."""
        m = backup(directory)
        rows = sum(t["rows"] for t in m["tables"].values())
        click.echo(f"backup written to {directory}: {m['dialect']} schema {','.join(m['schema_revision'])}, "
                   f"{len(m['tables'])} tables, {rows} rows, {len(m['attachments']['files'])} attachment files")

    @app.cli.command("restore")
    @click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--allow-unknown-revision", is_flag=True,
                  help="restore a backup made by a newer release whose schema this release does not know")
    def restore_command(directory: Path, allow_unknown_revision: bool) -> None:
        """Restore a backup into an EMPTY database and ATTACHMENTS_DIR, then check it against the manifest."""
        m = restore(directory, allow_unknown_revision)
        rows = sum(t["rows"] for t in m["tables"].values())
        click.echo(f"restored {directory} (made {m['created_at']} by {m['app_version']}): {len(m['tables'])} tables, "
                   f"{rows} rows and {len(m['attachments']['files'])} attachment files match the manifest")
        if m["schema_revision"] != _migration_heads():
            click.echo("the backup's schema is older than this release: run `flask --app wsgi db upgrade` next")
