"""The database handle and the declarative base every table of every layer maps onto."""
import sqlite3
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection: Any, record: Any) -> None:
    """SQLite enforces foreign keys only when asked, per connection; PostgreSQL always does.

    So a row that others point at (a unit, a fee item, a shift) cannot be deleted on either database.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
