"""Passing a launch's grade back once: after its LLM pass, or after a time-out.

A grade made while the LLM had no time for it would reach the LMS twice (now, and
refined). Instead it is held: the LMS gets it once its refinement settles, or after
``lti_passback_wait_s`` (the teacher's setting) with the grade as it stands then.
Whether the LMS takes it as final (``FullyGraded``) or as ``PendingManual`` follows the
question's release policy (graders.workflow.release). A teacher's review of a launch's
grade is always passed back, as final, replacing what the LMS had.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI

from app.lti.ags import score_payload
from app.lti.models import Hold
from app.lti.state import LtiState, ensure
from graders.core.errors import UnknownGrade
from graders.core.result import GradeResult
from graders.workflow.grade_book import GradeBook
from graders.workflow.release import Releases

log = logging.getLogger(__name__)


class Holds:
    def __init__(self, lti: LtiState, book: GradeBook, releases: Releases) -> None:
        self.lti = lti
        self.book = book
        self.releases = releases
        self.wait_s = lti.settings.lti_passback_wait_s

    async def passback(self, hold: Hold, result: GradeResult) -> tuple[int | None, str]:
        """Send now (queued) or hold until refined; (passback id, status)."""
        if result.refinement in ("pending", "running") and self.wait_s > 0:
            hold.due_at = time.time() + self.wait_s
            await asyncio.to_thread(self.lti.store.hold, hold, "held")
            return None, "held"
        await asyncio.to_thread(self.lti.store.hold, hold, "released")
        return await self._send(hold, result), "queued"

    async def _send(self, hold: Hold, result: GradeResult, *, held: bool = False) -> int | None:
        """Queue the grade's passback; a ``held`` one only if no other process released it
        first (None then): the release and the queueing are one transaction."""
        final = await self.releases.final(result)
        score = score_payload(result, hold.user_id, final)
        store = self.lti.store
        if held:
            item = await asyncio.to_thread(store.release_hold, hold, score)
        else:
            item = await asyncio.to_thread(
                store.enqueue, hold.issuer, hold.client_id, hold.lineitem, score
            )
            await asyncio.to_thread(store.mark_released, hold.grade_id)
        self.lti.worker.wake.set()
        return item

    async def release_due(self) -> int:
        """Send every held grade whose refinement settled or whose wait is over."""
        sent = 0
        for hold in await asyncio.to_thread(self.lti.store.held):
            try:
                result = await self.book.current(hold.grade_id)
            except UnknownGrade:  # erased meanwhile: nothing to send
                await asyncio.to_thread(self.lti.store.mark_released, hold.grade_id)
                continue
            if result.refinement in ("pending", "running") and time.time() < hold.due_at:
                continue
            if await self._send(hold, result, held=True) is not None:
                sent += 1
        return sent

    async def reviewed(self, result: GradeResult) -> None:
        """A teacher graded a launch's answer: the LMS gets the teacher's grade."""
        if result.grade_id is None:
            return
        hold = await asyncio.to_thread(self.lti.store.hold_for, result.grade_id)
        if hold is not None:
            await self._send(hold, result)

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.release_due()
            except Exception:
                log.exception("releasing held LTI grades failed; continuing")
            await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def release_holds(
    app: FastAPI,
    book: GradeBook,
    releases: Releases,
    on_reviewed: list[Callable[[GradeResult], Awaitable[None]]],
) -> AsyncIterator[Holds]:
    holds = Holds(ensure(app), book, releases)
    on_reviewed.append(holds.reviewed)
    task = asyncio.create_task(holds.run(holds.lti.settings.lti_worker_interval_s))
    try:
        yield holds
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
