"""The grade store wired to settings: the book routes grade through, the refiner, retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from app.batches import database_url
from app.settings import Settings
from graders.batch.procrastinate_queue import ensure_schema, make_app
from graders.service.grading_service import GradingService
from graders.store.grade_store import GradeStore
from graders.workflow.grade_book import GradeBook
from graders.workflow.refine_jobs import RefineJobs
from graders.workflow.refiner import Refiner
from graders.workflow.release import Releases
from graders.workflow.teaching import Teaching

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


async def _follow(teaching: Teaching, interval_s: float) -> None:
    """Keep this process's exemplars up with reviews stored by other processes."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            taught = await teaching.follow()
        except Exception:
            log.exception("following reviews from other processes failed; continuing")
        else:
            if taught:
                log.info("exemplars of %d questions taught again (reviews, erasures)", taught)


@contextlib.asynccontextmanager
async def open_grades(
    settings: Settings,
    service: GradingService,
    *,
    url: str | None = None,
    background: bool = True,
) -> AsyncIterator[Grades]:
    """Open the store, learn from past reviews, start the refiner and the retention sweep
    (``background``; a batch worker leaves those to the API). With the worker engine
    (batch_engine=procrastinate) no process refines here: grades stored pending get a
    refinement job, which ``rubricate worker`` runs."""
    store = await asyncio.to_thread(
        GradeStore, url or database_url(settings), upgrade=settings.db_upgrade
    )
    book = GradeBook(service, store, refine=settings.refine_in_background)
    teaching = Teaching(book)
    taught = await teaching.teach_all()
    if taught:
        log.info("exemplars from teachers' reviews for %d questions", taught)
    tasks: list[asyncio.Task[None]] = []
    refiner = None
    llm = service.llm
    on_workers = settings.batch_engine == "procrastinate"
    if on_workers and book.refine:  # workers refine; a pending grade's job is deferred with it
        app = make_app(url or database_url(settings))
        await asyncio.to_thread(ensure_schema, store.engine)
        store.on_pending = RefineJobs(app).defer
        log.info("LLM refinement: by rubricate workers (procrastinate jobs)")
    elif background and book.refine and llm is not None:
        refiner = Refiner(
            book,
            ready=lambda: llm.ready,
            concurrency=settings.refine_concurrency,
            pause_above=settings.refine_pause_above,
        )
        tasks.append(asyncio.create_task(refiner.run()))
    if settings.teaching_sync_s > 0:
        tasks.append(asyncio.create_task(_follow(teaching, settings.teaching_sync_s)))
    if background and settings.grade_retention_days > 0:
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
