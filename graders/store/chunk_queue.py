"""The one interface between batch grading and the engine that runs it.

An upload is cut into :class:`Chunk` s: up to :data:`CHUNK_ROWS` rows of one batch for ONE
question, so every grade in a chunk shares the question's prompt prefix. A
:class:`ChunkQueue` takes the chunks *inside the transaction that stores the upload*
(no upload without its jobs, no job without its upload) and gets them graded:

* :class:`graders.batch.inprocess.InProcessQueue`: the background worker in the API
  process (SQLite or PostgreSQL, nothing else to run); it plans no chunks and pulls
  pending rows from the store instead, as it always has.
* :class:`graders.batch.procrastinate_queue.ProcrastinateQueue`: one procrastinate job a
  chunk in PostgreSQL, graded by ``rubricate worker`` processes.

Either way each chunk ends in :meth:`graders.batch.grading.ChunkGrader.grade_chunk`,
whose body knows nothing of the engine. Delivery is at least once: a chunk may run
twice (a worker killed mid-chunk, a stalled job retried), so every write is idempotent
and the repeated work is counted (:class:`ChunkOutcome`, ``BatchInfo.redelivery``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection

CHUNK_ROWS = 64  # rows a chunk job; one question each


@dataclass(frozen=True)
class Chunk:
    """Rows ``seqs`` (in input order) of one batch, all answering one question."""

    batch_id: str
    lesson_id: str
    question_id: str
    seqs: tuple[int, ...]

    @property
    def key(self) -> int:
        """The chunk's id within its batch: its first row."""
        return self.seqs[0]

    def args(self) -> dict[str, Any]:
        """The chunk as JSON job arguments."""
        return {
            "batch_id": self.batch_id,
            "lesson_id": self.lesson_id,
            "question_id": self.question_id,
            "seqs": list(self.seqs),
        }

    @classmethod
    def of(cls, args: dict[str, Any]) -> Chunk:
        return cls(
            batch_id=str(args["batch_id"]),
            lesson_id=str(args["lesson_id"]),
            question_id=str(args["question_id"]),
            seqs=tuple(int(s) for s in args["seqs"]),
        )


@dataclass
class ChunkOutcome:
    """What one run of a chunk did."""

    batch_id: str
    chunk: int
    run: int = 0  # 1 for the chunk's first run, 2 and up for re-runs
    pending: int = 0  # rows still to grade when the run began
    done: int = 0  # rows this run graded
    failed: int = 0  # rows this run could not grade (each stored with its reason)
    regraded: int = 0  # rows graded again because an earlier run of the chunk had begun
    duplicates: int = 0  # rows graded whose result was already stored (later one discarded)
    finished: bool = False  # the batch had no pending row left after this run
    skipped: str | None = None  # why nothing was graded (batch cancelled, finished, gone)


class ChunkQueue(Protocol):
    """How graded work gets from an upload to a grader."""

    name: str
    chunk_rows: int  # 0: plans no chunks (the engine pulls pending rows itself)

    def enqueue(self, conn: Connection, chunks: Sequence[Chunk]) -> None:
        """Queue ``chunks`` on ``conn``, inside the upload's still-open transaction."""

    def committed(self) -> None:
        """The upload's transaction committed: work is waiting."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ChunkPlan:
    """Cuts rows into chunks as they stream in: by (lesson, question), ``size`` at most."""

    batch_id: str
    size: int = CHUNK_ROWS
    ready: list[Chunk] = field(default_factory=list)
    planned: int = 0  # rows planned into chunks so far
    _open: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, seq: int, lesson_id: str, question_id: str) -> None:
        self.planned += 1
        seqs = self._open.setdefault((lesson_id, question_id), [])
        seqs.append(seq)
        if len(seqs) >= self.size:
            self.ready.append(Chunk(self.batch_id, lesson_id, question_id, tuple(seqs)))
            del self._open[(lesson_id, question_id)]

    def take(self) -> list[Chunk]:
        """The chunks filled since the last call."""
        out, self.ready = self.ready, []
        return out

    def close(self) -> list[Chunk]:
        """Every chunk not taken yet, the partly filled ones last."""
        for (lesson, question), seqs in self._open.items():
            self.ready.append(Chunk(self.batch_id, lesson, question, tuple(seqs)))
        self._open = {}
        return self.take()
