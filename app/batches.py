"""Batch grading wired to settings: the store's URL, the engine, the manager's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from app.settings import Settings
from graders.batch.manager import BatchManager
from graders.core.errors import BatchEngineUnavailable
from graders.service.grading_service import GradingService
from graders.store.batch_store import BatchStore
from graders.store.chunk_queue import ChunkQueue
from graders.store.database import is_postgres, sqlite_url
from graders.workflow.grade_book import GradeBook


def database_url(settings: Settings) -> str:
    return settings.database_url or sqlite_url(settings.cache_dir / "rubricate.db")


async def open_queue(settings: Settings, store: BatchStore) -> ChunkQueue | None:
    """The configured engine's queue (its schema applied once); None: in-process."""
    if settings.batch_engine == "inprocess":
        return None
    if not is_postgres(store.url):
        raise BatchEngineUnavailable(
            "batch_engine 'procrastinate' needs a PostgreSQL database_url; "
            "leave batch_engine at 'inprocess' for SQLite"
        )
    from graders.batch.procrastinate_queue import ProcrastinateQueue, ensure_schema, make_app

    await asyncio.to_thread(ensure_schema, store.engine)
    return ProcrastinateQueue(make_app(store.url))


@contextlib.asynccontextmanager
async def open_batches(
    settings: Settings,
    service: GradingService,
    *,
    url: str | None = None,
    book: GradeBook | None = None,
) -> AsyncIterator[BatchManager]:
    """Open the store and the engine (the in-process worker resumes unfinished batches);
    stop on exit. A private ``url`` (``rubricate batch`` in-process) always grades here."""
    store = await asyncio.to_thread(
        BatchStore, url or database_url(settings), upgrade=settings.db_upgrade
    )
    try:
        queue = None if url else await open_queue(settings, store)
        manager = BatchManager(
            service,
            store,
            concurrency=settings.batch_concurrency,
            chunk_size=settings.batch_chunk_size,
            upload_dir=settings.cache_dir / "uploads",
            book=book,
            queue=queue,
        )
        await manager.start()
        try:
            yield manager
        finally:
            await manager.stop()
    finally:
        store.close()
