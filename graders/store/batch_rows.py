"""The row shapes written to and read from the batch tables (graders.store.tables)."""

from __future__ import annotations

from dataclasses import dataclass

CHUNK_INSERT = 1000  # rows inserted at a time


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
