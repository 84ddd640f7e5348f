"""Feedback keyed to the lesson's key points, built from the rubric's own texts.

Every sentence comes from the rubric (met / missed / misconception feedback), never from
free generation, so what a student reads has been written or reviewed by a teacher.
"""

from __future__ import annotations

from graders.core.result import (
    Feedback,
    KeyPointResult,
    Label,
    LessonKeyPointFeedback,
    MisconceptionResult,
    Status,
)
from rubrics import Lesson

NO_ANSWER = "No answer was given, so nothing could be credited. Try writing what you remember."


def _overall(statuses: list[Status]) -> Status:
    if all(s is Status.MET for s in statuses):
        return Status.MET
    if all(s is Status.MISSING for s in statuses):
        return Status.MISSING
    return Status.PARTIAL


def build_feedback(
    lesson: Lesson,
    items: list[KeyPointResult],
    misconceptions: list[MisconceptionResult],
    label: Label,
    *,
    empty: bool,
) -> Feedback:
    titles = {k.id: k.title for k in lesson.key_points}
    groups: dict[str, list[KeyPointResult]] = {}
    for item in items:
        groups.setdefault(item.lesson_key_point, []).append(item)
    sections = [
        LessonKeyPointFeedback(
            id=lesson_key_point,
            title=titles[lesson_key_point],
            status=_overall([i.status for i in group]),
            feedback=[i.feedback for i in group],
        )
        for lesson_key_point, group in groups.items()
    ]
    if empty:
        return Feedback(summary=NO_ANSWER, by_lesson_key_point=sections)
    strong = [s.title for s in sections if s.status is Status.MET]
    review = [s.title for s in sections if s.status is not Status.MET]
    parts = [f"Overall: {label.value}."]
    if strong:
        parts.append("You showed: " + "; ".join(strong) + ".")
    if review:
        parts.append("To review: " + "; ".join(review) + ".")
    parts.extend(m.feedback for m in misconceptions[:2])
    return Feedback(summary=" ".join(parts), by_lesson_key_point=sections)
