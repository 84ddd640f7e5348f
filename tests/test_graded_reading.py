"""Teacher-graded answers teach the reader: on a new (inline, calibrated) question, the
graded answers nearest a new answer are read against it and vote (``reader_graded_weight``),
at most ``reader_graded_nearest`` of them, so a question with many reviews costs no more.

The real embedding model and the shipped reader; the question and every answer are written
for this test (a subject no lesson or dataset here holds)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.runtime import Backends, load_all_lessons, runtime
from graders.scoring.exemplar_vote import GradedAnswer
from models.embedder import Embedder
from models.reader import Reader, Reading, load_reader
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

PROMPT = "Why does a vacuum flask keep a hot drink hot for hours?"
REFERENCE = (
    "The vacuum between its two walls stops heat leaving by conduction and convection, and "
    "the silvered walls reflect heat radiation back in."
)
CLOSE = (  # graded right by the teacher, and close to the new answer
    "There is nothing in the gap to carry heat across, and the shiny walls bounce the heat "
    "back inside.",
    "Heat cannot cross the empty gap between the walls, and the mirror walls send it back.",
)
FAR = (  # graded wrong, about other things
    ("The lid keeps the steam in so the drink cannot cool.", 0.0),
    ("Its thick plastic case stores the warmth like a battery.", 0.0),
    ("Hot drinks stay hot because water holds heat well.", 0.0),
    ("The vacuum stops conduction.", 0.5),
)
NEW = "Nothing is in the gap to carry the heat out, and the shiny walls bounce it back."


class Recording:
    """The shipped reader, noting every pair it is asked to read."""

    def __init__(self, reader: Reader) -> None:
        self.reader, self.name = reader, reader.name
        self.pairs: list[tuple[str, str]] = []

    def read(self, pairs: Sequence[tuple[str, str]]) -> list[Reading]:
        self.pairs += list(pairs)
        return self.reader.read(pairs)


def _grade(embedder: Embedder, reader: Recording, tmp: Path, weight: float) -> float:
    grading = {"reader_graded_weight": weight, "reader_graded_nearest": 2}
    settings = make_settings(tmp, grading=grading)

    async def run() -> float:
        backends = Backends(embedder=embedder, reader=reader)
        async with runtime(settings, load_all_lessons(settings), backends) as state:
            service = state.service
            lesson = await service.inline_lesson(PROMPT, REFERENCE, 1.0, "flask")
            question = lesson.questions[0]
            graded = [GradedAnswer(a, 1.0, "correct", source="teacher") for a in CLOSE]
            graded += [
                GradedAnswer(a, p, "incorrect" if p == 0 else "partially correct", source="teacher")
                for a, p in FAR
            ]
            await service.set_exemplars(lesson, question, graded)
            reader.pairs.clear()
            result, _ = await service.grade_question(lesson, question, NEW)
            return result.score

    return asyncio.run(run())


@pytest.fixture(scope="module")
def shipped() -> Reader:
    return load_reader()


def test_the_nearest_graded_answers_are_read_and_vote(
    embedder: Embedder, shipped: Reader, tmp_path: Path
) -> None:
    reader = Recording(shipped)
    without = _grade(embedder, reader, tmp_path / "a", 0.0)
    graded_texts = set(CLOSE) | {a for a, _ in FAR}
    assert not [p for p in reader.pairs if p[0] in graded_texts]  # weight 0: none read
    with_vote = _grade(embedder, reader, tmp_path / "b", 0.5)
    read = [first for first, second in reader.pairs if first in graded_texts]
    assert sorted(read) == sorted(CLOSE)  # the two nearest of six, each read once
    assert all(second == NEW for first, second in reader.pairs if first in graded_texts)
    print("score without the graded vote", without, "with it", with_vote)
    assert with_vote > without


def test_the_reader_shares_only_a_question_new_to_the_calibration() -> None:
    """A SAF training question has its own model in the shipped calibration: the reader's
    share leaves its grade as it was. The same answer to a new question moves with it.
    (The graded vote, (1.0, 1.0), has weight 0 in both configs.)"""
    from graders.calibration.calibrated_grade import calibrated_score
    from graders.calibration.calibration_file import DEFAULT_FILE, load_calibration
    from graders.core.config import GradingConfig
    from graders.evaluation.datasets import read_dataset
    from graders.scoring.reader_grader import Readings
    from rubrics import Question, load_lessons
    from tests.conftest import dataset_dir

    calibration = load_calibration(DEFAULT_FILE)
    entry = next(e for e in calibration.entries.values() if e.known is not None)
    seen = next(iter(read_dataset(dataset_dir("saf", "training")).questions.values()))
    new = load_lessons()["instruction-tuning"].questions[0]  # no calibration has seen it
    known = new.model_copy(
        update={"prompt": seen.prompt, "reference_answer": seen.reference_answer}
    )
    values = {name: 0.5 for name in entry.features}
    wrong = Reading(0.05, 0.05, 0.9, 0.01, 0.04, 0.95, 0.03)  # the reader: wrong
    readings = Readings(key_points={}, misconceptions={}, answer=wrong)
    off, on = GradingConfig(), GradingConfig(reader_calibrated_weight=0.5)

    def score(question: Question, config: GradingConfig) -> float:
        found = calibrated_score(
            question, entry, values, None, None, calibration, config, readings, (1.0, 1.0)
        )
        return found.percent

    assert score(known, on) == score(known, off)
    assert score(new, on) < score(new, off) - 0.2
