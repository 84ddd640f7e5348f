"""The worker engine's guarantees, without worker processes (PostgreSQL; skips without).

Jobs are deferred in the upload's transaction; a chunk run twice at once keeps one result
per row and counts the repeated work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.runtime import Backends, load_all_lessons, runtime
from graders.batch.grading import ChunkGrader
from graders.batch.intake import answer_hash, normalise_answer
from graders.batch.procrastinate_queue import ProcrastinateQueue, ensure_schema, make_app
from graders.store.batch_rows import NewRow
from graders.store.batch_store import BatchStore
from graders.store.chunk_queue import Chunk, ChunkOutcome
from graders.store.grade_store import GradeStore
from graders.workflow.grade_book import GradeBook
from models.embedder import Embedder
from tests.batch_fixtures import LESSON, pg_available, pg_schema_url
from tests.conftest import make_settings
from tests.worker_fixtures import class_file

pytestmark = pytest.mark.scale


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """A fresh schema (dropped afterwards); skips without PostgreSQL."""
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    yield from pg_schema_url()


def test_jobs_commit_with_their_upload(pg_url: str) -> None:
    """Jobs are deferred in the upload's transaction: both or neither."""
    store = BatchStore(pg_url)
    try:
        assert ensure_schema(store.engine) and not ensure_schema(store.engine)
        queue = ProcrastinateQueue(make_app(pg_url))
        rows = [
            NewRow(i + 2, None, "s", LESSON, "q1" if i % 3 else "q2", "a", f"h{i % 9}", None)
            for i in range(200)
        ]

        def broken() -> Iterator[NewRow]:
            yield from rows
            raise OSError("the upload broke off")

        with pytest.raises(OSError):
            store.create(broken(), fmt="csv", filename=None, key=None, queue=queue)
        assert _jobs(store) == []
        record, _ = store.create(iter(rows), fmt="csv", filename=None, key=None, queue=queue)
        jobs = _jobs(store)
        # 133 q1 rows: 64 + 64 + 5; 67 q2 rows: 64 + 3. One question a job.
        assert sorted(len(j["seqs"]) for j in jobs) == [3, 5, 64, 64, 64]
        assert {j["batch_id"] for j in jobs} == {record.id}
        assert sorted(s for j in jobs for s in j["seqs"]) == list(range(200))
        assert all(len({rows[s].question_id for s in j["seqs"]}) == 1 for j in jobs)
        bad = [NewRow(2, None, "s", LESSON, "q-none", None, None, "no such question")]
        empty, _ = store.create(iter(bad), fmt="csv", filename=None, key=None, queue=queue)
        assert empty.status == "done" and len(_jobs(store)) == 5  # nothing to grade, no job
    finally:
        store.close()


@pytest.mark.integration
def test_a_chunk_run_twice_at_once_keeps_one_result(
    pg_url: str, embedder: Embedder, tmp_path: Path
) -> None:
    """At-least-once at its worst: two runs of one chunk grading side by side. One result
    per row is kept, and the second run's work is counted (regraded and duplicate)."""
    settings = make_settings(tmp_path)

    async def main() -> tuple[list[ChunkOutcome], BatchStore, str]:
        store = BatchStore(pg_url)
        ensure_schema(store.engine)
        rows = [
            NewRow(i + 2, None, f"s{i}", LESSON, "q1", a, answer_hash(LESSON, "q1", a), None)
            for i, a in enumerate(normalise_answer(x["answer"]) for x in class_file(40, 7)[0::4])
        ]
        queue = _Queue()
        record, _ = store.create(iter(rows), fmt="csv", filename=None, key=None, queue=queue)
        (chunk,) = queue.chunks
        async with runtime(settings, load_all_lessons(settings), Backends(embedder)) as state:
            book = GradeBook(state.service, GradeStore(pg_url), refine=False)
            graders = [ChunkGrader(state.service, BatchStore(pg_url), book=book) for _ in "ab"]
            outcomes = await asyncio.gather(*(g.grade_chunk(chunk) for g in graders))
        return outcomes, store, record.id

    outcomes, store, batch_id = asyncio.run(main())
    assert sorted(o.run for o in outcomes) == [1, 2]
    assert sum(o.duplicates for o in outcomes) == 10  # the later save found all 10 stored
    assert sum(o.regraded for o in outcomes) == 10  # the second run graded all 10 again
    record = store.get(batch_id)
    assert record is not None and record.status == "done" and record.done == 10
    redelivery = store.redelivery(batch_id)
    assert (redelivery.rerun_chunks, redelivery.duplicate_rows) == (1, 10)
    sql = "SELECT count(*), count(DISTINCT batch_seq) FROM rubricate_grades WHERE batch_id=:b"
    with store.engine.connect() as conn:
        assert tuple(conn.execute(text(sql), {"b": batch_id}).one()) == (10, 10)
    store.close()


class _Queue:
    """Keeps the chunks it is given (stands in for procrastinate)."""

    name = "test"
    chunk_rows = 64

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []

    def enqueue(self, conn: Any, chunks: Sequence[Chunk]) -> None:
        self.chunks += chunks

    def committed(self) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def _jobs(store: BatchStore) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT args FROM procrastinate_jobs"))]
