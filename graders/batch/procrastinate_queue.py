"""The worker engine, API side: one procrastinate job a chunk, in PostgreSQL.

The API process only defers jobs, and it defers them on the SQLAlchemy connection that is
storing the upload: :meth:`ProcrastinateQueue.enqueue` hands that connection's psycopg
connection to ``App.configure_task(..., connection=...).batch_defer(...)``, which inserts
into ``procrastinate_jobs`` (``procrastinate_defer_jobs_v1``) within the still-open
transaction. The upload and its jobs commit together or not at all. ``rubricate worker``
processes (:mod:`graders.batch.procrastinate_worker`) grade the jobs.

Procrastinate's schema is applied at start-up of the API and of every worker, once:
under an advisory lock, and only when ``procrastinate_jobs`` is not there yet (in the
connection's ``search_path``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import procrastinate
from procrastinate.schema import SchemaManager
from sqlalchemy import Connection, Engine, make_url, text

from graders.core.errors import BatchEngineUnavailable
from graders.store.chunk_queue import CHUNK_ROWS, Chunk
from graders.store.database import is_postgres, normalise_url

TASK = "rubricate.grade_chunk"
QUEUE = "rubricate_batches"
DEFER_AT_ONCE = 500  # jobs a statement
_SCHEMA_LOCK = 0x52554252  # "RUBR": one process applies the schema at a time


def conninfo(url: str) -> str:
    """The libpq URI for a SQLAlchemy PostgreSQL URL (query options such as
    ``options=-csearch_path=...`` kept)."""
    if not is_postgres(url):
        raise BatchEngineUnavailable(
            "the procrastinate batch engine needs a PostgreSQL database_url"
        )
    parsed = make_url(normalise_url(url)).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def make_app(url: str, **pool: Any) -> procrastinate.App:
    """A procrastinate app on ``url``. Not opened: the API never opens it (it defers on its
    own connections); a worker opens it with ``open_async``."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(url), **pool)
    return procrastinate.App(connector=connector)


def ensure_schema(engine: Engine) -> bool:
    """Apply procrastinate's schema unless present; whether it was applied now."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar():
            return False
        raw = conn.connection.driver_connection
        assert raw is not None
        # No parameters: psycopg sends the whole script at once (many statements).
        raw.execute(SchemaManager.get_schema())
    return True


class ProcrastinateQueue:
    """A :class:`graders.store.chunk_queue.ChunkQueue` of procrastinate jobs."""

    name = "procrastinate"
    chunk_rows = CHUNK_ROWS

    def __init__(self, app: procrastinate.App) -> None:
        self.app = app

    def enqueue(self, conn: Connection, chunks: Sequence[Chunk]) -> None:
        """Defer one job a chunk on ``conn``'s psycopg connection, inside its transaction
        (procrastinate commits nothing: the caller's commit makes the jobs visible)."""
        raw = conn.connection.driver_connection
        deferrer = self.app.configure_task(TASK, queue=QUEUE, connection=raw)
        for start in range(0, len(chunks), DEFER_AT_ONCE):
            part = chunks[start : start + DEFER_AT_ONCE]
            deferrer.batch_defer(*(chunk.args() for chunk in part))

    def committed(self) -> None:
        """Nothing to wake: PostgreSQL notifies the workers when the jobs commit."""

    async def start(self) -> None:
        """The API only defers; workers grade."""

    async def stop(self) -> None:
        """Nothing runs here."""
