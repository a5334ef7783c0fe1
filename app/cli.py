"""flask seed-demo | seed-base | create-user | check: set up an install and check its declarations."""
from __future__ import annotations

import getpass

import click
from flask import Flask
from sqlalchemy import select

from app import ops
from kernel import checks
from kernel.db import db
from kernel.identity import Membership, Property, Role, StaffUser, hash_password
from seeds.base import load_base
from seeds.demo import load_demo


def register_cli(app: Flask) -> None:
    ops.register(app)  # backup, restore

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
