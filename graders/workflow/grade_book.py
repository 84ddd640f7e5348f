"""The grade book: every answer graded through the service is kept, with an id.

Routes (``/v1/grade``, LTI) call the book rather than the service: it grades within the
interactive budget, stores the result as revision 1, and marks it ``pending`` for the
background LLM pass when the LLM was skipped or unavailable (graders.workflow.refiner).
Readers can wait for a newer revision (long-polling) without holding a connection open
to the database: the refiner wakes them, and a poll catches revisions made by another
process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Required, TypedDict, Unpack

from graders.core.errors import UnknownGrade, UnknownLesson
from graders.core.result import GradeResult
from graders.service.grading_service import GradingService
from graders.service.inline_rubrics import InlineSpec
from graders.service.llm_step import Progress
from graders.store.grade_rows import NewGrade, StoredGrade, new_grade
from graders.store.grade_store import GradeStore
from rubrics import Lesson, Question

POLL_S = 1.0  # how often a waiting reader looks at the database (revisions made elsewhere)
NOT_REFINED = ("empty answer",)  # skips that no later LLM pass would change


def graded_by(result: GradeResult) -> str:
    return "embedding+llm" if result.graders["llm"].state == "used" else "embedding"


def needs_refinement(result: GradeResult) -> bool:
    llm = result.graders.get("llm")
    if llm is None or llm.state not in ("skipped", "unavailable"):
        return False
    return llm.reason not in NOT_REFINED


class GradeOptions(TypedDict, total=False):
    """What a route may ask of the service beside the answer: ``progress`` is told when
    the answer starts waiting for the LLM (load shedding)."""

    student_id: str | None
    require_llm: bool
    progress: Progress | None


class GradeOrigin(TypedDict, total=False):
    """Where a fresh grade came from, as its row keeps it (graders.store.grade_rows)."""

    source: Required[str]
    inline: str | None
    batch_id: str | None
    batch_seq: int | None


class GradeBook:
    def __init__(self, service: GradingService, store: GradeStore, *, refine: bool) -> None:
        self.service = service
        self.store = store
        self.refine = refine and service.llm is not None
        self._changed = asyncio.Condition()
        self.on_pending: list[asyncio.Event] = []
        self.in_flight = 0  # interactive grading requests being served now
        self.busy_above = 0  # in flight above this counts as busy (set by the refiner)
        # Group commit: one writer at a time stores every grade waiting, in one transaction
        # (concurrent SQLite writers would queue on its lock, sleeping in its busy handler).
        self._writes: list[tuple[NewGrade, asyncio.Future[str]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.busy_at = -float("inf")  # when the last busy moment was (monotonic)

    # -- grading ------------------------------------------------------------------------
    async def grade(
        self,
        lesson_id: str,
        question_id: str,
        answer: str,
        *,
        source: str = "api",
        **options: Unpack[GradeOptions],
    ) -> GradeResult:
        """Grade through the service and keep the grade; ``options`` go to the service."""
        with self._serving():
            result = await self.service.grade(lesson_id, question_id, answer, **options)
        return await self.keep(result, answer, source=source)

    async def grade_inline(
        self, spec: InlineSpec, answer: str, **options: Unpack[GradeOptions]
    ) -> GradeResult:
        with self._serving():
            result = await self.service.grade_inline(spec, answer, **options)
        return await self.keep(result, answer, source="api", inline=spec.to_json())

    @contextlib.contextmanager
    def _serving(self) -> Iterator[None]:
        """One interactive request in flight (busy above ``busy_above``) while inside."""
        self.in_flight += 1
        if self.in_flight > self.busy_above:
            self.busy_at = time.monotonic()
        try:
            yield
        finally:
            self.in_flight -= 1

    def fresh(
        self, result: GradeResult, answer: str, **origin: Unpack[GradeOrigin]
    ) -> tuple[GradeResult, NewGrade]:
        """A just-made grade as revision 1 (graded_by, refinement set) and its stored row."""
        refinement = "pending" if self.refine and needs_refinement(result) else "none"
        result = result.model_copy(
            update={"graded_by": graded_by(result), "refinement": refinement, "revision": 1}
        )
        return result, new_grade(result, answer, **origin)

    async def keep(
        self, result: GradeResult, answer: str, *, source: str, inline: str | None = None
    ) -> GradeResult:
        """Store a fresh grade (revision 1) and return it with its id and refinement state."""
        result, new = self.fresh(result, answer, source=source, inline=inline)
        grade_id = await self._write(new)
        if result.refinement == "pending":
            self.nudge()
        return result.model_copy(update={"grade_id": grade_id})

    async def _write(self, new: NewGrade) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._writes.append((new, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._writes:
            batch, self._writes = self._writes, []
            try:
                ids = await asyncio.to_thread(self.store.add_many, [new for new, _ in batch])
            except Exception as exc:  # every waiting request learns it was not stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), grade_id in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(grade_id)

    def nudge(self) -> None:
        """Tell the refiner that grades are waiting."""
        for event in self.on_pending:
            event.set()

    async def question_of(self, grade: StoredGrade) -> tuple[Lesson, Question]:
        """The rubric a stored grade was made against (an inline one is rebuilt)."""
        if grade.inline is None:
            return self.service.find(grade.lesson_id, grade.question_id)
        spec = InlineSpec.from_json(grade.inline)
        lesson = await self.service.inline_lesson(
            spec.prompt, spec.reference_answer, spec.max_score, spec.question_id
        )
        return lesson, lesson.questions[0]

    # -- reading ------------------------------------------------------------------------
    async def stored(self, grade_id: str) -> StoredGrade:
        grade = await asyncio.to_thread(self.store.get, grade_id)
        if grade is None:
            raise UnknownGrade(grade_id)
        return grade

    async def current(self, grade_id: str) -> GradeResult:
        return self.result_of(await self.stored(grade_id))

    @staticmethod
    def result_of(grade: StoredGrade) -> GradeResult:
        result = GradeResult.model_validate_json(grade.result)
        return result.model_copy(
            update={
                "grade_id": grade.id,
                "revision": grade.revision,
                "graded_by": grade.graded_by,
                "refinement": grade.refinement,
            }
        )

    async def wait(self, grade_id: str, after_revision: int, timeout_s: float) -> GradeResult:
        """The grade once its revision passes ``after_revision`` or its refinement settles,
        or as it is when ``timeout_s`` runs out (long-polling)."""
        deadline = time.monotonic() + timeout_s
        while True:
            grade = await self.stored(grade_id)
            settled = grade.refinement not in ("pending", "running")
            left = deadline - time.monotonic()
            if grade.revision > after_revision or settled or left <= 0:
                return self.result_of(grade)
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(left, POLL_S))

    async def changed(self) -> None:
        """Wake readers waiting for a revision (called after one is stored)."""
        async with self._changed:
            self._changed.notify_all()

    async def history(self, grade_id: str) -> dict[str, object]:
        grade = await self.stored(grade_id)
        revisions = await asyncio.to_thread(self.store.history, grade_id)
        trail = await asyncio.to_thread(self.store.audit_trail, grade_id)
        return {
            "grade_id": grade.id,
            "answer": grade.answer,
            "student_id": grade.student_id,
            "lesson_id": grade.lesson_id,
            "question_id": grade.question_id,
            "source": grade.source,
            "revisions": [
                {"revision": r, "graded_by": g, "created_at": t} for r, g, t in revisions
            ],
            "audit": trail,
        }

    def outdated(self, grade: StoredGrade) -> bool:
        """Made with another rubric or exemplar set than the question has now."""
        if grade.inline is not None or grade.review is not None:
            return False
        lesson = self.service.lessons.get(grade.lesson_id)
        if lesson is None:
            return True
        current = self.service.exemplars.set_id(grade.lesson_id, grade.question_id)
        return grade.rubric_hash != lesson.content_hash or grade.exemplar_set != current

    def check_scope(self, lesson_id: str, question_id: str | None) -> None:
        """UnknownLesson / UnknownQuestion unless the lesson (and question) exist."""
        if question_id is not None:
            self.service.find(lesson_id, question_id)
        elif lesson_id not in self.service.lessons:
            raise UnknownLesson(lesson_id)

    async def reviewed(self, lesson_id: str, question_id: str | None) -> list[StoredGrade]:
        self.check_scope(lesson_id, question_id)
        return await asyncio.to_thread(
            self.store.of_question, lesson_id, question_id, reviewed=True
        )
