"""The grade store's tables (SQLAlchemy Core) and the rows read from and written to them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

grades = Table(
    "rubricate_grades",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("lesson_id", Text, nullable=False),
    Column("question_id", Text, nullable=False),
    Column("student_id", Text, nullable=True),
    Column("answer", Text, nullable=False),
    Column("inline", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("graded_by", String(32), nullable=False),
    Column("result", Text, nullable=False),
    Column("ai_result", Text, nullable=False),
    Column("label", String(24), nullable=False),
    Column("needs_review", Integer, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("rubric_hash", String(64), nullable=False),
    Column("exemplar_set", String(32), nullable=False),
    Column("refinement", String(16), nullable=False),
    Column("refine_attempts", Integer, nullable=False, default=0),
    Column("claimed_at", Float, nullable=True),
    Column("review", Text, nullable=True),
    Column("reviewed_at", Float, nullable=True),
    Column("batch_id", String(32), nullable=True),
    Column("batch_seq", Integer, nullable=True),
    UniqueConstraint("batch_id", "batch_seq", name="uq_rubricate_grades_batch_row"),
    Index("ix_rubricate_grades_question", "lesson_id", "question_id", "created_at"),
    Index("ix_rubricate_grades_refine", "refinement", "created_at"),
    Index("ix_rubricate_grades_student", "student_id"),
)

revisions = Table(
    "rubricate_grade_revisions",
    metadata,
    Column(
        "grade_id",
        String(32),
        ForeignKey("rubricate_grades.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("revision", Integer, primary_key=True),
    Column("graded_by", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("result", Text, nullable=False),
)

audit = Table(
    "rubricate_grade_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("grade_id", String(32), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("who", Text, nullable=False),
    Column("action", String(32), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
)


@dataclass
class NewGrade:
    source: str
    lesson_id: str
    question_id: str
    student_id: str | None
    answer: str
    inline: str | None
    graded_by: str
    result: str
    label: str
    needs_review: bool
    confidence: float
    rubric_hash: str
    exemplar_set: str
    refinement: str
    batch_id: str | None = None
    batch_seq: int | None = None


@dataclass
class StoredGrade:
    id: str
    source: str
    lesson_id: str
    question_id: str
    student_id: str | None
    answer: str
    inline: str | None
    created_at: float
    updated_at: float
    revision: int
    graded_by: str
    result: str
    ai_result: str
    label: str
    needs_review: bool
    confidence: float
    rubric_hash: str
    exemplar_set: str
    refinement: str
    refine_attempts: int
    review: str | None
    reviewed_at: float | None


COLUMNS = [grades.c[name] for name in StoredGrade.__dataclass_fields__]


def stored_grade(row: Sequence[object]) -> StoredGrade:
    grade = StoredGrade(*row)  # type: ignore[arg-type]
    grade.needs_review = bool(grade.needs_review)
    return grade
