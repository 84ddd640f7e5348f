"""Batch grading wired to settings: the store's URL, the manager and its worker's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from app.settings import Settings
from graders.batch import BatchManager, BatchStore
from graders.batch.store import sqlite_url
from graders.grades import GradeBook
from graders.service import GradingService


def database_url(settings: Settings) -> str:
    return settings.database_url or sqlite_url(settings.cache_dir / "rubricate.db")


@contextlib.asynccontextmanager
async def open_batches(
    settings: Settings,
    service: GradingService,
    *,
    url: str | None = None,
    book: GradeBook | None = None,
) -> AsyncIterator[BatchManager]:
    """Open the store, start the worker (which resumes unfinished batches); stop on exit."""
    store = await asyncio.to_thread(BatchStore, url or database_url(settings))
    manager = BatchManager(
        service,
        store,
        concurrency=settings.batch_concurrency,
        chunk_size=settings.batch_chunk_size,
        upload_dir=settings.cache_dir / "uploads",
        book=book,
    )
    await manager.start()
    try:
        yield manager
    finally:
        await manager.stop()
        store.close()
