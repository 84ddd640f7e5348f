"""Request and public response shapes of the HTTP API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from rubrics import Lesson, QuestionKind


class InlineQuestion(BaseModel):
    """A question without a rubric file: its rubric is built from the reference answer."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=4000, pattern=r"\S")
    reference_answer: str = Field(min_length=1, max_length=4000, pattern=r"\S")
    max_score: float = Field(default=1.0, gt=0, le=100)
    id: str | None = Field(default=None, max_length=64)


# A question named by lesson_id and question_id, or given inline: exactly one of the two.
_ONE_QUESTION: JsonDict = {
    "oneOf": [
        {
            "required": ["lesson_id", "question_id"],
            "properties": {
                "lesson_id": {"type": "string"},
                "question_id": {"type": "string"},
                "question": {"type": "null"},
            },
        },
        {
            "required": ["question"],
            "properties": {
                "question": {"type": "object"},
                "lesson_id": {"type": "null"},
                "question_id": {"type": "null"},
            },
        },
    ]
}


class GradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_ONE_QUESTION)

    lesson_id: str | None = Field(
        default=None, min_length=1, max_length=64, examples=["instruction-tuning"]
    )
    question_id: str | None = Field(default=None, min_length=1, max_length=64, examples=["sc-2"])
    question: InlineQuestion | None = Field(
        default=None, description="An inline question instead of lesson_id and question_id."
    )
    answer: str = Field(
        description="The student's answer; empty is graded 0. Longer than the limit is a 413.",
        examples=["SFT teaches response shape; the knowledge was already there from pretraining."],
    )
    student_id: str | None = Field(default=None, max_length=200)
    require_llm: bool = Field(
        default=False, description="Refuse with 503 rather than grade without the LLM."
    )

    @model_validator(mode="after")
    def _one_question(self) -> GradeRequest:
        named = self.lesson_id is not None and self.question_id is not None
        if self.question is None and not named:
            raise ValueError("give lesson_id and question_id, or an inline question")
        if self.question is not None and (self.lesson_id or self.question_id):
            raise ValueError("give either lesson_id and question_id or an inline question")
        return self


class LessonKeyPointOut(BaseModel):
    id: str
    title: str


class QuestionOut(BaseModel):
    """A question as a student may see it: no reference answer, no rubric phrasings."""

    id: str
    kind: QuestionKind
    prompt: str
    items: list[str] = Field(description="Sub-item markers the answer should use, e.g. a-e.")
    max_score: float
    lesson_key_points: list[str]


class LessonSummary(BaseModel):
    id: str
    title: str
    question_count: int
    key_points: list[LessonKeyPointOut]


class LessonOut(BaseModel):
    id: str
    title: str
    key_points: list[LessonKeyPointOut]
    questions: list[QuestionOut]


def lesson_summary(lesson: Lesson) -> LessonSummary:
    return LessonSummary(
        id=lesson.id,
        title=lesson.title,
        question_count=len(lesson.questions),
        key_points=[LessonKeyPointOut(id=k.id, title=k.title) for k in lesson.key_points],
    )


def lesson_detail(lesson: Lesson) -> LessonOut:
    questions = [
        QuestionOut(
            id=q.id,
            kind=q.kind,
            prompt=q.prompt,
            items=sorted({c.item for c in q.choices if c.item}),
            max_score=q.max_score,
            lesson_key_points=sorted(
                {k.lesson_key_point for k in q.key_points} | {c.lesson_key_point for c in q.choices}
            ),
        )
        for q in lesson.questions
    ]
    summary = lesson_summary(lesson)
    return LessonOut(
        id=lesson.id, title=lesson.title, key_points=summary.key_points, questions=questions
    )


class PassbackOut(BaseModel):
    id: int | None = Field(description="The queued passback; null while the grade is held.")
    status: str = Field(description="queued, sent, or held (until its LLM pass or a time-out).")
    attempts: int = 0
    lineitem: str | None = None
    last_error: str | None = None
    score: dict[str, Any] | None = None
