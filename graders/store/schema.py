"""The database's schema: made, checked and upgraded by the migrations (alembic), never by
``create_all``.

The revisions are in ``graders/store/migrations/versions``; the head one makes exactly
the tables of :mod:`graders.store.tables`. Every store's constructor calls :func:`prepare`:
an empty database is made at once (a fresh machine needs nothing more); one at the head
revision is used as it is; an older one is upgraded only when asked (``rubricate db
upgrade``, or the setting ``RUBRICATE_DB_UPGRADE=true`` at start-up), else refused
(:class:`DatabaseOutdated`); a newer one is refused (:class:`DatabaseTooNew`). A database
made before migrations (our tables there, no ``alembic_version``) is revision 1: its
tables are kept, any the release had and it lacks are made, and it is stamped.

One process at a time changes the schema: on PostgreSQL under an advisory lock, on SQLite
inside ``BEGIN IMMEDIATE`` (with foreign keys off, so a table rebuilt by a batch ALTER
keeps its children's rows).

A new revision (after changing graders/store/tables.py)::

    from alembic import command
    with engine.connect() as conn:
        command.revision(config(conn), "what changes", autogenerate=True)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from graders.core.errors import DatabaseOutdated, DatabaseTooNew
from graders.store.tables import metadata

MIGRATIONS = Path(__file__).with_name("migrations")
SCHEMA_LOCK = 0x72756272  # the PostgreSQL advisory lock held while the schema changes
BEFORE_MIGRATIONS = "none (made before migrations: revision 1)"


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, programmatic (no alembic.ini); env.py runs on ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    found = _script().get_current_head()
    assert found is not None, "no migrations"
    return found


def known(revision: str) -> bool:
    return any(script.revision == revision for script in _script().walk_revisions())


@dataclass(frozen=True)
class SchemaState:
    revision: str | None  # alembic_version's; None when the table is not there
    tables: bool  # whether any of our tables is there

    def __str__(self) -> str:
        if self.revision is not None:
            return self.revision
        return BEFORE_MIGRATIONS if self.tables else "empty"


def state(conn: Connection) -> SchemaState:
    revision = MigrationContext.configure(conn).get_current_revision()
    names = set(inspect(conn).get_table_names())
    return SchemaState(revision, bool(names & set(metadata.tables)))


def include_name(name: str | None, kind: str, _parents: object) -> bool:
    """Only our tables are compared (autogenerate): not alembic's, nor procrastinate's."""
    return kind != "table" or name in metadata.tables


def where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def prepare(engine: Engine, *, upgrade: bool = False) -> tuple[SchemaState, str]:
    """Make an empty database, check any other is at the head revision, and with
    ``upgrade`` bring an older one to it. (What was found, the revision it is at now.)"""
    with engine.connect() as conn:
        found = state(conn)
    if found.revision == head():
        return found, head()
    with _changing(engine) as conn:
        found = state(conn)  # again: another process may have changed it meanwhile
        if found.revision != head():
            if found.revision is not None and not known(found.revision):
                raise DatabaseTooNew(where(engine), found.revision, head())
            if (found.revision is not None or found.tables) and not upgrade:
                raise DatabaseOutdated(where(engine), str(found), head())
            command.upgrade(config(conn), "head")
        return found, head()


@contextlib.contextmanager
def _changing(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one process at a time holds; committed."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # only outside a transaction
            conn.commit()
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        try:
            yield conn
            conn.commit()
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def current(engine: Engine) -> SchemaState:
    with engine.connect() as conn:
        return state(conn)
