"""POST /v1/grade: one answer in, one graded result out."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import BookDep, MetricsDep, SlotDep
from app.schemas import GradeRequest
from graders.core.result import GradeResult
from graders.service.inline_rubrics import InlineSpec

router = APIRouter(prefix="/v1", tags=["grading"])


@router.post("/grade", response_model=GradeResult)
async def grade_answer(
    body: GradeRequest, book: BookDep, metrics: MetricsDep, slot: SlotDep
) -> GradeResult:
    """Grade a student's answer to one question of a lesson, or to an inline question.

    The grade comes within the interactive budget and is kept with an id (``grade_id``).
    When the LLM had no time for it, ``refinement`` is ``pending``: a refined revision
    follows, at ``GET /v1/grades/{grade_id}``.
    """
    if body.question is not None:
        posted = body.question
        spec = InlineSpec(posted.prompt, posted.reference_answer, posted.max_score, posted.id)
        result = await book.grade_inline(
            spec,
            body.answer,
            student_id=body.student_id,
            require_llm=body.require_llm,
            progress=slot,
        )
    else:
        assert body.lesson_id is not None and body.question_id is not None
        result = await book.grade(
            body.lesson_id,
            body.question_id,
            body.answer,
            student_id=body.student_id,
            require_llm=body.require_llm,
            progress=slot,
        )
    metrics.record(result)
    return result
