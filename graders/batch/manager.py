"""The batch manager: takes uploads in, runs the background worker, streams results out.

Every answer is graded by :meth:`GradingService.grade`; the manager only decides what to
grade and when. Rows are read from the store in chunks, identical answers (same lesson,
question and normalised text) are graded once per batch, at most ``concurrency`` grades
run at a time, and each chunk is saved in one transaction (see :mod:`graders.batch.store`).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

from graders.batch.models import FINISHED, BatchInfo
from graders.batch.parse import ParsedRow, parse
from graders.batch.report import ClassReport, build_report
from graders.batch.store import BatchStore, NewRow, PendingRow, ResultRow
from graders.errors import (
    BatchFinished,
    BatchNotFound,
    IdempotencyKeyReused,
    RubricateError,
    UploadTooLarge,
)
from graders.service import GradingService

log = logging.getLogger(__name__)

ResultFormat = Literal["csv", "jsonl"]
CSV_COLUMNS = [
    "line",
    "row_id",
    "student_id",
    "lesson_id",
    "question_id",
    "status",
    "score",
    "max_score",
    "percent",
    "label",
    "needs_review",
    "key_points_met",
    "misconceptions",
    "feedback",
    "error",
]
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalise_answer(answer: str) -> str:
    """NFC, one space for runs of spaces, lines trimmed, ends stripped; newlines kept
    (they separate list items). This is the text graded, so evidence spans index into it."""
    text = unicodedata.normalize("NFC", answer).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def answer_hash(lesson_id: str, question_id: str, normalised: str) -> str:
    key = "\x1f".join((lesson_id, question_id, normalised))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def save_upload(chunks: AsyncIterator[bytes], folder: Path, limit: int) -> Path:
    """Stream an upload to a temp file, refusing it as soon as it passes ``limit`` bytes."""
    fd, name = await asyncio.to_thread(_temp_file, folder)
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(limit)
            os.write(fd, chunk)
    except BaseException:
        os.close(fd)
        os.unlink(name)
        raise
    os.close(fd)
    return Path(name)


def _temp_file(folder: Path) -> tuple[int, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix="upload-", suffix=".part", dir=folder)


def idempotency_token(key: str, path: Path) -> str:
    """What is stored for an Idempotency-Key: its hash, then the upload's, so the same key
    sent with another file is told apart from a retry (IETF httpapi idempotency draft)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return hashlib.sha256(key.encode()).hexdigest()[:32] + ":" + digest.hexdigest()[:32]


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
    ) -> None:
        self.service = service
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
        return record.info(time.time())

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
        rows = self.store.results(batch_id)
        if fmt == "csv":
            yield _csv_line(CSV_COLUMNS)
        while True:
            page = await asyncio.to_thread(_take, rows, 500)
            if not page:
                return
            parts: list[bytes] = []
            for row in page:
                if fmt == "csv":
                    parts.append(_csv_line(csv_record(row)))
                else:
                    parts.append((json.dumps(jsonl_record(row)) + "\n").encode())
            yield b"".join(parts)

    async def report(self, batch_id: str) -> ClassReport:
        info = await self.info(batch_id)
        return await asyncio.to_thread(
            build_report, info, self.store.results(batch_id), self.service.lessons
        )

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
        await asyncio.to_thread(self.store.save, batch_id, new_grades, done, failed)

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


def _take(rows: Iterator[ResultRow], n: int) -> list[ResultRow]:
    page: list[ResultRow] = []
    for row in rows:
        page.append(row)
        if len(page) >= n:
            break
    return page


def _csv_line(values: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue().encode("utf-8")


def _result(row: ResultRow) -> dict[str, Any] | None:
    if row.result is None:
        return None
    result: dict[str, Any] = json.loads(row.result)
    result["student_id"] = row.student_id
    return result


def jsonl_record(row: ResultRow) -> dict[str, Any]:
    return {
        "line": row.line,
        "row_id": row.row_id,
        "student_id": row.student_id,
        "lesson_id": row.lesson_id,
        "question_id": row.question_id,
        "status": row.status,
        "error": row.error,
        "result": _result(row),
    }


def csv_record(row: ResultRow) -> list[Any]:
    result = _result(row)
    base: list[Any] = [
        row.line,
        row.row_id or "",
        row.student_id or "",
        row.lesson_id or "",
        row.question_id or "",
        row.status,
    ]
    if result is None:
        return [*base, "", "", "", "", "", "", "", "", row.error or ""]
    met = [k["id"] for k in result["key_points"] if k["status"] == "met"]
    return [
        *base,
        result["score"],
        result["max_score"],
        result["percent"],
        result["label"],
        str(result["needs_review"]).lower(),
        ";".join(met),
        ";".join(m["id"] for m in result["misconceptions"]),
        result["feedback"]["summary"],
        "",
    ]
