"""The embedded engine: a background task in the API process grades every batch.

Nothing else to run (SQLite or PostgreSQL). Batches are graded oldest first; rows are
read from the store in chunks (a small first one, so the first results come quickly),
and a batch left running by a stopped process resumes with its pending rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from sqlalchemy import Connection

from graders.batch.grading import ChunkGrader
from graders.store.batch_store import BatchStore
from graders.store.chunk_queue import Chunk

log = logging.getLogger(__name__)


class InProcessQueue:
    """A :class:`graders.store.chunk_queue.ChunkQueue` that pulls pending rows from the store."""

    name = "inprocess"
    chunk_rows = 0  # plans no chunks: pending rows are the queue

    def __init__(
        self, grader: ChunkGrader, store: BatchStore, *, concurrency: int, chunk_size: int
    ) -> None:
        self.grader = grader
        self.store = store
        self.concurrency = concurrency
        self.chunk_size = max(chunk_size, concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def enqueue(self, conn: Connection, chunks: Sequence[Chunk]) -> None:
        """Nothing to queue: the stored pending rows are the work."""

    def committed(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="batch-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

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
            await self.grader.grade_rows(batch_id, pending)
            size = self.chunk_size
