"""The database handle and the declarative base every table of every layer maps onto."""
import sqlite3
from time import monotonic
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.exc import DisconnectionError
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


CHECKED_IN_AT = "frontdesk_checked_in_at"


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Test a pooled connection before use only when it sat idle for `idle_seconds` (in place of `pool_pre_ping`,
    which asks on every checkout: on PostgreSQL a round trip per request, about 0.3 ms of a 12 ms list page).

    A connection that went back to the pool a moment ago was alive a moment ago; one that slept may have been
    closed by a database restart, a failover or an idle timeout, and is tested and replaced as `pool_pre_ping`
    would. Left: a restart inside the last `idle_seconds` reaches one request as an error, after which
    SQLAlchemy discards the whole pool (README "Production")."""
    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[CHECKED_IN_AT] = monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(CHECKED_IN_AT)  # None: connected for this checkout, nothing to test
        if since is not None and monotonic() - since >= idle_seconds:
            try:
                alive = engine.dialect.do_ping(dbapi_connection)
            except Exception as error:  # noqa: BLE001  (any driver's "connection is gone")
                raise DisconnectionError("pooled connection failed its ping") from error
            if not alive:
                raise DisconnectionError("pooled connection failed its ping")
