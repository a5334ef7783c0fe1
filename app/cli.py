"""flask seed-demo | seed-base | create-user | check | retention | purge-attachments | rotate-pii-key | new-pii-key."""
from __future__ import annotations

import getpass

import click
from flask import Flask
from sqlalchemy import String, literal, select
from sqlalchemy import cast as sa_cast

from app import ops
from app.admin import outbound
from kernel import attachments, checks, pii, retention
from kernel.db import db
from kernel.identity import Membership, Property, Role, StaffUser, hash_password
from kernel.register import blind_indexes, pii_columns, registers
from seeds.base import load_base
from seeds.demo import load_demo


def register_cli(app: Flask) -> None:
    ops.register(app)  # backup, restore
    outbound.register(app)  # outbox-worker, deadline-alerts

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo properties, users and data (idempotent). Never in production."""
        click.echo(f"demo data: {load_demo()} rows added")

    @app.cli.command("seed-base")
    def seed_base() -> None:
        """Roles and deadline rules only: what a production install needs before the first account."""
        click.echo(f"base data: {load_base()} rows added")

    @app.cli.command("check")
    def check() -> None:
        """Validate every register's declarations (the factory also runs this at start-up)."""
        messages = checks.run(app)
        for m in messages:
            click.echo(m)
        click.echo(f"{len(messages)} problems found" if messages else "declarations: no problems found")
        if messages:
            raise SystemExit(1)

    @app.cli.command("retention")
    @click.option("--apply", "apply_", is_flag=True, help="erase; without it only lists what is due (dry run)")
    def retention_job(apply_: bool) -> None:
        """Erase the ID numbers kept past each register's retention period (IT sets the days)."""
        due = retention.due(db.session)
        for name, rows in due.items():
            days = retention.days_for(db.session, registers()[name])
            click.echo(f"{name}: {len(rows)} due (kept {days} days)")
        if not apply_:
            click.echo("dry run: nothing erased (add --apply to erase)")
            return
        counts = retention.erase(db.session)
        db.session.commit()
        click.echo(f"erased: {sum(counts.values())} records")

    @app.cli.command("purge-attachments")
    @click.option("--apply", "apply_", is_flag=True, help="remove; without it only lists what is due (dry run)")
    def purge_attachments(apply_: bool) -> None:
        """Remove the ID copies and photos kept past each register's retention period (IT sets the days)."""
        due = attachments.due(db.session)
        for name, rows in due.items():
            days = attachments.document_days(db.session, registers()[name])
            click.echo(f"{name}: {len(rows)} files due (kept {days} days after the record ends)")
        if not apply_:
            click.echo("dry run: nothing removed (add --apply to remove)")
            return
        counts, removed = attachments.purge(db.session)
        db.session.commit()  # the audit rows first: a file is never gone without its record of removal
        attachments.delete_stored(removed)
        click.echo(f"removed: {sum(counts.values())} files")

    @app.cli.command("new-pii-key")
    def new_pii_key() -> None:
        """Print a new Fernet key to put FIRST in FRONTDESK_PII_KEYS before running rotate-pii-key."""
        click.echo(pii.new_key())

    @app.cli.command("rotate-pii-key")
    @click.option("--batch", default=500, show_default=True)
    def rotate_pii_key(batch: int) -> None:
        """Re-encrypt every ID number with the first key of PII_KEYS and re-compute the blind indexes.

        Rotation: new key first in FRONTDESK_PII_KEYS (old ones after it), restart, run this, then drop the old key.
        """
        total = 0
        for name, model in sorted(registers().items()):
            columns = pii_columns(model)
            if not columns:
                continue
            table = model.__table__
            indexes = blind_indexes(model)
            last = 0
            while True:
                rows = db.session.execute(  # the stored tokens, read as text without decrypting
                    select(table.c.id, *[sa_cast(table.c[c], String) for c in columns])
                    .where(table.c.id > last).order_by(table.c.id).limit(batch)).all()
                if not rows:
                    break
                for row in rows:
                    values = {}
                    for c, token in zip(columns, row[1:], strict=True):
                        if token is None:
                            continue
                        plain = pii.decrypt(token) if pii.is_token(token) else token
                        values[c] = pii.rotate(token) if pii.is_token(token) else pii.encrypt(plain)
                        if c in indexes:
                            values[indexes[c]] = pii.blind(plain)
                    if values:
                        db.session.execute(table.update().where(table.c.id == row[0]).values(
                            **{k: literal(v, String) for k, v in values.items()}))
                        total += 1
                last = rows[-1][0]
                db.session.commit()
            click.echo(f"{name}: done")
        click.echo(f"re-encrypted {total} records")

    @app.cli.command("create-user")
    @click.option("--username", required=True)
    @click.option("--full-name", required=True)
    @click.option("--property-code", required=True, help="e.g. A; created if missing (with --property-name)")
    @click.option("--property-name", default=None)
    @click.option("--role", "roles", multiple=True, required=True)
    def create_user(username: str, full_name: str, property_code: str, property_name: str | None,
                    roles: tuple[str, ...]) -> None:
        """Create an account with roles at one property; asks for the password twice."""
        load_base()
        prop = db.session.scalar(select(Property).where(Property.code == property_code))
        if prop is None:
            if not property_name:
                raise click.UsageError("unknown property code; give --property-name to create it")
            prop = Property(code=property_code, name=property_name)
            db.session.add(prop)
        password = getpass.getpass("password: ")
        if len(password) < 8 or password != getpass.getpass("again: "):
            raise click.UsageError("passwords differ or are shorter than 8 characters")
        user = StaffUser(username=username, full_name=full_name, password_hash=hash_password(password))
        db.session.add(user)
        for code in roles:
            role = db.session.scalar(select(Role).where(Role.code == code))
            if role is None:
                raise click.UsageError(f"unknown role {code}")
            db.session.add(Membership(user=user, property=prop, role=role))
        db.session.commit()
        click.echo(f"created {username}")
