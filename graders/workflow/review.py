"""A teacher's review of one grade: what it may say, and the result it makes.

The teacher's grade always wins: it becomes the grade's current revision
(``graded_by: teacher``) and what results, reports and LMS passback show. The review
names a label or a score, and may say which key points are met, partly met or missed
and which misconceptions the answer holds; whatever it leaves out keeps the AI's view.
The reviewed answer then becomes a graded example (exemplar) of its question.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from graders.core.config import GradingConfig
from graders.core.errors import BadReview
from graders.core.result import (
    CREDIT,
    GradeResult,
    GraderStatus,
    Label,
    MisconceptionResult,
    Status,
    label_of,
)
from graders.scoring.exemplar_vote import GradedAnswer
from graders.verdict.feedback import build_feedback
from rubrics import Lesson, Question

Comment = Annotated[str, StringConstraints(max_length=4000)]


# What the validator below demands, said in the schema, so clients (and fuzzers) know it.
_SAYS_SOMETHING: dict[str, Any] = {
    "anyOf": [
        {"required": ["label"], "properties": {"label": {"not": {"type": "null"}}}},
        {"required": ["score"], "properties": {"score": {"type": "number"}}},
        {"required": ["key_points"], "properties": {"key_points": {"minProperties": 1}}},
    ]
}


class TeacherReview(BaseModel):
    """``label`` or ``score`` (or key points to score from); the rest is optional."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_SAYS_SOMETHING)

    label: Label | None = None
    score: float | None = Field(
        default=None, ge=0, strict=True, description="Points, out of max_score."
    )
    key_points: dict[str, Status] = Field(
        default_factory=dict, description="Key point (or choice) id: met, partial or missing."
    )
    misconceptions: list[str] | None = Field(
        default=None, description="Ids of the misconceptions the answer holds ([]: none)."
    )
    comment: Comment | None = Field(default=None, description="Shown to the student.")
    reviewer: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _says_something(self) -> TeacherReview:
        if self.label is None and self.score is None and not self.key_points:
            raise ValueError("a review needs a label, a score, or key point verdicts")
        return self


def _band(label: Label, percent: float, config: GradingConfig) -> float:
    """The AI's percent if it lies in the teacher's label band, else the band's nearest end."""
    low, high = {
        Label.INCORRECT: (0.0, config.partially_correct_at - 1e-4),
        Label.PARTIALLY_CORRECT: (config.partially_correct_at, config.correct_at - 1e-4),
        Label.CORRECT: (config.correct_at, 1.0),
    }[label]
    return round(min(max(percent, low), high), 4)


def apply_review(
    ai: GradeResult,
    lesson: Lesson,
    question: Question,
    review: TeacherReview,
    config: GradingConfig,
) -> GradeResult:
    """The result the teacher's review makes of the AI's; BadReview if it does not fit."""
    items = {i.id: i for i in ai.key_points}
    unknown = sorted(set(review.key_points) - set(items))
    if unknown:
        raise BadReview(f"question {question.id!r} has no key point {', '.join(unknown)}")
    rubric = {m.id: m for m in question.misconceptions}
    held = review.misconceptions
    unknown = sorted(set(held or []) - set(rubric))
    if unknown:
        raise BadReview(f"question {question.id!r} has no misconception {', '.join(unknown)}")
    if review.score is not None and review.score > ai.max_score:
        raise BadReview(f"score {review.score:g} is above the question's {ai.max_score:g}")
    key_points = [
        i.model_copy(update={"status": s, "credit": CREDIT[s], "confidence": 1.0})
        if (s := review.key_points.get(i.id)) is not None
        else i
        for i in ai.key_points
    ]
    misconceptions = ai.misconceptions
    if held is not None:
        kept = {m.id: m for m in ai.misconceptions if m.id in held}
        misconceptions = [
            kept.get(i)
            or MisconceptionResult(
                id=i,
                text=rubric[i].text,
                confidence=1.0,
                evidence=None,
                feedback=rubric[i].feedback,
                lesson_key_point=rubric[i].lesson_key_point,
                graders=["teacher"],
            )
            for i in held
        ]
    total = sum(i.weight for i in key_points) or 1.0
    if review.score is not None:
        percent = review.score / ai.max_score if ai.max_score else 0.0
    elif review.key_points:
        percent = sum(i.weight * i.credit for i in key_points) / total
    else:
        percent = ai.percent
    label = review.label or label_of(percent, config)
    if review.label is not None and review.score is None:
        percent = _band(review.label, percent, config)
    percent = round(percent, 4)
    if held is None and label is Label.CORRECT:
        misconceptions = []  # a right answer is not told it holds a misconception
    feedback = build_feedback(lesson, key_points, misconceptions, label, empty=False)
    if review.comment:
        feedback = feedback.model_copy(
            update={"summary": f"Your teacher: {review.comment} {feedback.summary}"}
        )
    graders = dict(ai.graders)
    graders["teacher"] = GraderStatus(state="used", model=review.reviewer, comment=review.comment)
    return ai.model_copy(
        update={
            "score": round(percent * ai.max_score, 3),
            "percent": percent,
            "label": label,
            "confidence": 1.0,
            "needs_review": False,
            "review_reasons": [],
            "key_points": key_points,
            "misconceptions": misconceptions,
            "feedback": feedback,
            "graders": graders,
            "graded_by": "teacher",
            "refinement": "none",
        }
    )


def as_exemplar(answer: str, reviewed: GradeResult, review: TeacherReview) -> GradedAnswer:
    """A reviewed answer as a graded example of its question (source: teacher)."""
    verdicts = None
    if review.key_points:
        verdicts = {i.id: i.credit for i in reviewed.key_points}
    return GradedAnswer(
        answer=answer,
        percent=reviewed.percent,
        label=reviewed.label.value,
        verdicts=verdicts,
        holds=frozenset(m.id for m in reviewed.misconceptions),
        source="teacher",
    )
