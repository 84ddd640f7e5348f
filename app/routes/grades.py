"""Stored grades: the latest revision of one (long-polling for a refined one), its history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from app.auth import require_teacher
from app.deps import BookDep
from graders.core.result import GradeResult

router = APIRouter(prefix="/v1/grades", tags=["grades"])


@router.get("/{grade_id}", response_model=GradeResult)
async def get_grade(
    grade_id: str,
    book: BookDep,
    after_revision: Annotated[
        int, Query(ge=0, description="Wait for a revision newer than this one.")
    ] = 0,
    wait: Annotated[
        float, Query(ge=0, le=30, description="Seconds to wait for it (long-polling).")
    ] = 0,
) -> GradeResult:
    """The grade's latest revision. With ``wait``, the answer comes as soon as a revision
    newer than ``after_revision`` is stored or its refinement settles, else after ``wait``
    seconds with the grade as it is."""
    if wait > 0:
        return await book.wait(grade_id, after_revision, wait)
    return await book.current(grade_id)


@router.get("/{grade_id}/history", dependencies=[Depends(require_teacher)])
async def grade_history(grade_id: str, book: BookDep) -> dict[str, Any]:
    """Teacher-only: the answer, every revision (who graded it, when) and the audit trail."""
    return await book.history(grade_id)
