"""The simulated teacher of bench/teacher_loop.py: the gold grades it gives, the policies
that pick which answers it reviews next, and one teacher's run through one question's
answers (grade, review, regrade), recorded as a curve of labels right."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graders.core.result import Label
from graders.service.grading_service import GradingService
from graders.store.grade_rows import StoredGrade
from graders.store.grade_store import GradeStore
from graders.workflow.grade_book import GradeBook
from graders.workflow.regrade import regrade
from graders.workflow.review import TeacherReview
from graders.workflow.review_queue import review_queue
from graders.workflow.teaching import Teaching
from rubrics import Lesson, Question

CHECKPOINTS = (5, 10, 20)
WHO = "simulated teacher"


@dataclass(frozen=True)
class Gold:
    """The grade the simulated teacher gives: the dataset's label, and its score as a
    fraction of full marks."""

    label: Label
    score: float


@dataclass(frozen=True)
class Point:
    """The question's grades after the teacher reviewed ``reviewed`` of its answers."""

    reviewed: int
    right: int  # labels right, reviewed ones included
    unreviewed_right: int
    unreviewed: int


@dataclass
class Curve:
    total: int
    points: list[Point] = field(default_factory=list)

    def at(self, reviewed: int) -> Point:
        """The state once ``reviewed`` answers are reviewed (the last step not past it)."""
        return [p for p in self.points if p.reviewed <= reviewed][-1]


# Picks the next grades to review: (book, question, unreviewed grades, room) -> grade ids.
Picker = Callable[[GradeBook, Lesson, Question, list[StoredGrade], int], Awaitable[list[str]]]


async def queue_picker(
    book: GradeBook, lesson: Lesson, question: Question, waiting: list[StoredGrade], room: int
) -> list[str]:
    """The top group of the real review queue, up to ``room`` of its answers."""
    queue = await review_queue(book, lesson.id, question.id, limit=1)
    return queue.groups[0].grade_ids[:room]


def random_picker(seed: int) -> Picker:
    """Answers in one random order of their students, the same for a seed in every run."""
    rng = random.Random(seed)
    keys: dict[str, float] = {}

    async def pick(
        book: GradeBook, lesson: Lesson, question: Question, waiting: list[StoredGrade], room: int
    ) -> list[str]:
        for student in sorted(str(g.student_id) for g in waiting):
            keys.setdefault(student, rng.random())
        return [g.id for g in sorted(waiting, key=lambda g: keys[str(g.student_id)])][:room]

    return pick


class NoLearning(Teaching):
    """The review path with the grader learning nothing (the pure review baseline)."""

    async def teach(self, lesson: Lesson, question: Question) -> str:
        return self.book.service.exemplars.set_id(lesson.id, question.id)


async def new_question(service: GradingService, prompt: str, reference: str, qid: str) -> Lesson:
    """The rubric built from a reference answer, kept among the service's lessons."""
    lesson = await service.inline_lesson(prompt, reference, 1.0, qid)
    service.lessons[lesson.id] = lesson
    return lesson


async def simulate(
    service: GradingService,
    lesson: Lesson,
    question: Question,
    answers: Sequence[tuple[str, str, Gold]],
    pick: Picker,
    *,
    learn: bool,
    every: int = 1,
    database: Path,
    checkpoints: Sequence[int] = CHECKPOINTS,
) -> Curve:
    """One teacher working through one question's answers ((student, answer, gold) each)."""
    await service.set_exemplars(lesson, question, [])  # nothing learned from an earlier run
    store = await asyncio.to_thread(GradeStore, f"sqlite:///{database}")
    try:
        book = GradeBook(service, store, refine=False)
        teaching = Teaching(book) if learn else NoLearning(book)
        gold: dict[str, Gold] = {}
        max_score = 1.0
        for student, answer, truth in answers:
            result = await book.grade(lesson.id, question.id, answer, student_id=student)
            assert result.grade_id is not None
            gold[result.grade_id], max_score = truth, result.max_score
        curve = Curve(total=len(gold))
        curve.points.append(await _point(book, lesson, question, gold))
        reviewed = 0
        while reviewed < len(gold):
            room = min([every] + [c - reviewed for c in checkpoints if c > reviewed])
            waiting = await _of(book, lesson, question, reviewed=False)
            chosen = await pick(book, lesson, question, waiting, room)
            if not chosen or not set(chosen) <= {g.id for g in waiting}:
                raise RuntimeError(f"the picker chose {chosen} of {len(waiting)} waiting")
            same: dict[Gold, list[str]] = {}
            for grade_id in chosen:
                same.setdefault(gold[grade_id], []).append(grade_id)
            for truth, ids in same.items():
                points = round(truth.score * max_score, 4)  # a review's score is in points
                review = TeacherReview(label=truth.label, score=points, reviewer=WHO)
                await teaching.review_many(ids, review, WHO)
            reviewed += len(chosen)
            if learn:
                await regrade(book, lesson.id, question.id, apply=True)
            curve.points.append(await _point(book, lesson, question, gold))
        return curve
    finally:
        store.close()
        await service.set_exemplars(lesson, question, [])


async def _of(
    book: GradeBook, lesson: Lesson, question: Question, *, reviewed: bool | None
) -> list[StoredGrade]:
    store = book.store
    return await asyncio.to_thread(store.of_question, lesson.id, question.id, reviewed=reviewed)


async def _point(
    book: GradeBook, lesson: Lesson, question: Question, gold: dict[str, Gold]
) -> Point:
    grades = await _of(book, lesson, question, reviewed=None)
    right = [g.label == gold[g.id].label.value for g in grades]
    open_ = [ok for g, ok in zip(grades, right, strict=True) if g.review is None]
    return Point(len(grades) - len(open_), sum(right), sum(open_), len(open_))


@dataclass
class Results:
    runs: dict[str, list[list[Curve]]]  # policy -> runs (seeds) -> one curve a question
    questions: list[str] = field(default_factory=list)
    seconds: float = 0.0
