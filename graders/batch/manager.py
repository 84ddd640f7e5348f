"""The batch manager: takes uploads in, hands them to the grading engine, streams results out.

Every answer is graded by :class:`graders.batch.grading.ChunkGrader`; the engine
(:class:`graders.store.chunk_queue.ChunkQueue`) decides where and when: a background task in
this process, or ``rubricate worker`` processes fed through procrastinate jobs, deferred
in the transaction that stores the upload.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

from graders.batch.export import CSV_COLUMNS, csv_line, csv_record, jsonl_record, take
from graders.batch.grading import ChunkGrader
from graders.batch.inprocess import InProcessQueue
from graders.batch.intake import answer_hash, idempotency_token, normalise_answer
from graders.batch.parse import ParsedRow, parse
from graders.batch.report_build import build_report
from graders.batch.report_models import ClassReport
from graders.core.errors import BatchFinished, BatchNotFound, IdempotencyKeyReused, RubricateError
from graders.service.grading_service import GradingService
from graders.store.batch_records import FINISHED, BatchInfo, Refinement
from graders.store.batch_rows import NewRow, ResultRow
from graders.store.batch_store import BatchStore
from graders.store.chunk_queue import ChunkQueue
from graders.workflow.grade_book import GradeBook

log = logging.getLogger(__name__)

ResultFormat = Literal["csv", "jsonl"]
__all__ = ["BatchManager"]


class BatchManager:
    """Owns the store and the engine; one per running app (or CLI run).

    Without a ``queue`` the engine is the in-process background worker."""

    def __init__(
        self,
        service: GradingService,
        store: BatchStore,
        *,
        concurrency: int = 16,
        chunk_size: int = 256,
        upload_dir: Path | None = None,
        book: GradeBook | None = None,
        queue: ChunkQueue | None = None,
    ) -> None:
        self.service = service
        # Every row's grade is also kept in the grade store (refined there by the LLM pass,
        # reviewed there by teachers); results and reports show its current revision.
        self.book = book
        self.store = store
        self.upload_dir = upload_dir or Path(tempfile.gettempdir()) / "rubricate-uploads"
        self.grader = ChunkGrader(service, store, concurrency=concurrency, book=book)
        self.queue: ChunkQueue = queue or InProcessQueue(
            self.grader, store, concurrency=concurrency, chunk_size=chunk_size
        )

    # -- lifetime ---------------------------------------------------------------------
    async def start(self) -> None:
        await self.queue.start()

    async def stop(self) -> None:
        await self.queue.stop()

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
        self.queue.committed()
        return record.info(time.time()), created

    def _ingest(self, path: Path, filename: str | None, key: str | None) -> Any:
        fmt, parsed = parse(path)
        return self.store.create(
            (self._checked(row) for row in parsed),
            fmt=fmt,
            filename=filename,
            key=key,
            queue=self.queue,
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
        checked = dataclasses.replace(row, answer=answer, error=error)
        return NewRow(**vars(checked), answer_hash=digest)

    # -- status -----------------------------------------------------------------------
    async def info(self, batch_id: str) -> BatchInfo:
        record = await asyncio.to_thread(self.store.get, batch_id)
        if record is None:
            raise BatchNotFound(batch_id)
        info = record.info(time.time())
        if self.queue.chunk_rows:
            info.redelivery = await asyncio.to_thread(self.store.redelivery, batch_id)
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
