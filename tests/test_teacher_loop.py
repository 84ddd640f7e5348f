"""The teacher-in-the-loop simulation (bench/teacher_loop.py) on a small question: the real
store, review path, queue and regrade with the real embedding model, and the figures made
from its curves."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.runtime import Backends, runtime
from bench.teacher_loop import (
    Curve,
    Gold,
    Picker,
    Point,
    class_curve,
    open_accuracy,
    queue_picker,
    random_picker,
    reviewed_to_reach,
    simulate,
)
from graders.core.result import Label
from graders.service.grading_service import GradingService
from graders.store.grade_rows import StoredGrade
from graders.workflow.grade_book import GradeBook
from models.embedder import Embedder
from rubrics import Lesson, Question, load_lessons
from tests.conftest import DATA, make_settings

pytestmark = pytest.mark.integration

TAUGHT = "photons, h2o, co2 in; c6h12o6 and o2 out"
PARAPHRASE = "photons, H2O and CO2 go in; C6H12O6 and O2 come out"
OTHERS = [
    "Plants need light and water and they make oxygen.",
    "Plants breathe in oxygen at night.",
    "It makes glucose from carbon dioxide, water and light, and oxygen goes out.",
    "Chlorophyll is green.",
]
TEXTS = [TAUGHT, PARAPHRASE, *OTHERS]


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture()
async def service(tmp_path: Path, embedder: Embedder) -> AsyncIterator[GradingService]:
    settings = make_settings(tmp_path)
    lessons = load_lessons([DATA / "lessons"])
    async with runtime(settings, lessons, Backends(embedder=embedder)) as state:
        yield state.service


async def _labels(service: GradingService, answers: list[str]) -> list[Label]:
    return [(await service.grade("demo-photosynthesis", "q1", a)).label for a in answers]


async def _simulate(
    service: GradingService,
    answers: list[tuple[str, str, Gold]],
    pick: Picker,
    *,
    learn: bool,
    database: Path,
    every: int = 1,
) -> Curve:
    """One teacher working through ``answers`` to demo-photosynthesis q1."""
    lesson, question = service.find("demo-photosynthesis", "q1")
    return await simulate(
        service, lesson, question, answers, pick, learn=learn, every=every, database=database
    )


def in_order(*students: str) -> Picker:
    """A picker reviewing the given students first, one at a time, then the rest."""

    async def pick(
        book: GradeBook, lesson: Lesson, question: Question, waiting: list[StoredGrade], room: int
    ) -> list[str]:
        rank = {s: i for i, s in enumerate(students)}
        first = sorted(waiting, key=lambda g: rank.get(str(g.student_id), len(rank)))
        return [first[0].id]

    return pick


@pytest.mark.anyio
async def test_a_review_teaches_the_paraphrase_at_the_regrade(
    service: GradingService, tmp_path: Path
) -> None:
    ai = await _labels(service, TEXTS)
    assert Label.CORRECT not in ai[:2]
    # The teacher says both formula answers are correct; every other AI label is right.
    answers = [("taught", TAUGHT, Gold(Label.CORRECT, 1.0))]
    answers += [("paraphrase", PARAPHRASE, Gold(Label.CORRECT, 1.0))]
    others = zip(OTHERS, ai[2:], strict=True)
    answers += [(f"s{i}", a, Gold(label, 0.5)) for i, (a, label) in enumerate(others)]
    pick = in_order("taught")
    learned = await _simulate(service, answers, pick, learn=True, database=tmp_path / "a.db")
    plain = await _simulate(service, answers, pick, learn=False, database=tmp_path / "b.db")
    total = len(answers)
    assert learned.points[0] == plain.points[0] == Point(0, total - 2, total - 2, total)
    # One review: the reviewed answer counts as right, and after the regrade the
    # paraphrase (another student's) has the teacher's label too; without learning it has not.
    assert learned.points[1].reviewed == plain.points[1].reviewed == 1
    assert learned.points[1].right == total
    assert plain.points[1].right == total - 1
    assert learned.points[-1] == plain.points[-1] == Point(total, total, 0, 0)
    # What was learned is forgotten at the end of a run: the next one starts afresh.
    assert await _labels(service, [PARAPHRASE]) == ai[1:2]


@pytest.mark.anyio
async def test_no_learning_reaches_all_right_only_when_all_are_reviewed(
    service: GradingService, tmp_path: Path
) -> None:
    ai = await _labels(service, TEXTS)
    # Every AI label is wrong: only reviewing makes a label right.
    wrong = {Label.CORRECT: Label.INCORRECT}
    answers = [
        (f"s{i}", a, Gold(wrong.get(label, Label.CORRECT), 0.0))
        for i, (a, label) in enumerate(zip(TEXTS, ai, strict=True))
    ]
    curve = await _simulate(
        service, answers, random_picker(3), learn=False, every=1, database=tmp_path / "c.db"
    )
    assert [p.reviewed for p in curve.points] == list(range(len(TEXTS) + 1))
    assert all(p.right == p.reviewed for p in curve.points)
    shares = class_curve([curve])
    assert all(b[1] >= a[1] for a, b in itertools.pairwise(shares))  # monotone
    assert reviewed_to_reach(shares, 1.0) == 1.0
    assert open_accuracy([curve], 3) == 0.0


@pytest.mark.anyio
async def test_the_real_queue_reviews_every_answer_once(
    service: GradingService, tmp_path: Path
) -> None:
    answers = [(f"s{i}", a, Gold(Label.PARTIALLY_CORRECT, 0.5)) for i, a in enumerate(TEXTS)]
    curve = await _simulate(service, answers, queue_picker, learn=True, database=tmp_path / "d.db")
    reviewed = [p.reviewed for p in curve.points]
    assert reviewed == sorted(set(reviewed)) and reviewed[-1] == len(TEXTS)
    assert 5 in reviewed  # a checkpoint is never stepped over
    assert all(p.right >= p.reviewed for p in curve.points)  # reviewed ones are right
    assert curve.points[-1].right == len(TEXTS)


def test_class_figures_from_curves() -> None:
    a = Curve(4, [Point(0, 2, 2, 4), Point(2, 3, 1, 2), Point(4, 4, 0, 0)])
    b = Curve(4, [Point(0, 1, 1, 4), Point(1, 3, 2, 3), Point(3, 4, 1, 1), Point(4, 4, 0, 0)])
    shares = class_curve([a, b])
    # After n per question: a's state at n (or the last before it), b's likewise.
    assert shares == [(0.0, 3 / 8), (1 / 8, 5 / 8), (3 / 8, 6 / 8), (5 / 8, 7 / 8), (1.0, 1.0)]
    assert reviewed_to_reach(shares, 0.75) == 3 / 8
    assert open_accuracy([a, b], 1) == (2 + 2) / (4 + 3)
