"""Old databases for upgrade tests, and the walk that proves each migration reversible.

Demo data at the first revision: the demo is loaded (by today's seeds) into a database at head, then its rows
are copied into a database built by the first migration, column by column where the column already existed
(a column the first schema requires and head no longer has gets a neutral value). That is the data a company
that installed the first release would carry into an upgrade, whatever migrations were added since.

Markers a migration module may carry (the tests read them, nothing else does):
    IRREVERSIBLE = "why"                  its downgrade cannot restore the previous schema or data
    DATA_CHANGES = {"table.column": "why", "table": "why"}
                                          it rewrites, drops or renames that column's values (or the table's
                                          rows) on purpose, e.g. encrypting a column in place
"""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, select, text

from app.ops import reflect, table_checksum
from kernel.db import db


def script(app) -> ScriptDirectory:
    return ScriptDirectory(app.extensions["migrate"].directory)


def chain(app) -> list:
    """Every revision, the first one first."""
    return list(reversed(list(script(app).walk_revisions())))


def first_revision(app) -> str:
    bases = script(app).get_bases()
    assert len(bases) == 1, f"more than one first migration: {bases}"
    return bases[0]


def declared_changes(app) -> dict[str, str]:
    found: dict[str, str] = {}
    for rev in chain(app)[1:]:
        found.update(getattr(rev.module, "DATA_CHANGES", {}) or {})
    return found


def _neutral(column):
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return None
    return {str: "", int: 0, bool: False, Decimal: Decimal(0), float: 0.0, date: date(2000, 1, 1),
            datetime: datetime(2000, 1, 1), time: time(0, 0), dict: {}, list: []}.get(kind)


def copy_rows(source_url: str, target_url: str) -> None:
    """Copy every row of the source into the target's tables of the same name, columns both have."""
    src, dst = create_engine(source_url), create_engine(target_url)
    try:
        with src.connect() as s, dst.begin() as d:
            source, target = reflect(s), reflect(d)
            if d.dialect.name == "postgresql":
                d.execute(text("SET LOCAL session_replication_role = replica"))  # rows arrive in any FK order
            for table in target.sorted_tables:
                if table.name == "alembic_version" or table.name not in source.tables:
                    continue
                old = source.tables[table.name]
                common = [c.name for c in table.columns if c.name in old.c]
                filled = {c.name: _neutral(c) for c in table.columns
                          if c.name not in old.c and not c.nullable and c.server_default is None}
                rows = [{**r._mapping, **filled} for r in s.execute(select(*[old.c[n] for n in common]))]
                if rows:
                    d.execute(table.insert(), rows)
            if d.dialect.name == "postgresql":  # ids were copied: move each sequence past them
                for table in target.sorted_tables:
                    if "id" in table.c and table.name != "alembic_version":
                        d.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                                       f"COALESCE((SELECT max(id) FROM \"{table.name}\"), 0) + 1, false)"))
    finally:
        src.dispose()
        dst.dispose()


def column_checksums(url: str) -> dict[tuple[str, str | None], dict]:
    """(table, None) -> rows and checksum of the whole table; (table, column) -> checksum of (key, column)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            meta = reflect(conn)
            found = {}
            for name, table in meta.tables.items():
                if name == "alembic_version":
                    continue
                key = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
                found[(name, None)] = table_checksum(conn, table)
                for column in table.columns:
                    found[(name, column.name)] = table_checksum(conn, table, sorted({*key, column.name}))
            return found
    finally:
        engine.dispose()


def lost_data(before: dict, after: dict, declared: dict[str, str]) -> list[str]:
    """What the upgrade changed in the old tables and columns, less the changes the migrations declare."""
    problems = []
    for (table, column), old in before.items():
        label = table if column is None else f"{table}.{column}"
        if label in declared or table in declared:
            continue
        new = after.get((table, column))
        if new is None:
            problems.append(f"{label}: gone after the upgrade")
        elif column is None and new["rows"] != old["rows"]:
            problems.append(f"{table}: {old['rows']} rows before, {new['rows']} after")
        elif column is not None and new["checksum"] != old["checksum"]:
            problems.append(f"{label}: values changed")
    return problems


def schema_of(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            return {t: (sorted((c["name"], bool(c["nullable"])) for c in insp.get_columns(t)),
                        sorted(i["name"] for i in insp.get_indexes(t)))
                    for t in insp.get_table_names() if t != "alembic_version"}
    finally:
        engine.dispose()


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            meta = reflect(conn)
            return {name: conn.execute(select(text("count(*)")).select_from(t)).scalar_one()
                    for name, t in meta.tables.items()}
    finally:
        engine.dispose()


def walk(app, url: str) -> list[str]:
    """From the first revision to head, one migration at a time: up, down, up again. Each downgrade must give
    back the schema and the row counts from before its upgrade, unless the migration says IRREVERSIBLE.
    Returns the revisions taken on trust (irreversible ones); raises AssertionError naming a broken one."""
    trusted = []
    with app.app_context():
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_heads() == (first_revision(app),), \
                "the walk starts from a database at the first revision"
        for rev in chain(app)[1:]:
            reason = getattr(rev.module, "IRREVERSIBLE", None)
            if reason is not None:
                assert isinstance(reason, str) and reason.strip(), f"{rev.revision}: IRREVERSIBLE needs a reason"
                upgrade(revision=rev.revision)
                trusted.append(rev.revision)
                continue
            assert isinstance(rev.down_revision, str), f"{rev.revision}: a merge point; give it IRREVERSIBLE or " \
                                                       "keep the chain linear"
            schema_before, rows_before = schema_of(url), row_counts(url)
            upgrade(revision=rev.revision)
            schema_up, rows_up = schema_of(url), row_counts(url)
            downgrade(revision=rev.down_revision)
            assert schema_of(url) == schema_before, \
                f"{rev.revision} ({rev.doc}): downgrade does not restore the schema; fix downgrade() or mark " \
                "the migration IRREVERSIBLE = \"why\""
            assert row_counts(url) == rows_before, f"{rev.revision} ({rev.doc}): downgrade changes row counts"
            upgrade(revision=rev.revision)
            assert schema_of(url) == schema_up, f"{rev.revision} ({rev.doc}): upgrade after downgrade differs"
            assert row_counts(url) == rows_up, f"{rev.revision} ({rev.doc}): row counts differ on the way up again"
    return trusted
