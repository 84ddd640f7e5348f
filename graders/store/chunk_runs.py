"""Chunk runs: the store's bookkeeping for chunk jobs under at-least-once delivery.

A chunk's row is written with the upload; each run of the chunk counts itself
(:meth:`ChunkRuns.begin_run`) before grading, so a second run knows the work it does was
begun before (``regraded``), and the save counts rows whose result another run had
already stored (``duplicates``). A batch is done when no pending row is left: computed
from the stored rows, whichever run stores the last result.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from graders.store.batch_records import Redelivery
from graders.store.batch_rows import PendingRow, pending_rows
from graders.store.chunk_queue import Chunk
from graders.store.tables import batch_chunks, batch_rows, batches

ACTIVE = ("queued", "running")


def add_chunks(conn: Connection, found: Sequence[Chunk]) -> None:
    """The chunk rows of a new upload (inside its transaction)."""
    if found:
        conn.execute(
            insert(batch_chunks),
            [
                {
                    "batch_id": c.batch_id,
                    "chunk": c.key,
                    "rows": len(c.seqs),
                    "runs": 0,
                    "regraded": 0,
                    "duplicates": 0,
                }
                for c in found
            ],
        )


def finish_empty(conn: Connection, batch_id: str, now: float) -> None:
    """A new upload with no row to grade (all failed at intake) is done at once."""
    conn.execute(
        update(batches)
        .where(batches.c.id == batch_id)
        .values(status="done", started_at=now, finished_at=now, resumed_at=now)
    )


def count_run(
    conn: Connection, batch_id: str, chunk: int, *, regraded: int, duplicates: int
) -> None:
    """Add a run's repeated work to its chunk (inside the run's save transaction)."""
    if regraded or duplicates:
        conn.execute(
            update(batch_chunks)
            .where(and_(batch_chunks.c.batch_id == batch_id, batch_chunks.c.chunk == chunk))
            .values(
                regraded=batch_chunks.c.regraded + regraded,
                duplicates=batch_chunks.c.duplicates + duplicates,
            )
        )


class ChunkRuns:
    """Mixed into :class:`graders.store.batch_store.BatchStore` (which holds ``engine``)."""

    engine: Engine

    def begin_run(self, chunk: Chunk) -> int | None:
        """Count a run of ``chunk`` and start its batch; the run's number (1: first), or
        None when the batch is gone or finished (cancelled: nothing to grade)."""
        now = time.time()
        with self.engine.begin() as conn:
            status = conn.execute(
                select(batches.c.status).where(batches.c.id == chunk.batch_id).with_for_update()
            ).scalar()
            if status not in ACTIVE:
                return None
            if status == "queued":
                conn.execute(
                    update(batches)
                    .where(batches.c.id == chunk.batch_id)
                    .values(status="running", started_at=now, resumed_at=now, resumed_from=0)
                )
            runs = conn.execute(
                update(batch_chunks)
                .where(
                    and_(
                        batch_chunks.c.batch_id == chunk.batch_id, batch_chunks.c.chunk == chunk.key
                    )
                )
                .values(runs=batch_chunks.c.runs + 1)
                .returning(batch_chunks.c.runs)
            ).scalar()
        return int(runs) if runs is not None else 1

    def chunk_pending(self, chunk: Chunk) -> list[PendingRow]:
        """The chunk's rows still to grade, in input order."""
        query = pending_rows(chunk.batch_id).where(batch_rows.c.seq.in_(list(chunk.seqs)))
        with self.engine.connect() as conn:
            return [PendingRow(*r) for r in conn.execute(query)]

    def finish_if_complete(self, batch_id: str) -> bool:
        """Mark the batch done when none of its rows is pending; whether it now is done."""
        with self.engine.begin() as conn:
            left = conn.execute(
                select(batch_rows.c.seq)
                .where(and_(batch_rows.c.batch_id == batch_id, batch_rows.c.status == "pending"))
                .limit(1)
            ).first()
            if left is not None:
                return False
            conn.execute(
                update(batches)
                .where(and_(batches.c.id == batch_id, batches.c.status.in_(ACTIVE)))
                .values(status="done", finished_at=time.time())
            )
        return True

    def redelivery(self, batch_id: str) -> Redelivery:
        """The batch's repeated work, summed over its chunks."""
        query = select(
            func.count(),
            func.coalesce(func.sum(batch_chunks.c.runs), 0),
            func.coalesce(func.sum(batch_chunks.c.regraded), 0),
            func.coalesce(func.sum(batch_chunks.c.duplicates), 0),
            func.count().filter(batch_chunks.c.runs > 1),
        ).where(batch_chunks.c.batch_id == batch_id)
        with self.engine.connect() as conn:
            found: Any = conn.execute(query).one()
        n, runs, regraded, duplicates, rerun = (int(x or 0) for x in found)
        return Redelivery(
            chunks=n,
            runs=runs,
            rerun_chunks=rerun,
            regraded_rows=regraded,
            duplicate_rows=duplicates,
        )
