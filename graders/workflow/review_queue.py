"""The review queue: which answers a teacher should grade first, similar ones grouped.

Order: answers flagged ``needs_review`` first, then the least confident, then those whose
grade lies nearest a label cut (a teacher's grade there teaches the grader most, as in
graders.calibration.question_fit); grades made with an older rubric or exemplar set rank higher.
Answers to one question with the same verdicts (label, key point statuses,
misconceptions) whose texts embed close together form one group: one decision grades
them all (``POST /v1/reviews``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel

from graders.core.config import GradingConfig
from graders.core.result import GradeResult
from graders.store.grade_rows import StoredGrade
from graders.workflow.grade_book import GradeBook

GROUP_SIMILARITY = 0.85  # answers at least this close (cosine) may share a decision


@dataclass
class QueueItem:
    grade: StoredGrade
    result: GradeResult
    outdated: bool
    priority: float = 0.0


@dataclass
class Group:
    items: list[QueueItem] = field(default_factory=list)

    @property
    def priority(self) -> float:
        return max(i.priority for i in self.items)


def priority(item: QueueItem, config: GradingConfig) -> float:
    """Higher first: flagged, unsure, near a cut, made with an older rubric or examples."""
    cuts = (config.partially_correct_at, config.correct_at)
    nearest_cut = min(abs(item.result.percent - c) for c in cuts)
    return (
        2.0 * item.result.needs_review
        + (1.0 - item.result.confidence)
        + 0.5 * max(0.0, 0.2 - nearest_cut) / 0.2
        + 0.25 * item.outdated
    )


def verdict_key(result: GradeResult) -> tuple[object, ...]:
    return (
        result.question_id,
        result.label.value,
        tuple((k.id, k.status.value) for k in result.key_points),
        tuple(sorted(m.id for m in result.misconceptions)),
    )


def group(items: list[QueueItem], vectors: np.ndarray, threshold: float) -> list[Group]:
    """Leader clustering within each verdict pattern: an answer joins the first group whose
    first answer it embeds within ``threshold`` of, else starts its own."""
    groups: list[Group] = []
    leaders: dict[tuple[object, ...], list[tuple[int, Group]]] = {}
    order = sorted(range(len(items)), key=lambda i: -items[i].priority)
    for i in order:
        key = verdict_key(items[i].result)
        for leader, found in leaders.get(key, []):
            if float(vectors[i] @ vectors[leader]) >= threshold:
                found.items.append(items[i])
                break
        else:
            new = Group([items[i]])
            groups.append(new)
            leaders.setdefault(key, []).append((i, new))
    return sorted(groups, key=lambda g: -g.priority)


class QueuedAnswer(BaseModel):
    grade_id: str
    student_id: str | None
    answer: str
    label: str
    score: float
    max_score: float
    confidence: float
    needs_review: bool
    review_reasons: list[str]
    outdated: bool


class QueueGroup(BaseModel):
    question_id: str
    label: str
    key_points: dict[str, str]
    misconceptions: list[str]
    size: int
    priority: float
    grade_ids: list[str]
    answers: list[QueuedAnswer]


class ReviewQueue(BaseModel):
    lesson_id: str
    question_id: str | None
    waiting: int
    groups: list[QueueGroup]


async def review_queue(
    book: GradeBook, lesson_id: str, question_id: str | None, limit: int
) -> ReviewQueue:
    """Unreviewed answers of a lesson (or one question), grouped, most useful first."""
    service = book.service
    grades = await asyncio.to_thread(book.store.of_question, lesson_id, question_id, reviewed=False)
    items = []
    for g in grades:
        result = book.result_of(g)
        item = QueueItem(g, result, book.outdated(g))
        item.priority = priority(item, service.config)
        items.append(item)
    vectors = np.zeros((0, 1))
    if items:
        vectors = np.asarray(
            await service.embedding.embedder.embed([i.grade.answer for i in items])
        )
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    groups = group(items, vectors, GROUP_SIMILARITY)[:limit]
    return ReviewQueue(
        lesson_id=lesson_id,
        question_id=question_id,
        waiting=len(items),
        groups=[_out(g) for g in groups],
    )


def _out(found: Group) -> QueueGroup:
    first = found.items[0].result
    return QueueGroup(
        question_id=first.question_id,
        label=first.label.value,
        key_points={k.id: k.status.value for k in first.key_points},
        misconceptions=sorted(m.id for m in first.misconceptions),
        size=len(found.items),
        priority=round(found.priority, 4),
        grade_ids=[i.grade.id for i in found.items],
        answers=[
            QueuedAnswer(
                grade_id=i.grade.id,
                student_id=i.grade.student_id,
                answer=i.grade.answer,
                label=i.result.label.value,
                score=i.result.score,
                max_score=i.result.max_score,
                confidence=i.result.confidence,
                needs_review=i.result.needs_review,
                review_reasons=i.result.review_reasons,
                outdated=i.outdated,
            )
            for i in found.items
        ],
    )
