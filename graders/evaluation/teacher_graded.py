"""Measuring what a few teacher-graded answers per question do for a new question.

For each question: the grader picks K answers from its own scores, without looking at
any label (graders.calibration.question_fit.pick_informative); the dataset's human grades of those K
stand in for the teacher's; they become the question's exemplars and fit its offset and
label cuts (GradingService.set_exemplars); then the other answers are graded, and only
they are measured. No label of a measured answer is used anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from graders.calibration.question_fit import pick_informative
from graders.evaluation.datasets import Dataset, Item
from graders.evaluation.runner import Record, grade_dataset, rubric_for
from graders.scoring.exemplar_vote import GradedAnswer
from graders.service.grading_service import GradingService


def _label(item: Item, percent: float, cuts: tuple[float, float]) -> str:
    if item.label is not None:
        return item.label.value
    return (
        "correct"
        if percent >= cuts[1]
        else "partially correct"
        if percent >= cuts[0]
        else ("incorrect")
    )


def picks(
    dataset: Dataset, predicted: Sequence[float], k: int, cuts: tuple[float, float]
) -> dict[str, list[int]]:
    """Item indexes to be teacher-graded, per question, chosen from predicted scores only."""
    chosen: dict[str, list[int]] = {}
    for qid in dataset.questions:
        rows = [i for i, item in enumerate(dataset.items) if item.question_id == qid]
        chosen[qid] = [rows[j] for j in pick_informative([predicted[i] for i in rows], k, cuts)]
    return chosen


async def grade_with_teacher_graded(
    service: GradingService,
    dataset: Dataset,
    predicted: Sequence[float],
    k: int,
    *,
    concurrency: int = 16,
) -> tuple[list[int], list[Record]]:
    """Indexes of the measured items (those not teacher-graded) and their records."""
    cuts = (service.config.partially_correct_at, service.config.correct_at)
    chosen = picks(dataset, predicted, k, cuts)
    taught = {qid: [dataset.items[i] for i in rows] for qid, rows in chosen.items()}
    return await grade_with_exemplars(service, dataset, taught, concurrency=concurrency)


def exemplars_from(dataset: Dataset, graded: Dataset) -> dict[str, list[Item]]:
    """The graded answers of another split to the same questions (SAF training for
    unseen_answers), as each question's exemplars."""
    return {
        qid: [i for i in graded.items if i.question_id == qid]
        for qid in dataset.questions
        if qid in graded.questions
    }


async def grade_with_exemplars(
    service: GradingService,
    dataset: Dataset,
    exemplars: dict[str, list[Item]],
    *,
    concurrency: int = 16,
) -> tuple[list[int], list[Record]]:
    """Grade the dataset's items that are not exemplars, with those exemplars set."""
    cuts = (service.config.partially_correct_at, service.config.correct_at)
    rubrics = {qid: await rubric_for(service, q) for qid, q in dataset.questions.items()}
    for qid, items in exemplars.items():
        lesson, question = rubrics[qid]
        max_score = dataset.questions[qid].max_score
        graded = []
        for item in items:
            percent = item.score / max_score if max_score else 0.0
            label = _label(item, percent, cuts)
            graded.append(GradedAnswer(item.answer, percent, label, source="teacher"))
        await service.set_exemplars(lesson, question, graded)
    taught = {id(item) for items in exemplars.values() for item in items}
    measured = [i for i, item in enumerate(dataset.items) if id(item) not in taught]
    rest = Dataset(dataset.name, dataset.questions, [dataset.items[i] for i in measured])
    try:
        records = await grade_dataset(service, rest, concurrency=concurrency)
    finally:
        for lesson, question in rubrics.values():
            await service.set_exemplars(lesson, question, [])
    return measured, records
