"""POST /v1/grade: one answer in, one graded result out."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import MetricsDep, ServiceDep
from app.schemas import GradeRequest
from graders.result import GradeResult

router = APIRouter(prefix="/v1", tags=["grading"])


@router.post("/grade", response_model=GradeResult)
async def grade_answer(body: GradeRequest, service: ServiceDep, metrics: MetricsDep) -> GradeResult:
    """Grade a student's answer to one question of a lesson."""
    result = await service.grade(
        body.lesson_id,
        body.question_id,
        body.answer,
        student_id=body.student_id,
        require_llm=body.require_llm,
    )
    metrics.record(result)
    return result
