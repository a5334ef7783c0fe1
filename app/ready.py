"""/readyz: may this process take traffic? Every check registered in kernel.probes runs; 200 when all pass,
503 otherwise, with each check's details as JSON. /healthz (app/auth.py) only says the process is up.

The checks here: the database answers, its schema is at the migrations' head (a half-done upgrade or an old
database behind a new release is not ready), and the disk holding ATTACHMENTS_DIR has READY_MIN_FREE_MB left.
The outbox registers its own "not stuck" check where it is built.
"""
from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, jsonify
from sqlalchemy import text

from kernel import probes
from kernel.db import db


@cache
def migration_heads(directory: str) -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory(directory).get_heads()))


def current_revisions() -> tuple[str, ...]:
    with db.engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


@probes.readiness
def database() -> tuple[str, bool, Any]:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return "database", True, {"dialect": db.engine.dialect.name}


@probes.readiness
def migrations() -> tuple[str, bool, Any]:
    heads = migration_heads(current_app.extensions["migrate"].directory)
    current = current_revisions()
    details = {"current": list(current), "head": list(heads)}
    if current != heads:
        details["fix"] = "flask --app wsgi db upgrade"
    return "migrations", current == heads, details


@probes.readiness
def attachments_disk() -> tuple[str, bool, Any]:
    path = Path(current_app.config["ATTACHMENTS_DIR"])
    probe = next((p for p in (path, *path.parents) if p.exists()), Path("/"))  # the disk it will be created on
    free_mb = shutil.disk_usage(probe).free // (1024 * 1024)
    minimum = int(current_app.config.get("READY_MIN_FREE_MB", 500))
    return "attachments_disk", free_mb >= minimum, {"free_mb": free_mb, "min_free_mb": minimum,
                                                    "exists": path.exists()}


def run_checks() -> tuple[bool, dict[str, Any]]:
    results: dict[str, Any] = {}
    for check in probes.readiness_checks():
        try:
            name, ok, details = check()
        except Exception as ex:  # a check that cannot even run says "not ready", with why
            name, ok, details = check.__name__, False, {"error": type(ex).__name__}
            db.session.rollback()
        results[name] = {"ok": bool(ok), "details": details}
    return all(r["ok"] for r in results.values()), results


def view() -> tuple[Response, int]:
    ok, results = run_checks()
    return jsonify(status="ready" if ok else "not ready", checks=results), 200 if ok else 503


def install(app: Flask) -> None:
    app.add_url_rule("/readyz", "readyz", view)
