"""Regrading a question after its rubric or its graded examples changed.

Only answers no teacher graded are regraded (the teacher's grade always wins). A dry run
grades them again and lists which grades would change and how; applying stores each
changed grade as a new revision (``graded_by`` as made, marked for the LLM pass when the
LLM had no time for it). Every grade records the rubric hash and exemplar set it was
made with, so those made with older ones show as outdated until regraded.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from graders.store.grade_rows import grade_row
from graders.workflow.grade_book import GradeBook, graded_by, needs_refinement


class Change(BaseModel):
    grade_id: str
    student_id: str | None
    answer: str
    before_label: str
    after_label: str
    before_score: float
    after_score: float
    outdated: bool


class RegradePlan(BaseModel):
    lesson_id: str
    question_id: str
    applied: bool
    considered: int
    unchanged: int
    rubric_hash: str
    exemplar_set: str
    changes: list[Change]


async def regrade(book: GradeBook, lesson_id: str, question_id: str, *, apply: bool) -> RegradePlan:
    service = book.service
    lesson, question = service.find(lesson_id, question_id)
    grades = await asyncio.to_thread(book.store.of_question, lesson_id, question_id, reviewed=False)
    grades = [g for g in grades if g.inline is None]
    changes: list[Change] = []
    same: list[str] = []
    for grade in grades:
        before = book.result_of(grade)
        after, _ = await service.grade_question(
            lesson,
            question,
            grade.answer,
            student_id=grade.student_id,
            budget_s=service.llm_budget_s,
        )
        changed = after.label != before.label or abs(after.score - before.score) > 1e-6
        if not changed:
            same.append(grade.id)
            continue
        changes.append(
            Change(
                grade_id=grade.id,
                student_id=grade.student_id,
                answer=grade.answer,
                before_label=before.label.value,
                after_label=after.label.value,
                before_score=before.score,
                after_score=after.score,
                outdated=book.outdated(grade),
            )
        )
        if apply:
            refine = book.refine and needs_refinement(after)
            after = after.model_copy(
                update={
                    "graded_by": graded_by(after),
                    "refinement": "pending" if refine else "none",
                }
            )
            await asyncio.to_thread(
                book.store.revise,
                grade.id,
                grade_row(after),
                refinement=after.refinement,
                who="regrade",
            )
    if apply:
        # Graded again with the same result: now made with the current rubric and examples.
        stamp = (lesson.content_hash, service.exemplars.set_id(lesson_id, question_id))
        await asyncio.to_thread(book.store.restamp, same, *stamp)
        await book.changed()
        book.nudge()
    return RegradePlan(
        lesson_id=lesson_id,
        question_id=question_id,
        applied=apply,
        considered=len(grades),
        unchanged=len(grades) - len(changes),
        rubric_hash=lesson.content_hash,
        exemplar_set=service.exemplars.set_id(lesson_id, question_id),
        changes=changes,
    )
