"""Agreement you can see: the AI's grade against the teacher's, on the reviewed answers.

For each reviewed answer, the AI's grade is the last machine revision before the
teacher's (``ai_result``). Figures: label accuracy, quadratic weighted kappa over the
three labels, mean absolute error in percent of full marks, each with a 95% bootstrap
interval (1,000 resamples of the answers, fixed seed); per key point, how often the
AI's status matched the teacher's where the teacher said; and the disagreeing answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel

from graders.core.measures import quadratic_kappa
from graders.core.result import GradeResult, Label
from graders.store.grade_rows import StoredGrade
from graders.workflow.review import TeacherReview

LABELS = [Label.INCORRECT, Label.PARTIALLY_CORRECT, Label.CORRECT]
RESAMPLES = 1000
SEED = 0


class Figure(BaseModel):
    value: float | None
    low: float | None
    high: float | None


class KeyPointAgreement(BaseModel):
    key_point: str
    reviewed: int
    agreement: float


class Disagreement(BaseModel):
    grade_id: str
    question_id: str
    ai_label: str
    teacher_label: str
    ai_percent: float
    teacher_percent: float
    url: str


class Agreement(BaseModel):
    lesson_id: str
    question_id: str | None
    reviewed: int
    accuracy: Figure
    quadratic_kappa: Figure
    mean_absolute_error: Figure
    key_points: list[KeyPointAgreement]
    disagreements: list[Disagreement]


Stat = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], float]


def _figure(stat: Stat, arrays: Sequence[np.ndarray]) -> Figure:
    n = len(arrays[0])
    if n == 0:
        return Figure(value=None, low=None, high=None)
    value = stat(*arrays)
    rng = np.random.default_rng(SEED)
    samples = []
    for _ in range(RESAMPLES):
        pick = rng.integers(0, n, n)
        got = stat(*(a[pick] for a in arrays))
        if not math.isnan(got):
            samples.append(got)
    low, high = np.percentile(samples, [2.5, 97.5]) if samples else (math.nan, math.nan)

    def clean(x: float) -> float | None:
        return None if math.isnan(x) else round(float(x), 4)

    return Figure(value=clean(value), low=clean(low), high=clean(high))


def _accuracy(ai: np.ndarray, teacher: np.ndarray, *_: np.ndarray) -> float:
    return float(np.mean(ai == teacher))


def _kappa(ai: np.ndarray, teacher: np.ndarray, *_: np.ndarray) -> float:
    return quadratic_kappa(list(teacher), list(ai), len(LABELS))


def _mae(_a: np.ndarray, _t: np.ndarray, ai_pct: np.ndarray, teacher_pct: np.ndarray) -> float:
    return float(np.mean(np.abs(ai_pct - teacher_pct)))


def agreement(
    lesson_id: str, question_id: str | None, grades: list[StoredGrade], base_url: str = ""
) -> Agreement:
    pairs = [
        (g, GradeResult.model_validate_json(g.ai_result), GradeResult.model_validate_json(g.result))
        for g in grades
        if g.review is not None
    ]
    ai = np.array([LABELS.index(a.label) for _, a, _ in pairs], dtype=np.int64)
    teacher = np.array([LABELS.index(t.label) for _, _, t in pairs], dtype=np.int64)
    ai_pct = np.array([a.percent for _, a, _ in pairs], dtype=np.float64)
    teacher_pct = np.array([t.percent for _, _, t in pairs], dtype=np.float64)
    arrays = (ai, teacher, ai_pct, teacher_pct)
    per_point: dict[str, list[bool]] = {}
    for g, a, t in pairs:
        said = _said_key_points(g)
        ai_status = {k.id: k.status for k in a.key_points}
        for k in t.key_points:
            if k.id in said:
                per_point.setdefault(k.id, []).append(ai_status.get(k.id) == k.status)
    disagreements = [
        Disagreement(
            grade_id=g.id,
            question_id=g.question_id,
            ai_label=a.label.value,
            teacher_label=t.label.value,
            ai_percent=a.percent,
            teacher_percent=t.percent,
            url=f"{base_url}/v1/grades/{g.id}/history",
        )
        for g, a, t in pairs
        if a.label != t.label
    ]
    return Agreement(
        lesson_id=lesson_id,
        question_id=question_id,
        reviewed=len(pairs),
        accuracy=_figure(_accuracy, arrays),
        quadratic_kappa=_figure(_kappa, arrays),
        mean_absolute_error=_figure(_mae, arrays),
        key_points=[
            KeyPointAgreement(key_point=k, reviewed=len(v), agreement=round(sum(v) / len(v), 4))
            for k, v in sorted(per_point.items())
        ],
        disagreements=disagreements,
    )


def _said_key_points(grade: StoredGrade) -> set[str]:
    return set(TeacherReview.model_validate_json(grade.review or "{}").key_points)
