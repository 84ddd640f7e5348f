"""What a grade looks like: the same object for the API, the CLI, batches and evaluation."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from graders.core.config import GradingConfig


class Status(StrEnum):
    MET = "met"
    PARTIAL = "partial"
    MISSING = "missing"


class Label(StrEnum):
    CORRECT = "correct"
    PARTIALLY_CORRECT = "partially correct"
    INCORRECT = "incorrect"


CREDIT = {Status.MET: 1.0, Status.PARTIAL: 0.5, Status.MISSING: 0.0}


T = TypeVar("T")


def tier(value: float, upper: float, lower: float, levels: tuple[T, T, T]) -> T:
    """``levels[0]`` at or above ``upper``, ``levels[1]`` at or above ``lower``, else the last."""
    if value >= upper:
        return levels[0]
    return levels[1] if value >= lower else levels[2]


def label_of(percent: float, config: GradingConfig) -> Label:
    """The label of a share of full marks, under the configured cuts."""
    labels = (Label.CORRECT, Label.PARTIALLY_CORRECT, Label.INCORRECT)
    return tier(percent, config.correct_at, config.partially_correct_at, labels)


class Evidence(BaseModel):
    """A span of the student's own words: ``answer[start:end] == text``."""

    text: str
    start: int
    end: int


class GraderVerdict(BaseModel):
    """One grader's view of one key point, kept so a grade can be audited."""

    status: Status
    similarity: float | None = None
    evidence: Evidence | None = None
    reason: str | None = None
    flagged: str | None = Field(default=None, description="Why this verdict was overridden.")


class KeyPointResult(BaseModel):
    id: str
    kind: Literal["key_point", "choice"] = "key_point"
    text: str
    lesson_key_point: str
    weight: float
    status: Status
    credit: float
    confidence: float
    evidence: Evidence | None
    feedback: str
    chosen: list[str] | None = Field(
        default=None, description="For choices: the options the student named."
    )
    graders: dict[str, GraderVerdict] = Field(default_factory=dict)


class MisconceptionResult(BaseModel):
    id: str
    text: str
    confidence: float
    evidence: Evidence | None
    feedback: str
    lesson_key_point: str | None
    graders: list[str] = Field(default_factory=list)


class LessonKeyPointFeedback(BaseModel):
    id: str
    title: str
    status: Status
    feedback: list[str]


class Feedback(BaseModel):
    summary: str
    by_lesson_key_point: list[LessonKeyPointFeedback]


class GraderStatus(BaseModel):
    state: Literal["used", "unavailable", "disabled", "skipped"]
    model: str | None = None
    reason: str | None = None
    comment: str | None = Field(
        default=None, description="The LLM's own feedback, for the teacher's review only."
    )


class Versions(BaseModel):
    rubricate: str
    embedding_model: str
    llm_model: str | None
    reader_model: str | None = Field(
        default=None, description="The reader and its weights' hash (rubricate-reader@sha256)."
    )
    rubric_hash: str
    calibration: str
    exemplar_set: str = Field(
        default="none", description="Hash of the graded example answers the grade was made with."
    )


class GradeResult(BaseModel):
    lesson_id: str
    question_id: str
    student_id: str | None = None
    score: float
    max_score: float
    percent: float
    label: Label
    confidence: float
    needs_review: bool
    review_reasons: list[str] = Field(default_factory=list)
    key_points: list[KeyPointResult]
    misconceptions: list[MisconceptionResult]
    feedback: Feedback
    graders: dict[str, GraderStatus]
    versions: Versions
    grade_id: str | None = Field(
        default=None, description="The stored grade: GET /v1/grades/{grade_id} has its latest."
    )
    revision: int = Field(default=1, description="1 at first; the LLM pass and a review add one.")
    graded_by: str = Field(
        default="embedding", description="embedding, embedding+llm, or teacher (always wins)."
    )
    refinement: Literal["none", "pending", "running", "done", "failed", "superseded"] = Field(
        default="none",
        description="The background LLM pass: pending while it waits for capacity, done when "
        "a refined revision is stored.",
    )
