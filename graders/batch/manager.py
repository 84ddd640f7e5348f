"""The batch manager: takes uploads in, runs the background worker, streams results out.

Every answer is graded by :meth:`GradingService.grade`; the manager only decides what to
grade and when. Rows are read from the store in chunks, identical answers (same lesson,
question and normalised text) are graded once per batch, at most ``concurrency`` grades
run at a time, and each chunk is saved in one transaction (see :mod:`graders.batch.store`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

from graders.batch.export import CSV_COLUMNS, csv_line, csv_record, jsonl_record, take
from graders.batch.intake import answer_hash, idempotency_token, normalise_answer, save_upload
from graders.batch.models import FINISHED, BatchInfo, Refinement
from graders.batch.parse import ParsedRow, parse
from graders.batch.report import ClassReport, build_report
from graders.batch.store import BatchStore, NewRow, PendingRow, ResultRow
from graders.errors import (
    BatchFinished,
    BatchNotFound,
    IdempotencyKeyReused,
    RubricateError,
)
from graders.grades.book import GradeBook
from graders.result import GradeResult
from graders.service import GradingService

log = logging.getLogger(__name__)

ResultFormat = Literal["csv", "jsonl"]
__all__ = ["BatchManager", "answer_hash", "normalise_answer", "save_upload"]


class BatchManager:
    """Owns the store and the worker task; one per running app (or CLI run)."""

    def __init__(
        self,
        service: GradingService,
        store: BatchStore,
        *,
        concurrency: int = 16,
        chunk_size: int = 256,
        upload_dir: Path | None = None,
        book: GradeBook | None = None,
    ) -> None:
        self.service = service
        # Every row's grade is also kept in the grade store (refined there by the LLM pass,
        # reviewed there by teachers); results and reports show its current revision.
        self.book = book
        self.store = store
        self.concurrency = concurrency
        self.chunk_size = max(chunk_size, concurrency)
        self.upload_dir = upload_dir or Path(tempfile.gettempdir()) / "rubricate-uploads"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._semaphore = asyncio.Semaphore(concurrency)

    # -- lifetime ---------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="batch-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- intake -----------------------------------------------------------------------
    async def by_key(self, key: str, path: Path) -> tuple[BatchInfo | None, str]:
        """The batch an Idempotency-Key and upload already made, and the key's stored form.

        Raises IdempotencyKeyReused when the key was used for a different file."""
        token = await asyncio.to_thread(idempotency_token, key, path)
        record = await asyncio.to_thread(self.store.by_key, token)
        if record is not None:
            return record.info(time.time()), token
        if await asyncio.to_thread(self.store.key_in_use, token.split(":")[0] + ":"):
            raise IdempotencyKeyReused()
        return None, token

    async def submit(
        self, path: Path, *, filename: str | None = None, key: str | None = None
    ) -> tuple[BatchInfo, bool]:
        """Parse and store an uploaded file; (batch, created). Raises BadBatchFile."""
        record, created = await asyncio.to_thread(self._ingest, path, filename, key)
        self._wake.set()
        return record.info(time.time()), created

    def _ingest(self, path: Path, filename: str | None, key: str | None) -> Any:
        fmt, parsed = parse(path)
        return self.store.create(
            (self._checked(row) for row in parsed), fmt=fmt, filename=filename, key=key
        )

    def _checked(self, row: ParsedRow) -> NewRow:
        error = row.error
        answer = None
        digest = None
        if error is None:
            try:
                lesson, question = row.lesson_id or "", row.question_id or ""
                self.service.find(lesson, question)
                raw = row.answer or ""
                self.service.check_answer(raw)
                # An empty answer is graded, as in the API: 0, "no answer was given".
                answer = normalise_answer(raw)
                digest = answer_hash(lesson, question, answer)
            except RubricateError as exc:
                error = str(exc)
        return NewRow(
            line=row.line,
            row_id=row.row_id,
            student_id=row.student_id,
            lesson_id=row.lesson_id,
            question_id=row.question_id,
            answer=answer,
            answer_hash=digest,
            error=error,
        )

    # -- status -----------------------------------------------------------------------
    async def info(self, batch_id: str) -> BatchInfo:
        record = await asyncio.to_thread(self.store.get, batch_id)
        if record is None:
            raise BatchNotFound(batch_id)
        info = record.info(time.time())
        if self.book is not None:
            counts = await asyncio.to_thread(self.book.store.batch_refinement, batch_id)
            info.refinement = Refinement.of(counts)
        return info

    async def erase_student(self, student_id: str) -> int:
        return await asyncio.to_thread(self.store.erase_student, student_id)

    async def cancel(self, batch_id: str) -> BatchInfo:
        info = await self.info(batch_id)
        if info.status in FINISHED or not await asyncio.to_thread(self.store.cancel, batch_id):
            raise BatchFinished(batch_id, (await self.info(batch_id)).status)
        return await self.info(batch_id)

    async def wait(self, batch_id: str, poll_s: float = 0.2) -> BatchInfo:
        """Until the batch finishes (for the CLI and tests)."""
        while True:
            info = await self.info(batch_id)
            if info.status in FINISHED:
                return info
            await asyncio.sleep(poll_s)

    # -- output -----------------------------------------------------------------------
    async def results(self, batch_id: str, fmt: ResultFormat) -> AsyncIterator[bytes]:
        """Results one per row in input order, as CSV or JSON Lines, page by page."""
        await self.info(batch_id)  # 404 before the stream starts
        rows = self.current(batch_id)
        if fmt == "csv":
            yield csv_line(CSV_COLUMNS)
        while True:
            page = await asyncio.to_thread(take, rows, 500)
            if not page:
                return
            parts: list[bytes] = []
            for row in page:
                if fmt == "csv":
                    parts.append(csv_line(csv_record(row)))
                else:
                    parts.append((json.dumps(jsonl_record(row)) + "\n").encode())
            yield b"".join(parts)

    async def report(self, batch_id: str) -> ClassReport:
        info = await self.info(batch_id)
        return await asyncio.to_thread(
            build_report, info, self.current(batch_id), self.service.lessons
        )

    def current(self, batch_id: str, page: int = 500) -> Iterator[ResultRow]:
        """The batch's rows with each grade as it stands now (refined, or the teacher's)."""
        rows = self.store.results(batch_id, page)
        while chunk := take(rows, page):
            stored = {}
            if self.book is not None:
                stored = self.book.store.of_batch(batch_id, [r.seq for r in chunk])
            for row in chunk:
                grade = stored.get(row.seq)
                if grade is not None and row.status == "done":
                    row.result = self.book.result_of(grade).model_dump_json()  # type: ignore[union-attr]
                yield row

    # -- the worker -------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            batch_id = await asyncio.to_thread(self.store.next_unfinished)
            if batch_id is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=2.0)
                continue
            try:
                await self.process(batch_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("batch %s failed", batch_id)
                await asyncio.to_thread(self.store.finish, batch_id, "failed")

    async def process(self, batch_id: str) -> None:
        """Grade every pending row of one batch (resuming where an earlier run stopped)."""
        await asyncio.to_thread(self.store.mark_running, batch_id)
        log.info("batch %s: grading", batch_id)
        after = -1
        size = self.concurrency  # a small first chunk: the first results come quickly
        while True:
            record = await asyncio.to_thread(self.store.get, batch_id)
            if record is None or record.status != "running":
                log.info("batch %s: stopped (%s)", batch_id, record.status if record else "gone")
                return
            pending = await asyncio.to_thread(self.store.pending, batch_id, after, size)
            if not pending:
                await asyncio.to_thread(self.store.finish, batch_id, "done")
                log.info("batch %s: done", batch_id)
                return
            after = pending[-1].seq
            await self._chunk(batch_id, pending)
            size = self.chunk_size

    async def _chunk(self, batch_id: str, pending: list[PendingRow]) -> None:
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
        await asyncio.to_thread(self.store.save, batch_id, new_grades, done, failed)

    async def _keep(
        self,
        batch_id: str,
        pending: list[PendingRow],
        new_grades: dict[str, str],
        errors: dict[str, str],
    ) -> None:
        """Each graded row into the grade store (before the chunk is marked done, so a crash
        in between re-grades the chunk, and the store keeps each row once)."""
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
        if news:
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
