"""The class report's data: the pydantic models served as JSON, and the thresholds they use."""

from __future__ import annotations

from pydantic import BaseModel

from graders.store.batch_records import BatchInfo

BINS = 10
HAS_IT = 0.75
PARTLY = 0.25
EXAMPLES = 3


class KeyPointStats(BaseModel):
    id: str
    text: str
    lesson_key_point: str
    met: int
    partial: int
    missing: int
    met_rate: float


class QuestionStats(BaseModel):
    lesson_id: str
    question_id: str
    prompt: str
    answers: int
    mean_percent: float
    distribution: list[int]  # answers per tenth of the max score: [0-10%), ..., [90-100%]
    labels: dict[str, int]
    key_points: list[KeyPointStats]


class LessonKeyPointStats(BaseModel):
    lesson_id: str
    id: str
    title: str
    students: int
    has_it: int
    partly: int
    not_yet: int
    share_has_it: float
    mean_credit: float


class StudentStats(BaseModel):
    student_id: str
    answered: int
    mastery: float
    labels: dict[str, int]
    weakest: list[str]


class Example(BaseModel):
    student_id: str | None
    line: int
    text: str


class MisconceptionStats(BaseModel):
    lesson_id: str
    question_id: str
    id: str
    text: str
    feedback: str
    count: int
    share: float
    examples: list[Example]


class ClassReport(BaseModel):
    batch: BatchInfo
    rows: int
    graded: int
    failed: int
    failure_reasons: dict[str, int]
    class_mastery: float
    questions: list[QuestionStats]
    lesson_key_points: list[LessonKeyPointStats]
    students: list[StudentStats]
    misconceptions: list[MisconceptionStats]
