"""The batch tables (SQLAlchemy Core) and the row shapes read from and written to them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

CHUNK_INSERT = 1000

metadata = MetaData()

batches = Table(
    "rubricate_batches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("idempotency_key", String(255), unique=True, nullable=True),
    Column("status", String(16), nullable=False, index=True),
    Column("format", String(8), nullable=False),
    Column("filename", String(255), nullable=True),
    Column("total", Integer, nullable=False, default=0),
    Column("done", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("graded", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("resumed_at", Float, nullable=True),
    Column("resumed_from", Integer, nullable=False, default=0),
    Column("first_result_at", Float, nullable=True),
)

rows = Table(
    "rubricate_batch_rows",
    metadata,
    Column(
        "batch_id",
        String(32),
        ForeignKey("rubricate_batches.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("line", Integer, nullable=False),
    Column("row_id", Text, nullable=True),
    Column("student_id", Text, nullable=True),
    Column("lesson_id", Text, nullable=True),
    Column("question_id", Text, nullable=True),
    Column("answer", Text, nullable=True),
    Column("answer_hash", String(64), nullable=True),
    Column("status", String(8), nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_rubricate_rows_status", "batch_id", "status", "seq"),
)

grades = Table(
    "rubricate_batch_grades",
    metadata,
    Column(
        "batch_id",
        String(32),
        ForeignKey("rubricate_batches.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("answer_hash", String(64), primary_key=True),
    Column("result", Text, nullable=False),
)

# One row a chunk job (procrastinate engine), written with the upload: how often it ran and
# the work repeated under at-least-once delivery (see graders.store.chunk_queue).
chunks = Table(
    "rubricate_batch_chunks",
    metadata,
    Column(
        "batch_id",
        String(32),
        ForeignKey("rubricate_batches.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("chunk", Integer, primary_key=True),  # its first row's seq
    Column("rows", Integer, nullable=False),
    Column("runs", Integer, nullable=False, default=0),
    Column("regraded", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
)


@dataclass
class NewRow:
    line: int
    row_id: str | None
    student_id: str | None
    lesson_id: str | None
    question_id: str | None
    answer: str | None
    answer_hash: str | None
    error: str | None


@dataclass
class PendingRow:
    seq: int
    answer_hash: str
    lesson_id: str
    question_id: str
    answer: str
    student_id: str | None = None


@dataclass
class ResultRow:
    seq: int
    line: int
    row_id: str | None
    student_id: str | None
    lesson_id: str | None
    question_id: str | None
    answer: str | None
    answer_hash: str | None
    status: str
    error: str | None
    result: str | None
