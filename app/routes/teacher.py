"""Teacher-only reading of rubrics: the full lesson with reference answers and phrasings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.auth import require_teacher
from app.deps import LessonsDep
from graders.core.errors import UnknownLesson

router = APIRouter(
    prefix="/v1/admin/lessons", tags=["teacher"], dependencies=[Depends(require_teacher)]
)


@router.get("/{lesson_id}")
async def lesson_rubric(lesson_id: str, lessons: LessonsDep) -> dict[str, Any]:
    """The whole rubric, reference answers included (never shown to students)."""
    if lesson_id not in lessons:
        raise UnknownLesson(lesson_id)
    return lessons[lesson_id].model_dump(mode="json")
