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

from graders.workflow.grade_book import GradeBook
from graders.workflow.refining import Refinement

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
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self.pause_above = pause_above
        book.busy_above = pause_above
        self.wake = asyncio.Event()
        book.on_pending.append(self.wake)
        self.refinement = Refinement(book, max_attempts=max_attempts)
        self.preempted = 0
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
        try:
            await self.refinement.one(grade_id)
        finally:
            self._claimed.discard(grade_id)
            self._slots.release()

    @property
    def refined(self) -> int:
        return self.refinement.refined

    @property
    def lag_s(self) -> float | None:
        """Time from first grade to refined revision, for the last grade refined."""
        return self.refinement.lag_s

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
