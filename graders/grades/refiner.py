"""The background LLM pass: grades made without the LLM get a refined revision later.

The database is the queue: a grade marked ``pending`` waits there, so the queue is
bounded by nothing held in memory, survives a restart, and is shared by every process
on the same database. A refiner claims a grade with one conditional UPDATE (no two
processes refine the same grade), asks the LLM with no deadline but the client's own
timeout, and stores the result as a new revision when the LLM gave a verdict.

- Capacity first: at most ``concurrency`` refinements at once, and each counts in the
  LLM's admission queue, so interactive requests see the load and skip the LLM rather
  than wait behind it (they are refined in turn).
- While the LLM is not ready (vLLM down or restarting) nothing is claimed; pending grades
  wait and refinement resumes when it is back.
- Students first: while more than ``pause_above`` interactive requests are being graded
  (and for LULL_S after), no refinement runs: none starts, and those running are
  cancelled (their grades go back to pending, the attempt not counted; vLLM aborts a
  request whose client went away). On a CPU machine the LLM and the embedding model share
  the cores; on a GPU set it to 0.
- A grade the LLM fails on is retried up to ``max_attempts`` times, then ``failed``: its
  first revision stands.
- A claim left by a refiner that died goes back to pending after ``stale_after_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from graders.errors import RubricateError
from graders.grades.book import GradeBook, graded_by, needs_refinement

log = logging.getLogger(__name__)
PAUSED_POLL_S = 0.25  # how soon refinement notices the students have gone
LULL_S = 2.0  # refinement starts again after this long with no busy moment


class Refiner:
    def __init__(
        self,
        book: GradeBook,
        *,
        ready: Callable[[], bool],
        concurrency: int = 4,
        max_attempts: int = 3,
        poll_s: float = 1.0,
        stale_after_s: float = 600.0,
        pause_above: int = 0,
    ) -> None:
        self.book = book
        self.ready = ready
        self.concurrency = max(1, concurrency)
        self.max_attempts = max_attempts
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self.pause_above = pause_above
        book.busy_above = pause_above
        self.wake = asyncio.Event()
        book.on_pending.append(self.wake)
        self.refined = 0
        self.failed = 0
        self.preempted = 0
        self.lag_s: float | None = None  # time from first grade to refined revision, last one
        self._slots = asyncio.Semaphore(self.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._claimed: set[str] = set()

    async def run(self) -> None:
        store = self.book.store
        released = await asyncio.to_thread(store.release_stale, self.stale_after_s)
        if released:
            log.info("refinement: %d stale claims released", released)
        while True:
            if self.paused():
                self.preempt()
                await self._sleep(PAUSED_POLL_S)
                continue
            if not self.ready():
                await self._sleep()
                continue
            free = self.concurrency - len(self._claimed)
            ids = await asyncio.to_thread(store.pending, free) if free > 0 else []
            ids = [i for i in ids if i not in self._claimed]
            if not ids:
                await self._sleep()
                continue
            for grade_id in ids:
                await self._slots.acquire()
                self._claimed.add(grade_id)
                task = asyncio.create_task(self._refine(grade_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def paused(self) -> bool:
        """Busy now, or busy within the last LULL_S seconds (so a class in full swing does
        not see refinements start and stop between two requests)."""
        if self.pause_above <= 0:
            return False
        busy = self.book.in_flight > self.pause_above
        return busy or time.monotonic() - self.book.busy_at < LULL_S

    def preempt(self) -> None:
        """Cancel the refinements running now; their grades wait for the next lull."""
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
                self.preempted += 1

    async def _sleep(self, seconds: float | None = None) -> None:
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds or self.poll_s)

    async def _refine(self, grade_id: str) -> None:
        store = self.book.store
        try:
            if not await asyncio.to_thread(store.claim, grade_id):
                return
            state = await self._grade(grade_id)
            await asyncio.to_thread(store.set_refinement, grade_id, state)
            await self.book.changed()
        except asyncio.CancelledError:  # preempted or shutting down: the grade waits
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.to_thread(store.unclaim, grade_id))
            raise
        except Exception:
            log.exception("refinement of grade %s failed", grade_id)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.set_refinement, grade_id, "failed")
        finally:
            self._claimed.discard(grade_id)
            self._slots.release()

    async def _grade(self, grade_id: str) -> str:
        """Refine one claimed grade; the refinement state it ends in."""
        store = self.book.store
        grade = await asyncio.to_thread(store.get, grade_id)
        if grade is None:
            return "failed"
        try:
            lesson, question = await self.book.question_of(grade)
        except RubricateError as exc:  # the lesson or question was removed since
            log.warning("grade %s cannot be refined: %s", grade_id, exc)
            return "failed"
        service = self.book.service
        result, _ = await service.grade_question(
            lesson, question, grade.answer, student_id=grade.student_id, background=True
        )
        if needs_refinement(result):
            return "failed" if grade.refine_attempts >= self.max_attempts else "pending"
        result = result.model_copy(update={"graded_by": graded_by(result), "refinement": "done"})
        await asyncio.to_thread(
            store.revise,
            grade_id,
            graded_by=result.graded_by,
            result=result.model_dump_json(),
            label=result.label.value,
            needs_review=result.needs_review,
            confidence=result.confidence,
            rubric_hash=result.versions.rubric_hash,
            exemplar_set=result.versions.exemplar_set,
            refinement="done",
        )
        self.refined += 1
        self.lag_s = time.time() - grade.created_at
        return "done"

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
