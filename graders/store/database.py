"""One way to open a database: SQLite by default (nothing to install), PostgreSQL when set.

Stores (batches, grades) use SQLAlchemy 2 Core with a *sync* engine run in worker
threads: the same code and well-tested drivers serve SQLite (stdlib ``sqlite3``) and
PostgreSQL (``psycopg`` 3). SQLite runs in WAL mode with a busy timeout, so one writer
and many readers do not block each other. The schema is the migrations' (graders.store.schema).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite

from graders.store.schema import prepare


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver we install."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def open_engine(url: str, *, upgrade: bool = False) -> Engine:
    """An engine for ``url`` whose schema is this rubricate's: an empty database is made; an
    older one is upgraded with ``upgrade``, else refused (graders.store.schema.prepare)."""
    engine = connect(url)
    try:
        prepare(engine, upgrade=upgrade)
    except BaseException:
        engine.dispose()
        raise
    return engine


def connect(url: str) -> Engine:
    """An engine for ``url``, the schema as it is (``rubricate db`` reads and upgrades it)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def is_postgres(url: str) -> bool:
    return normalise_url(url).startswith("postgresql")


def insert_ignoring(conn: Connection, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING in the connection's dialect (SQLite, PostgreSQL):
    a row whose key is already stored, by this or a concurrent transaction, is skipped."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
