"""flask seed-demo | flask create-user: the first real account of a production install."""
import getpass

import click
from sqlalchemy import select


def register_cli(app):
    @app.cli.command("seed-demo")
    def seed_demo():
        """Load the demo properties, users and data (idempotent)."""
        from seeds.demo import load_demo
        created = load_demo()
        click.echo(f"demo data: {created} rows added")

    @app.cli.command("seed-base")
    def seed_base():
        """Roles and deadline rules only: what a production install needs before the first account."""
        from seeds.demo import load_base
        click.echo(f"base data: {load_base()} rows added")

    @app.cli.command("create-user")
    @click.option("--username", required=True)
    @click.option("--full-name", required=True)
    @click.option("--property-code", required=True, help="e.g. A; created if missing (with --property-name)")
    @click.option("--property-name", default=None)
    @click.option("--role", "roles", multiple=True, required=True)
    def create_user(username, full_name, property_code, property_name, roles):
        """Create an account with roles at one property; asks for the password twice."""
        from app.auth import hash_password
        from app.extensions import db
        from models.core import Membership, Property, Role, StaffUser
        from seeds.demo import load_base
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
