"""One way to open a database: SQLite by default (nothing to install), PostgreSQL when set.

Stores (batches, grades) use SQLAlchemy 2 Core with a *sync* engine run in worker
threads: the same code and well-tested drivers serve SQLite (stdlib ``sqlite3``) and
PostgreSQL (``psycopg`` 3). SQLite runs in WAL mode with a busy timeout, so one writer
and many readers do not block each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite

SCHEMA_LOCK = 0x72756272  # the PostgreSQL advisory lock held while creating tables


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver we install."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def open_engine(url: str, metadata: MetaData) -> Engine:
    """An engine for ``url`` with ``metadata``'s tables created if missing."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    create_tables(engine, metadata)
    return engine


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """``metadata``'s missing tables. On PostgreSQL one process at a time: processes starting
    together would each create them, and all but one fail; in turn, the others find them."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        metadata.create_all(conn)


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
