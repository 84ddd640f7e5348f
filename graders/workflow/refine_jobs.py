"""Background LLM refinement as procrastinate jobs, graded by ``rubricate worker``.

With ``batch_engine=procrastinate`` no API process refines: a grade stored as ``pending``
(an interactive answer whose LLM verdict was skipped for time or unavailable, or a batch
row graded by a worker) gets a job in the *same transaction* that stores it
(:meth:`RefineJobs.defer`, through :attr:`GradeStore.on_pending`): no pending grade
without its job, no job without its grade. Up to :data:`GRADES_PER_JOB` grades a job,
as they were stored together (one group commit, one batch chunk: mostly one question).

On a worker, :func:`register` adds the job's task and a sweep:

* The job refines its grades through :class:`graders.workflow.refining.Refinement` (claim,
  grade with the LLM, store the revision); a grade already refined or claimed elsewhere is
  left alone, so a job run twice refines nothing twice.
* While the LLM is not ready, or when some grade got no verdict and may try again, the job
  raises and procrastinate retries it with exponential back-off (:data:`RETRY`).
* Every :data:`SWEEP_CRON` a periodic job (deferred once across all workers) releases
  claims of refiners that died and defers jobs for pending grades that have none (their
  job ran out of retries while the LLM was down, or they were stored before workers ran).
  It does nothing while the LLM is not ready, so an outage does not churn jobs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import procrastinate
from procrastinate import RetryStrategy
from sqlalchemy import Connection, text

from graders.workflow.refining import Refinement

log = logging.getLogger(__name__)

TASK = "rubricate.refine_grades"
SWEEP_TASK = "rubricate.refine_sweep"
QUEUE = "rubricate_refine"
GRADES_PER_JOB = 64
SWEEP_CRON = "* * * * * */15"  # every 15 s (6th field: seconds)
SWEEP_AT_ONCE = 2000  # pending grades a sweep defers jobs for, at most
RETRY = RetryStrategy(max_attempts=6, exponential_wait=2)  # waits 2, 4, ... 64 s

# Pending grades no live refinement job names (jsonb containment on the job's args).
ORPHANS = text(
    """
SELECT g.id FROM rubricate_grades g
WHERE g.refinement = 'pending' AND NOT EXISTS (
  SELECT 1 FROM procrastinate_jobs j
  WHERE j.task_name = :task AND j.status IN ('todo', 'doing')
    AND j.args -> 'grade_ids' @> jsonb_build_array(g.id))
ORDER BY g.created_at LIMIT :n
"""
)


class NotYet(Exception):
    """The job's grades cannot all be refined now (LLM not ready, or no verdict yet)."""


class RefineJobs:
    """Defers refinement jobs on the connection storing the grades."""

    def __init__(self, app: procrastinate.App) -> None:
        self.app = app

    def defer(self, conn: Connection, grade_ids: Sequence[str]) -> None:
        """One job per :data:`GRADES_PER_JOB` grades, inside ``conn``'s open transaction."""
        if not grade_ids:
            return
        raw = conn.connection.driver_connection
        deferrer = self.app.configure_task(TASK, queue=QUEUE, connection=raw)
        parts: list[dict[str, Any]] = [
            {"grade_ids": list(grade_ids[start : start + GRADES_PER_JOB])}
            for start in range(0, len(grade_ids), GRADES_PER_JOB)
        ]
        deferrer.batch_defer(*parts)


def register(
    app: procrastinate.App,
    refinement: Refinement,
    *,
    ready: Callable[[], bool],
    concurrency: int,
    stale_after_s: float,
) -> None:
    """The refinement job and the sweep, on a worker's ``app``."""
    store = refinement.book.store
    jobs = RefineJobs(app)

    @app.task(name=TASK, queue=QUEUE, retry=RETRY)
    async def refine_grades(grade_ids: list[str]) -> None:
        if not ready():
            raise NotYet(f"LLM not ready; {len(grade_ids)} grades wait")
        slots = asyncio.Semaphore(max(1, concurrency))

        async def one(grade_id: str) -> str | None:
            async with slots:
                return await refinement.one(grade_id)

        states = await asyncio.gather(*(one(g) for g in grade_ids))
        done = sum(s == "done" for s in states)
        again = [g for g, s in zip(grade_ids, states, strict=True) if s == "pending"]
        log.info("refinement job: %d of %d grades refined", done, len(grade_ids))
        if again:
            raise NotYet(f"{len(again)} grades got no LLM verdict; trying again")

    @app.periodic(cron=SWEEP_CRON)
    @app.task(name=SWEEP_TASK, queue=QUEUE)
    async def refine_sweep(timestamp: int) -> None:
        if not ready():
            return
        released = await asyncio.to_thread(store.release_stale, stale_after_s)
        orphans = await asyncio.to_thread(_orphans, store.engine)
        if orphans:
            await asyncio.to_thread(_defer_in_transaction, store.engine, jobs, orphans)
        if released or orphans:
            log.info(
                "refinement sweep: %d stale claims released, %d jobs deferred for "
                "%d pending grades",
                released,
                -(-len(orphans) // GRADES_PER_JOB),
                len(orphans),
            )


def _orphans(engine: Any) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(ORPHANS, {"task": TASK, "n": SWEEP_AT_ONCE})
        return [str(r[0]) for r in rows]


def _defer_in_transaction(engine: Any, jobs: RefineJobs, grade_ids: list[str]) -> None:
    with engine.begin() as conn:
        jobs.defer(conn, grade_ids)
