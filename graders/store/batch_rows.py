"""The row shapes written to and read from the batch tables (graders.store.tables)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Select, select

from graders.store.tables import batch_rows

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
class ResultRow(NewRow):
    """A row as read back: what was uploaded, its place, its status and its grade."""

    seq: int
    status: str
    result: str | None


def pending_rows(batch_id: str) -> Select[Any]:
    """The batch's rows still to grade, as :class:`PendingRow` columns, in input order."""
    c = batch_rows.c
    return (
        select(*(c[f.name] for f in fields(PendingRow)))
        .where(c.batch_id == batch_id, c.status == "pending")
        .order_by(c.seq)
    )
