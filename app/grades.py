"""The grade store wired to settings: the book routes grade through, the refiner, retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from app.batches import database_url
from app.settings import Settings
from graders.grades import GradeBook, GradeStore, Refiner
from graders.grades.release import Releases
from graders.grades.teaching import Teaching
from graders.service import GradingService

log = logging.getLogger(__name__)
RETENTION_EVERY_S = 3600.0


@dataclass
class Grades:
    book: GradeBook
    refiner: Refiner | None
    teaching: Teaching
    releases: Releases


async def _retention(store: GradeStore, days: float) -> None:
    while True:
        erased = await asyncio.to_thread(store.purge_older_than, days * 86400)
        if erased:
            log.info("retention: %d grades older than %g days erased", erased, days)
        await asyncio.sleep(RETENTION_EVERY_S)


@contextlib.asynccontextmanager
async def open_grades(
    settings: Settings, service: GradingService, *, url: str | None = None
) -> AsyncIterator[Grades]:
    """Open the store, learn from past reviews, start the refiner and the retention sweep."""
    store = await asyncio.to_thread(GradeStore, url or database_url(settings))
    book = GradeBook(service, store, refine=settings.refine_in_background)
    teaching = Teaching(book)
    taught = await teaching.teach_all()
    if taught:
        log.info("exemplars from teachers' reviews for %d questions", taught)
    tasks: list[asyncio.Task[None]] = []
    refiner = None
    llm = service.llm
    if book.refine and llm is not None:
        refiner = Refiner(
            book,
            ready=lambda: llm.ready,
            concurrency=settings.refine_concurrency,
            pause_above=settings.refine_pause_above,
        )
        tasks.append(asyncio.create_task(refiner.run()))
    if settings.grade_retention_days > 0:
        tasks.append(asyncio.create_task(_retention(store, settings.grade_retention_days)))
    try:
        releases = await asyncio.to_thread(Releases, book)
        yield Grades(book, refiner, teaching, releases)
    finally:
        if refiner is not None:
            await refiner.aclose()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        store.close()
