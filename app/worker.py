"""``rubricate worker``: grade batch chunks and refine grades with the LLM, from
procrastinate jobs, beside the API.

The worker builds exactly the grading the API uses (:func:`app.runtime.runtime`, the
grade book from :func:`app.grades.open_grades` without its retention sweep, which stays
with the API) and runs :meth:`graders.batch.grading.ChunkGrader.grade_chunk` per chunk
job. With an LLM configured it also takes the refinement jobs
(:mod:`graders.workflow.refine_jobs`): the background LLM pass of every pending grade,
interactive or batch, runs on workers and not in API processes.
"""

from __future__ import annotations

import asyncio
import logging

from app.batches import database_url
from app.grades import open_grades
from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from graders.batch.grading import ChunkGrader
from graders.batch.procrastinate_queue import QUEUE, ensure_schema, make_app
from graders.batch.procrastinate_worker import register, serve
from graders.store.batch_store import BatchStore
from graders.workflow import refine_jobs
from graders.workflow.refining import Refinement

log = logging.getLogger(__name__)
REFINE_STALE_S = 300.0  # a refinement claimed this long ago by a worker that died is retaken


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
    store = await asyncio.to_thread(BatchStore, url, upgrade=settings.db_upgrade)
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
            queues = [QUEUE]
            llm = state.service.llm
            if llm is not None and grades.book.refine:
                refinement = Refinement(grades.book)
                refine_jobs.register(
                    app,
                    refinement,
                    ready=lambda: llm.ready,
                    concurrency=settings.refine_concurrency,
                    stale_after_s=REFINE_STALE_S,
                )
                queues.append(refine_jobs.QUEUE)
            log.info("rubricate worker ready: %d jobs at once, queues %s", concurrency, queues)
            await serve(
                app,
                queues=queues,
                concurrency=concurrency,
                heartbeat_s=heartbeat_s,
                stalled_after_s=stalled_after_s,
                name=name,
            )
    finally:
        store.close()
