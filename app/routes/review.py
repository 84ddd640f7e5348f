"""Teacher in the loop: the review queue, teacher grades, agreement, regrading, erasure.

Teacher-only (API key, or loopback without keys). Route bodies call graders/workflow.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from app.auth import TeacherDep, require_teacher
from app.deps import BookDep, ReleasesDep, TeachingDep
from app.routes.batches import BatchesDep
from graders.core.result import GradeResult
from graders.workflow.agreement import Agreement, agreement
from graders.workflow.regrade import RegradePlan, regrade
from graders.workflow.release import ReleasePolicy, ReleaseState
from graders.workflow.review import TeacherReview
from graders.workflow.review_queue import ReviewQueue, review_queue

router = APIRouter(prefix="/v1", tags=["teacher review"], dependencies=[Depends(require_teacher)])
LessonQuery = Annotated[str, Query(min_length=1, max_length=200)]
QuestionQuery = Annotated[str | None, Query(min_length=1, max_length=200)]


class GroupReview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grade_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=500
    )
    review: TeacherReview


class Erased(BaseModel):
    student_id: str
    erased: int = Field(description="Stored answers and their grades erased.")
    batch_rows: int = Field(description="Rows of class files whose answer was erased.")


@router.get("/review", response_model=ReviewQueue)
async def queue(
    book: BookDep,
    lesson_id: LessonQuery,
    question_id: QuestionQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ReviewQueue:
    """Answers to review, most useful first; similar answers as one group."""
    book.check_scope(lesson_id, question_id)
    return await review_queue(book, lesson_id, question_id, limit)


@router.put("/grades/{grade_id}/review", response_model=GradeResult)
async def review_grade(
    grade_id: str, body: TeacherReview, teaching: TeachingDep, who: TeacherDep
) -> GradeResult:
    """The teacher's grade: it becomes the grade's current revision, and an example."""
    return await teaching.review(grade_id, body, who)


@router.post("/reviews", response_model=list[GradeResult])
async def review_group(
    body: GroupReview, teaching: TeachingDep, who: TeacherDep
) -> list[GradeResult]:
    """One decision for a group of similar answers."""
    return await teaching.review_many(body.grade_ids, body.review, who)


@router.get("/agreement", response_model=Agreement)
async def show_agreement(
    request: Request, book: BookDep, lesson_id: LessonQuery, question_id: QuestionQuery = None
) -> Agreement:
    """AI against teacher on the reviewed answers, with bootstrap intervals."""
    grades = await book.reviewed(lesson_id, question_id)
    return agreement(lesson_id, question_id, grades, str(request.base_url).rstrip("/"))


@router.post("/questions/{lesson_id}/{question_id}/regrade", response_model=RegradePlan)
async def regrade_question(
    lesson_id: str,
    question_id: str,
    book: BookDep,
    apply: Annotated[bool, Query(description="false: a dry run that changes nothing.")] = False,
) -> RegradePlan:
    """Grade the question's unreviewed answers again; list (or apply) what changes."""
    return await regrade(book, lesson_id, question_id, apply=apply)


@router.delete("/students/{student_id}", response_model=Erased)
async def erase_student(
    student_id: str, teaching: TeachingDep, batches: BatchesDep, who: TeacherDep
) -> Erased:
    """Erase a student's answers and grades (and their use as examples), class files too."""
    erased = await teaching.erase_student(student_id, who)
    rows = await batches.erase_student(student_id)
    return Erased(student_id=student_id, erased=erased, batch_rows=rows)


@router.put("/questions/{lesson_id}/{question_id}/release-policy", response_model=ReleaseState)
async def set_release_policy(
    lesson_id: str, question_id: str, body: ReleasePolicy, releases: ReleasesDep
) -> ReleaseState:
    """AI grades of this question pass back to the LMS as final only once at least
    ``min_reviewed`` answers are reviewed and the AI agrees with the teacher on
    ``min_accuracy`` of them; until then as PendingManual."""
    await releases.set(lesson_id, question_id, body)
    return await releases.state(lesson_id, question_id)


@router.get("/questions/{lesson_id}/{question_id}/release-policy", response_model=ReleaseState)
async def release_policy(lesson_id: str, question_id: str, releases: ReleasesDep) -> ReleaseState:
    """The question's policy and whether its AI grades are released now."""
    releases.book.check_scope(lesson_id, question_id)
    return await releases.state(lesson_id, question_id)
