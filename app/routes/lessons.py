"""GET /v1/lessons and /v1/lessons/{id}: what can be answered, as students may see it."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import LessonsDep
from app.schemas import LessonOut, LessonSummary, lesson_detail, lesson_summary
from graders.core.errors import UnknownLesson

router = APIRouter(prefix="/v1/lessons", tags=["lessons"])


@router.get("", response_model=list[LessonSummary])
async def list_lessons(lessons: LessonsDep) -> list[LessonSummary]:
    return [lesson_summary(lesson) for lesson in lessons.values()]


@router.get("/{lesson_id}", response_model=LessonOut)
async def get_lesson(lesson_id: str, lessons: LessonsDep) -> LessonOut:
    """The lesson's questions without reference answers or rubric phrasings."""
    if lesson_id not in lessons:
        raise UnknownLesson(lesson_id)
    return lesson_detail(lessons[lesson_id])
