"""Refining one stored grade with the LLM: claim it, grade it again, store the revision.

Shared by the two places refinement runs: the in-process :class:`graders.workflow.refiner.
Refiner` (the embedded default) and the ``rubricate worker`` job
(:mod:`graders.workflow.refine_jobs`, batch_engine=procrastinate). The claim is one
conditional UPDATE, so two processes never refine the same grade, and a job delivered
twice refines it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from graders.core.errors import RubricateError
from graders.store.grade_rows import grade_row
from graders.workflow.grade_book import GradeBook, graded_by, needs_refinement

log = logging.getLogger(__name__)


class Refinement:
    """Refines grades of ``book`` one at a time per call; counts what it did."""

    def __init__(self, book: GradeBook, *, max_attempts: int = 3) -> None:
        self.book = book
        self.max_attempts = max_attempts
        self.refined = 0
        self.failed = 0
        self.lag_s: float | None = None  # time from first grade to refined revision, last one

    async def one(self, grade_id: str) -> str | None:
        """Refine ``grade_id`` if it is pending; the state it ends in (``done``, ``pending``
        for another try, ``failed``), or None when it was not pending (refined already, or
        another refiner has it). Cancelled: the grade is pending again, the try not counted."""
        store = self.book.store
        if not await asyncio.to_thread(store.claim, grade_id):
            return None
        try:
            state = await self._grade(grade_id)
            await asyncio.to_thread(store.set_refinement, grade_id, state)
            await self.book.changed()
        except asyncio.CancelledError:  # preempted or shutting down: the grade waits
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.to_thread(store.unclaim, grade_id))
            raise
        except Exception:
            log.exception("refinement of grade %s failed", grade_id)
            state = "failed"
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.set_refinement, grade_id, state)
        if state == "failed":
            self.failed += 1
        return state

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
        await asyncio.to_thread(store.revise, grade_id, grade_row(result), refinement="done")
        self.refined += 1
        self.lag_s = time.time() - grade.created_at
        return "done"
