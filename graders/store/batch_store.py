"""Persistence of batches, their rows and their grades (SQLAlchemy 2 Core, graders.store.database).

Crash safety: a chunk's grades and its rows' ``done``/``failed`` marks, and the batch's
counters, are written in one transaction; rows are only marked while still ``pending``.
After a crash the worker re-reads the pending rows, so no row is lost, and since each
row is one table row (keyed by batch and input position) it has exactly one result.
Grades are keyed by (batch, answer hash): identical answers are graded once per batch.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from graders.store.batch_reads import BatchReads
from graders.store.batch_records import BatchRecord
from graders.store.batch_rows import CHUNK_INSERT, NewRow
from graders.store.chunk_queue import ChunkPlan, ChunkQueue
from graders.store.chunk_runs import ChunkRuns, add_chunks, count_run, finish_empty
from graders.store.database import insert_ignoring, normalise_url, open_engine
from graders.store.tables import batch_grades, batch_rows, batches

__all__ = ["BatchStore"]


class BatchStore(BatchReads, ChunkRuns):
    """Batches in SQL; every method is synchronous and safe to call from any thread."""

    def __init__(self, url: str, *, upgrade: bool = False) -> None:
        self.url = normalise_url(url)
        self.engine: Engine = open_engine(url, upgrade=upgrade)

    def close(self) -> None:
        self.engine.dispose()

    # -- creating ---------------------------------------------------------------------
    def key_in_use(self, prefix: str) -> bool:
        """Whether any batch's idempotency key starts with ``prefix``."""
        query = select(batches.c.id).where(batches.c.idempotency_key.startswith(prefix))
        with self.engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def by_key(self, key: str) -> BatchRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(batches).where(batches.c.idempotency_key == key)).first()
        return BatchRecord.model_validate(row._asdict()) if row else None

    def create(
        self,
        new_rows: Iterable[NewRow],
        *,
        fmt: str,
        filename: str | None,
        key: str | None,
        queue: ChunkQueue | None = None,
    ) -> tuple[BatchRecord, bool]:
        """Store a batch and all its rows in one transaction; (record, created).

        With an idempotency key already used, nothing is stored and the earlier batch
        comes back. Errors raised while reading ``new_rows`` roll everything back. A
        ``queue`` that plans chunks gets them on the same connection, before the commit.
        """
        if key is not None and (existing := self.by_key(key)) is not None:
            return existing, False
        batch_id = uuid.uuid4().hex
        now = time.time()
        plan = ChunkPlan(batch_id, queue.chunk_rows) if queue and queue.chunk_rows else None
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(batches).values(
                        id=batch_id,
                        idempotency_key=key,
                        status="queued",
                        format=fmt,
                        filename=filename,
                        total=0,
                        done=0,
                        failed=0,
                        graded=0,
                        created_at=now,
                        resumed_from=0,
                    )
                )
                total = failed = 0
                chunk: list[dict[str, Any]] = []
                for row in new_rows:
                    chunk.append(
                        {
                            "batch_id": batch_id,
                            "seq": total,
                            "line": row.line,
                            "row_id": row.row_id,
                            "student_id": row.student_id,
                            "lesson_id": row.lesson_id,
                            "question_id": row.question_id,
                            "answer": row.answer if row.error is None else None,
                            "answer_hash": row.answer_hash if row.error is None else None,
                            "status": "failed" if row.error else "pending",
                            "error": row.error,
                        }
                    )
                    if plan is not None and row.error is None:
                        plan.add(total, row.lesson_id or "", row.question_id or "")
                    total += 1
                    failed += row.error is not None
                    if len(chunk) >= CHUNK_INSERT:
                        conn.execute(insert(batch_rows), chunk)
                        chunk = []
                        _queue(conn, queue, plan, closing=False)
                if chunk:
                    conn.execute(insert(batch_rows), chunk)
                _queue(conn, queue, plan, closing=True)
                if plan is not None and not plan.planned:  # no row to grade: no job
                    finish_empty(conn, batch_id, now)
                conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id)
                    .values(total=total, failed=failed)
                )
        except IntegrityError:
            if key is not None and (existing := self.by_key(key)) is not None:
                return existing, False  # a concurrent upload with the same key won
            raise
        record = self.get(batch_id)
        assert record is not None
        return record, True

    # -- writing ----------------------------------------------------------------------
    def erase_student(self, student_id: str) -> int:
        """A student's rows lose their answer and grade (failed, "erased"); counters follow."""
        with self.engine.begin() as conn:
            found = conn.execute(
                select(batch_rows.c.batch_id, batch_rows.c.status).where(
                    batch_rows.c.student_id == student_id
                )
            ).all()
            conn.execute(
                update(batch_rows)
                .where(batch_rows.c.student_id == student_id)
                .values(
                    student_id=None,
                    answer=None,
                    answer_hash=None,
                    status="failed",
                    error="erased at the student's request",
                )
            )
            for batch_id in {b for b, _ in found}:
                done = sum(1 for b, st in found if b == batch_id and st == "done")
                moved = sum(1 for b, st in found if b == batch_id and st != "failed")
                conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id)
                    .values(done=batches.c.done - done, failed=batches.c.failed + moved)
                )
        return len(found)

    def mark_running(self, batch_id: str) -> None:
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(and_(batches.c.id == batch_id, batches.c.status.in_(("queued", "running"))))
                .values(
                    status="running",
                    started_at=func.coalesce(batches.c.started_at, now),
                    resumed_at=now,
                    resumed_from=batches.c.done + batches.c.failed,
                )
            )

    def save(
        self,
        batch_id: str,
        new_grades: dict[str, str],
        done: Sequence[int],
        failed: Sequence[tuple[int, str]],
        run: tuple[int, int] | None = None,
    ) -> int:
        """One transaction: new grades, rows marked, counters moved by what really changed.

        Returns the rows asked for that were no longer pending (another run stored their
        result first); with ``run`` (chunk, rows regraded) both are counted on the chunk.
        """
        with self.engine.begin() as conn:
            if new_grades:
                have = set(
                    conn.execute(
                        select(batch_grades.c.answer_hash).where(
                            and_(
                                batch_grades.c.batch_id == batch_id,
                                batch_grades.c.answer_hash.in_(list(new_grades)),
                            )
                        )
                    ).scalars()
                )
                fresh = [
                    {"batch_id": batch_id, "answer_hash": h, "result": r}
                    for h, r in sorted(new_grades.items())  # one lock order for all writers
                    if h not in have
                ]
                added = 0
                if fresh:  # a concurrent run may store the same answer's grade first
                    stmt = insert_ignoring(conn, batch_grades).returning(batch_grades.c.answer_hash)
                    added = len(conn.execute(stmt, fresh).all())
            else:
                added = 0
            n_done = _mark(conn, batch_id, done, "done", None)
            n_failed = 0
            for seq, reason in failed:
                n_failed += _mark(conn, batch_id, [seq], "failed", reason)
            duplicates = len(done) + len(failed) - n_done - n_failed
            if run is not None:
                count_run(conn, batch_id, run[0], regraded=run[1], duplicates=duplicates)
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(
                    done=batches.c.done + n_done,
                    failed=batches.c.failed + n_failed,
                    graded=batches.c.graded + added,
                    first_result_at=func.coalesce(batches.c.first_result_at, time.time()),
                )
            )
        return duplicates

    def finish(self, batch_id: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(and_(batches.c.id == batch_id, batches.c.status.in_(("queued", "running"))))
                .values(status=status, finished_at=time.time())
            )

    def cancel(self, batch_id: str) -> bool:
        """Cancel a batch that has not finished; False when it already had."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(batches)
                .where(and_(batches.c.id == batch_id, batches.c.status.in_(("queued", "running"))))
                .values(status="cancelled", finished_at=time.time())
            ).rowcount
        return bool(changed)


def _queue(
    conn: Connection, queue: ChunkQueue | None, plan: ChunkPlan | None, *, closing: bool
) -> None:
    """Chunks whose rows are inserted: their rows and jobs, in the upload's transaction."""
    if queue is None or plan is None:
        return
    found = plan.close() if closing else plan.take()
    if found:
        add_chunks(conn, found)
        queue.enqueue(conn, found)


def _mark(
    conn: Connection, batch_id: str, seqs: Sequence[int], status: str, error: str | None
) -> int:
    if not seqs:
        return 0
    total = 0
    for start in range(0, len(seqs), 500):
        part = list(seqs[start : start + 500])
        total += conn.execute(
            update(batch_rows)
            .where(
                and_(
                    batch_rows.c.batch_id == batch_id,
                    batch_rows.c.seq.in_(part),
                    batch_rows.c.status == "pending",
                )
            )
            .values(status=status, error=error)
        ).rowcount
    return total
