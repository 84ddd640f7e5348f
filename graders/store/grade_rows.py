"""The rows of the grade tables (graders.store.tables): a grade as stored and as read back.

:func:`grade_row` is the one place a :class:`GradeResult` becomes stored columns, for a
fresh grade (:func:`new_grade`) and for every later revision (``GradeStore.revise``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from graders.core.result import GradeResult
from graders.store.tables import grades


@dataclass(kw_only=True)
class GradeRow:
    """What a result fills in of a stored grade, the same on the grade and on its revision."""

    graded_by: str
    result: str  # the GradeResult as JSON
    label: str
    needs_review: bool
    confidence: float
    rubric_hash: str
    exemplar_set: str


@dataclass(kw_only=True)
class AnswerRow:
    """The answer a grade is of: where it came from and what was asked."""

    source: str
    lesson_id: str
    question_id: str
    student_id: str | None
    answer: str
    inline: str | None


@dataclass(kw_only=True)
class NewGrade(GradeRow, AnswerRow):
    """A grade to store as revision 1."""

    refinement: str
    batch_id: str | None = None
    batch_seq: int | None = None


def grade_row(result: GradeResult) -> GradeRow:
    return GradeRow(
        graded_by=result.graded_by,
        result=result.model_dump_json(),
        label=result.label.value,
        needs_review=result.needs_review,
        confidence=result.confidence,
        rubric_hash=result.versions.rubric_hash,
        exemplar_set=result.versions.exemplar_set,
    )


def new_grade(
    result: GradeResult,
    answer: str,
    *,
    source: str,
    inline: str | None = None,
    batch_id: str | None = None,
    batch_seq: int | None = None,
) -> NewGrade:
    """``result`` (with its ``graded_by`` and ``refinement`` set) as a fresh grade's row."""
    return NewGrade(
        **vars(grade_row(result)),
        source=source,
        lesson_id=result.lesson_id,
        question_id=result.question_id,
        student_id=result.student_id,
        answer=answer,
        inline=inline,
        refinement=result.refinement,
        batch_id=batch_id,
        batch_seq=batch_seq,
    )


@dataclass(kw_only=True)
class StoredGrade(GradeRow, AnswerRow):
    """A grade as read back: its answer, its latest revision, its review."""

    id: str
    created_at: float
    updated_at: float
    revision: int
    ai_result: str  # the latest machine result, kept under a teacher's review
    refinement: str
    refine_attempts: int
    review: str | None
    reviewed_at: float | None


NAMES = [f.name for f in fields(StoredGrade)]
COLUMNS = [grades.c[name] for name in NAMES]


def stored_grade(row: Sequence[object]) -> StoredGrade:
    grade = StoredGrade(**dict(zip(NAMES, row, strict=True)))  # type: ignore[arg-type]
    grade.needs_review = bool(grade.needs_review)
    return grade
