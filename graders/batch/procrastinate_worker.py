"""The worker engine, worker side: procrastinate jobs in, :meth:`ChunkGrader.grade_chunk` out.

* Retries: a chunk whose run raises (the database away, a bug) is retried with
  exponential backoff (:data:`RETRY`); after the last attempt its pending rows fail with
  the reason, so the batch still finishes. A row's own grading error never raises: it is
  stored on the row, as in-process.
* Stalled jobs: every worker sends procrastinate heartbeats; each also looks every few
  seconds for ``doing`` jobs whose worker stopped beating (killed, frozen, host gone) and
  puts them back to ``todo`` (``JobManager.get_stalled_jobs`` / ``retry_job``). Two
  workers racing for one stalled job is harmless: the second retry finds it no longer
  ``doing``. A worker only slow to beat (a busy CPU) gets its job run twice: counted,
  one result kept. Stale worker rows are pruned by procrastinate when a worker starts;
  ``stalled_after`` must stay well above the heartbeat (a pruned live worker stops).
* Delivery is at least once; ``grade_chunk`` makes that exactly one result per row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import procrastinate
from procrastinate import JobContext, RetryStrategy
from procrastinate.exceptions import ConnectorException

from graders.batch.grading import ChunkGrader
from graders.batch.procrastinate_queue import QUEUE, TASK
from graders.store.chunk_queue import Chunk, ChunkOutcome

log = logging.getLogger(__name__)

RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)  # waits 2, 4, 8, 16, 32 s


def register(app: procrastinate.App, grader: ChunkGrader) -> None:
    """The chunk task, on ``app``."""

    @app.task(name=TASK, queue=QUEUE, retry=RETRY, pass_context=True)
    async def grade_chunk(context: JobContext, /, **args: Any) -> None:
        chunk = Chunk.of(args)
        job = context.job
        log.info(
            "chunk %s/%d: started (job %s, attempt %d, worker %s, %d rows)",
            chunk.batch_id,
            chunk.key,
            job.id,
            job.attempts + 1,
            job.worker_id,
            len(chunk.seqs),
        )
        try:
            outcome = await grader.grade_chunk(chunk)
        except Exception as exc:
            if RETRY.get_retry_decision(exception=exc, job=job) is None:
                reason = f"grading failed after {job.attempts + 1} attempts: {exc!r}"[:500]
                outcome = await grader.fail_chunk(chunk, reason)
                _report(outcome, job.id)
            raise
        _report(outcome, job.id)


def _report(outcome: ChunkOutcome, job_id: int | None) -> None:
    log.info(
        "chunk %s/%d: %s (job %s, run %d: %d pending, %d graded, %d failed, "
        "%d regraded, %d duplicates%s)",
        outcome.batch_id,
        outcome.chunk,
        outcome.skipped or "done",
        job_id,
        outcome.run,
        outcome.pending,
        outcome.done,
        outcome.failed,
        outcome.regraded,
        outcome.duplicates,
        "; batch finished" if outcome.finished else "",
    )


async def recover_stalled(
    app: procrastinate.App, *, every_s: float, stalled_after_s: float
) -> None:
    """Put back the jobs (chunks, refinements) of workers whose heartbeat stopped, forever."""
    while True:
        await asyncio.sleep(every_s)
        try:
            stalled = await app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=stalled_after_s
            )
            for job in stalled:
                with contextlib.suppress(ConnectorException):  # another worker was first
                    await app.job_manager.retry_job(job)
                    log.warning("job %s (worker %s) stalled: queued again", job.id, job.worker_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database away for a moment: try again next time
            log.exception("stalled-job recovery failed")


async def serve(
    app: procrastinate.App,
    *,
    concurrency: int,
    heartbeat_s: float,
    stalled_after_s: float,
    name: str = "rubricate-worker",
    queues: list[str] | None = None,
) -> None:
    """Run a worker on ``queues`` (the chunk queue) until SIGINT/SIGTERM (graceful: running
    jobs end)."""
    async with app.open_async():
        recovery = asyncio.create_task(
            recover_stalled(app, every_s=max(heartbeat_s, 1.0), stalled_after_s=stalled_after_s)
        )
        try:
            await app.run_worker_async(
                queues=queues or [QUEUE],
                concurrency=concurrency,
                name=name,
                update_heartbeat_interval=heartbeat_s,
                stalled_worker_timeout=stalled_after_s,
                delete_jobs="successful",
            )
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery
