"""Grading a batch's rows, whatever engine hands them over.

Every answer is graded by :meth:`GradingService.grade`. Identical answers (same lesson,
question and normalised text) are graded once per batch, at most ``concurrency`` grades
run at a time, and the rows' results are saved in one transaction
(:meth:`graders.store.batch_store.BatchStore.save`), each row's grade also kept in the grade
store. All writes are idempotent, so a chunk run twice leaves one result per row.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError

from graders.core.errors import RubricateError
from graders.core.result import GradeResult
from graders.service.grading_service import GradingService
from graders.store.batch_rows import PendingRow
from graders.store.batch_store import BatchStore
from graders.store.chunk_queue import Chunk, ChunkOutcome
from graders.workflow.grade_book import GradeBook

log = logging.getLogger(__name__)


class ChunkGrader:
    """Grades pending rows and stores their results; shared by every engine."""

    def __init__(
        self,
        service: GradingService,
        store: BatchStore,
        *,
        concurrency: int = 16,
        book: GradeBook | None = None,
    ) -> None:
        self.service = service
        self.store = store
        self.book = book
        self._semaphore = asyncio.Semaphore(concurrency)

    async def grade_chunk(self, chunk: Chunk) -> ChunkOutcome:
        """One run of a chunk job: grade its rows still pending, store them, and finish the
        batch when no row is left. Safe to run any number of times."""
        outcome = ChunkOutcome(chunk.batch_id, chunk.key)
        run = await asyncio.to_thread(self.store.begin_run, chunk)
        if run is None:
            outcome.skipped = "batch cancelled, finished or gone"
            return outcome
        outcome.run = run
        pending = await asyncio.to_thread(self.store.chunk_pending, chunk)
        outcome.pending = len(pending)
        if pending:
            regraded = len(pending) if run > 1 else 0
            await self.grade_rows(chunk.batch_id, pending, outcome, run=(chunk.key, regraded))
            outcome.regraded = regraded
        outcome.finished = await asyncio.to_thread(self.store.finish_if_complete, chunk.batch_id)
        return outcome

    async def fail_chunk(self, chunk: Chunk, reason: str) -> ChunkOutcome:
        """Give up on a chunk: its rows still pending fail with ``reason`` (so the batch
        can finish); rows already graded keep their result."""
        outcome = ChunkOutcome(chunk.batch_id, chunk.key, skipped=reason)
        pending = await asyncio.to_thread(self.store.chunk_pending, chunk)
        failed = [(row.seq, reason) for row in pending]
        if failed:
            await asyncio.to_thread(self.store.save, chunk.batch_id, {}, [], failed)
            outcome.failed = len(failed)
        outcome.finished = await asyncio.to_thread(self.store.finish_if_complete, chunk.batch_id)
        return outcome

    async def grade_rows(
        self,
        batch_id: str,
        pending: list[PendingRow],
        outcome: ChunkOutcome | None = None,
        *,
        run: tuple[int, int] | None = None,
    ) -> None:
        """Grade ``pending`` (each distinct answer once) and save their results."""
        firsts: dict[str, PendingRow] = {}
        for row in pending:
            firsts.setdefault(row.answer_hash, row)
        known = await asyncio.to_thread(self.store.known, batch_id, list(firsts))
        todo = [row for h, row in firsts.items() if h not in known]
        outcomes = await asyncio.gather(*(self._grade(row) for row in todo))
        new_grades: dict[str, str] = {}
        errors: dict[str, str] = {}
        for row, (result, error) in zip(todo, outcomes, strict=True):
            if result is not None:
                new_grades[row.answer_hash] = result
            else:
                errors[row.answer_hash] = error or "grading failed"
        done = [r.seq for r in pending if r.answer_hash not in errors]
        failed = [(r.seq, errors[r.answer_hash]) for r in pending if r.answer_hash in errors]
        if self.book is not None:
            await self._keep(batch_id, pending, new_grades, errors)
        duplicates = await asyncio.to_thread(
            self.store.save, batch_id, new_grades, done, failed, run
        )
        if outcome is not None:
            outcome.done += len(done)
            outcome.failed += len(failed)
            outcome.duplicates += duplicates

    async def _keep(
        self,
        batch_id: str,
        pending: list[PendingRow],
        new_grades: dict[str, str],
        errors: dict[str, str],
    ) -> None:
        """Each graded row into the grade store (before the rows are marked done, so a crash
        in between re-grades them, and the store keeps each row once)."""
        assert self.book is not None
        known = {h for h in (r.answer_hash for r in pending) if h not in new_grades}
        results = {**await asyncio.to_thread(self.store.grades_for, batch_id, list(known))}
        results.update(new_grades)
        news = [
            self.book.fresh(
                GradeResult.model_validate_json(results[row.answer_hash]).model_copy(
                    update={"student_id": row.student_id}
                ),
                row.answer,
                source="batch",
                batch_id=batch_id,
                batch_seq=row.seq,
            )[1]
            for row in pending
            if row.answer_hash not in errors and row.answer_hash in results
        ]
        if not news:
            return
        try:
            await asyncio.to_thread(self.book.store.add_many, news)
        except IntegrityError:
            # A concurrent run of the same rows stored some first (both saw them missing);
            # once more, its rows are found and kept, ours skipped.
            await asyncio.to_thread(self.book.store.add_many, news)
        self.book.nudge()

    async def _grade(self, row: PendingRow) -> tuple[str | None, str | None]:
        async with self._semaphore:
            try:
                result = await self.service.grade(row.lesson_id, row.question_id, row.answer)
            except RubricateError as exc:
                return None, str(exc)
            except Exception as exc:  # reported on the row, the batch goes on
                log.exception("grading failed for %s/%s", row.lesson_id, row.question_id)
                return None, f"internal error: {type(exc).__name__}"
        return result.model_dump_json(exclude={"student_id"}), None
