"""Grading that reads: no right answer told it is wrong, and exemplars that teach the grader.

The real embedding model through the real GradingService, on the lesson's rubric (with
its exemplars) and on the lesson answer bank in tests/data/lesson_answers.jsonl, which
is kept apart from the exemplars.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.runtime import Backends, load_all_lessons, runtime
from graders.core.result import GradeResult
from graders.evaluation.bank import overlap, read_bank, summarize
from graders.scoring.exemplar_vote import GradedAnswer
from graders.service.grading_service import GradingService
from models.embedder import Embedder
from tests.conftest import DATA, make_settings

pytestmark = pytest.mark.integration

BANK = DATA / "lesson_answers.jsonl"
LESSON = "instruction-tuning"

# Measured with all-MiniLM-L6-v2, embeddings only (python -m bench.lesson_bank): 130/178
# labels right (73.0%), 4 off by two, no right or partly right answer told it holds a
# misconception. The floors sit a little under, so CPU noise passes and a regression fails.
ACCURACY_FLOOR = 0.68
OFF_BY_TWO_MAX = 6
QUESTION_FLOOR = 0.35  # no question of the lesson may fall below this share right


class Service:
    """A GradingService on its own event loop, for synchronous tests."""

    def __init__(self, embedder: Embedder, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        settings = make_settings(tmp_path)
        self._context = runtime(settings, load_all_lessons(settings), Backends(embedder=embedder))
        self.service: GradingService = self.loop.run_until_complete(
            self._context.__aenter__()
        ).service

    def grade(self, question_id: str, answer: str, lesson: str = LESSON) -> GradeResult:
        return self.loop.run_until_complete(self.service.grade(lesson, question_id, answer))

    def run(self, awaitable: object) -> object:
        return self.loop.run_until_complete(awaitable)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.run_until_complete(self._context.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def graded(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = Service(embedder, tmp_path_factory.mktemp("reads"))
    yield service
    service.close()


# Right or partly right answers that a bi-encoder took for their opposite misconception.
HARMLESS = [
    (
        "sc-4",
        "LoRA keeps the original weights fixed and only trains some small extra matrices.",
        "lora-updates-all",
    ),
    ("sc-6", "Because SFT needs much less data than pretraining.", "sft-more-data"),
    (
        "sc-2",
        "Because the knowledge is already in the base model from pretraining. SFT with a few "
        "thousand examples only teaches it when to use that knowledge, basically the shape of "
        "the response, not new facts.",
        "sft-adds-knowledge",
    ),
    (
        "fc-8",
        "SFT teaches what to predict but not what not to predict: every example is a positive "
        "one, so there is no negative signal.",
        "sft-has-negatives",
    ),
]


@pytest.mark.parametrize(("question", "answer", "misconception"), HARMLESS)
def test_a_right_answer_is_not_told_it_holds_the_opposite(
    graded: Service, question: str, answer: str, misconception: str
) -> None:
    result = graded.grade(question, answer)
    assert misconception not in {m.id for m in result.misconceptions}
    assert result.label.value != "incorrect", result.percent
    assert "misconception" not in result.feedback.summary.lower()
    for m in result.misconceptions:
        assert m.feedback not in result.feedback.summary


@pytest.mark.parametrize(("question", "answer", "misconception"), HARMLESS)
def test_a_misconception_left_out_says_why(
    graded: Service, question: str, answer: str, misconception: str
) -> None:
    result = graded.grade(question, answer)
    for reason in result.review_reasons:
        if misconception in reason:
            assert "not asserted" in reason and result.needs_review


@pytest.mark.parametrize(
    ("question", "answer", "misconception"),
    [
        ("sc-4", "LoRA updates all of the model's weights, just faster.", "lora-updates-all"),
        ("sc-6", "It shows that SFT needs more data than pretraining.", "sft-more-data"),
        ("sc-2", "SFT teaches the model new facts it did not know.", "sft-adds-knowledge"),
    ],
)
def test_a_stated_misconception_is_still_found(
    graded: Service, question: str, answer: str, misconception: str
) -> None:
    result = graded.grade(question, answer)
    assert misconception in {m.id for m in result.misconceptions}
    assert result.label.value != "correct"


def test_off_topic_answer_sharing_words_earns_nothing(graded: Service) -> None:
    result = graded.grade(
        "sc-4", "LoRA is a long-range radio protocol used by low-power IoT sensors."
    )
    assert result.label.value == "incorrect", result.percent


def test_an_answer_close_to_an_exemplar_gets_its_verdicts(graded: Service) -> None:
    lesson = graded.service.lessons[LESSON]
    question = lesson.question("sc-4")
    assert question is not None and question.exemplars
    exemplar = next(e for e in question.exemplars if e.label.value == "correct")
    result = graded.grade("sc-4", exemplar.answer)
    assert result.label.value == "correct"
    assert result.graders["exemplars"].state == "used"
    assert result.versions.exemplar_set == graded.service.exemplars.set_id(LESSON, "sc-4") != "none"
    met = {k.id for k in result.key_points if k.status.value == "met"}
    assert set(exemplar.meets) <= met


def test_teacher_graded_answers_teach_a_paraphrase(graded: Service) -> None:
    """A corrected answer, paraphrased by another student, gets the corrected grade."""
    service = graded.service
    lesson = service.lessons[LESSON]
    question = lesson.question("fc-6")
    assert question is not None
    answer = "LoRA is a trick where you bolt tiny trainable side-matrices onto a frozen network."
    paraphrase = "LoRA: you bolt small trainable side matrices onto a network that stays frozen."
    before = graded.grade("fc-6", paraphrase)
    teacher = GradedAnswer(
        answer, 1.0, "correct", {k.id: 1.0 for k in question.key_points}, source="teacher"
    )
    set_id = graded.run(service.set_exemplars(lesson, question, [teacher]))
    try:
        after = graded.grade("fc-6", paraphrase)
        assert after.versions.exemplar_set == set_id != before.versions.exemplar_set
        assert after.percent > before.percent
        assert after.label.value == "correct"
    finally:
        graded.run(service.set_exemplars(lesson, question, []))


def test_the_bank_is_kept_apart_from_the_exemplars(graded: Service) -> None:
    bank = read_bank(BANK)
    assert not overlap(bank, graded.service.lessons)
    counts: dict[str, int] = {}
    for row in bank:
        counts[row.question_id] = counts.get(row.question_id, 0) + 1
    lesson = graded.service.lessons[LESSON]
    for q in lesson.questions:
        need = 10 if q.kind.value == "self-check" else 4
        assert counts.get(q.id, 0) >= need, q.id
        assert q.exemplars, q.id


def test_the_lesson_answer_bank_meets_its_floors(graded: Service) -> None:
    bank = read_bank(BANK)
    summary = summarize([(row, graded.grade(row.question_id, row.answer)) for row in bank])
    print("\n".join(summary.lines()))
    assert summary.accuracy >= ACCURACY_FLOOR
    assert len(summary.off_by_two) <= OFF_BY_TWO_MAX
    assert not summary.harmed, summary.harmed
    for qid, (right, n) in summary.per_question.items():
        assert right / n >= QUESTION_FLOOR, (qid, right, n)
