"""Teachers' reviews: the teacher's grade becomes current, and the grader learns from it.

Every reviewed answer of a question becomes one of its graded examples, beside those in
its YAML rubric (``GradingService.set_exemplars``); on a question built from a reference
answer it also fits the question's score offset and label cuts. The exemplars are
rebuilt from the database at start-up, so what a teacher taught survives a restart.
Answers to inline questions are kept and reviewed, but teach nothing: an inline
question has no lasting identity to attach examples to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from graders.core.errors import RubricateError
from graders.core.result import GradeResult
from graders.store.grade_rows import grade_row
from graders.workflow.grade_book import GradeBook
from graders.workflow.review import TeacherReview, apply_review, as_exemplar
from rubrics import Lesson, Question

log = logging.getLogger(__name__)
# Audit ids are taken in one order and committed in another: look back this many.
LOOKBACK_IDS = 200


class Teaching:
    def __init__(self, book: GradeBook) -> None:
        self.book = book
        self._lock = asyncio.Lock()
        # Told of every teacher grade stored (the LTI passback sends it to the LMS).
        self.on_reviewed: list[Callable[[GradeResult], Awaitable[None]]] = []
        self.taught: set[tuple[str, str]] = set()
        self._head: int | None = None  # the audit as far as ``follow`` has read it
        self._seen: set[int] = set()

    async def review(self, grade_id: str, review: TeacherReview, who: str) -> GradeResult:
        """Store the teacher's grade as the current revision, audited; then learn from it."""
        reviewed, lesson, question = await self._apply(grade_id, review, who)
        if lesson is not None and question is not None:
            await self.teach(lesson, question)
        await self._tell(reviewed)
        return reviewed

    async def review_many(
        self, grade_ids: list[str], review: TeacherReview, who: str
    ) -> list[GradeResult]:
        """One decision for a group of similar answers; the grader learns once, at the end."""
        done, questions = [], {}
        for grade_id in grade_ids:
            reviewed, lesson, question = await self._apply(grade_id, review, who)
            done.append(reviewed)
            if lesson is not None and question is not None:
                questions[(lesson.id, question.id)] = (lesson, question)
        for lesson, question in questions.values():
            await self.teach(lesson, question)
        for reviewed in done:
            await self._tell(reviewed)
        return done

    async def _tell(self, reviewed: GradeResult) -> None:
        for listener in self.on_reviewed:
            try:
                await listener(reviewed)
            except Exception:  # a listener's failure never loses the teacher's grade
                log.exception("passing on the review of %s failed", reviewed.grade_id)

    async def _apply(
        self, grade_id: str, review: TeacherReview, who: str
    ) -> tuple[GradeResult, Lesson | None, Question | None]:
        book = self.book
        grade = await book.stored(grade_id)
        lesson, question = await book.question_of(grade)
        ai = GradeResult.model_validate_json(grade.ai_result)
        reviewed = apply_review(ai, lesson, question, review, book.service.config)
        revision = await asyncio.to_thread(
            book.store.revise,
            grade_id,
            grade_row(reviewed),  # graded_by teacher, confidence 1, not flagged
            review=review.model_dump_json(),
            who=review.reviewer or who,
        )
        await book.changed()
        reviewed = reviewed.model_copy(update={"grade_id": grade_id, "revision": revision or 1})
        if grade.inline is not None:
            return reviewed, None, None
        return reviewed, lesson, question

    async def teach(self, lesson: Lesson, question: Question) -> str:
        """Rebuild the question's exemplars: its rubric's plus every reviewed answer."""
        async with self._lock:
            grades = await asyncio.to_thread(
                self.book.store.of_question, lesson.id, question.id, reviewed=True
            )
            graded = [
                as_exemplar(
                    g.answer,
                    GradeResult.model_validate_json(g.result),
                    TeacherReview.model_validate_json(g.review or "{}"),
                )
                for g in grades
                if g.inline is None
            ]
            self.taught.add((lesson.id, question.id))
            return await self.book.service.set_exemplars(lesson, question, graded)

    async def teach_all(self) -> int:
        """At start-up: every question some teacher reviewed answers of learns from them."""
        self._head = await asyncio.to_thread(self.book.store.audit_head)
        taught = 0
        for lesson_id, question_id in await asyncio.to_thread(self.book.store.reviewed_questions):
            try:
                lesson, question = self.book.service.find(lesson_id, question_id)
            except RubricateError as exc:  # the rubric was removed since: nothing to teach
                log.warning("reviews of %s/%s not used: %s", lesson_id, question_id, exc)
                continue
            await self.teach(lesson, question)
            taught += 1
        return taught

    async def follow(self) -> int:
        """Learn what was taught through other processes sharing the database: questions
        reviewed there since the last call are taught again here; an erased answer has every
        question taught here again without it. Returns how many questions were taught."""
        store = self.book.store
        if self._head is None:
            self._head = await asyncio.to_thread(store.audit_head)
        changes = await asyncio.to_thread(store.teaching_changes, self._head - LOOKBACK_IDS)
        fresh = [c for c in changes if c[0] not in self._seen]
        if not changes:
            return 0
        self._head = max(self._head, changes[-1][0])
        self._seen = {c[0] for c in changes if c[0] > self._head - LOOKBACK_IDS}
        questions = {(lesson, question) for _, lesson, question in fresh if lesson and question}
        if any(lesson is None for _, lesson, _ in fresh):
            questions |= self.taught
        for lesson_id, question_id in sorted(questions):
            try:
                lesson, question = self.book.service.find(lesson_id, question_id)
            except RubricateError:
                continue
            await self.teach(lesson, question)
        return len(questions)

    async def erase_student(self, student_id: str, who: str) -> int:
        """Erase a student's answers and grades; their reviewed answers stop being examples."""
        store = self.book.store
        questions = await asyncio.to_thread(store.reviewed_questions, student_id)
        erased = await asyncio.to_thread(store.erase_student, student_id, who)
        for lesson_id, question_id in questions:
            try:
                lesson, question = self.book.service.find(lesson_id, question_id)
            except RubricateError:
                continue
            await self.teach(lesson, question)
        return erased
