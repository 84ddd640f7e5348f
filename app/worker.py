"""``rubricate worker``: grade batch chunks from procrastinate jobs, beside the API.

The worker builds exactly the grading the API uses (:func:`app.runtime.runtime`, the
grade book from :func:`app.grades.open_grades` without its background tasks, which stay
with the API) and runs :meth:`graders.batch.grading.ChunkGrader.grade_chunk` per job.
"""

from __future__ import annotations

import asyncio
import logging

from app.batches import database_url
from app.grades import open_grades
from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from graders.batch.grading import ChunkGrader
from graders.batch.procrastinate_queue import ensure_schema, make_app
from graders.batch.procrastinate_worker import register, serve
from graders.batch.store import BatchStore

log = logging.getLogger(__name__)


async def run_worker(
    settings: Settings,
    *,
    concurrency: int,
    heartbeat_s: float,
    stalled_after_s: float,
    name: str = "rubricate-worker",
) -> None:
    url = database_url(settings)
    app = make_app(url)  # BatchEngineUnavailable unless PostgreSQL
    store = await asyncio.to_thread(BatchStore, url)
    try:
        await asyncio.to_thread(ensure_schema, store.engine)
        async with (
            runtime(settings, load_all_lessons(settings)) as state,
            open_grades(settings, state.service, background=False) as grades,
        ):
            grader = ChunkGrader(
                state.service, store, concurrency=settings.batch_concurrency, book=grades.book
            )
            register(app, grader)
            log.info("rubricate worker ready: %d chunks at once", concurrency)
            await serve(
                app,
                concurrency=concurrency,
                heartbeat_s=heartbeat_s,
                stalled_after_s=stalled_after_s,
                name=name,
            )
    finally:
        store.close()
