"""Alignment and word-overlap features, and label cut points (no model: hand-made vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from graders.calibration.features import FEATURES, content_words, new_word_overlap
from graders.core.config import GradingConfig
from graders.core.result import Label
from graders.evaluation.calibration_fit import fit_cuts, fit_entry
from graders.language.rubric_from_reference import adhoc_lesson
from graders.scoring.embedding_grader import EmbeddingGrader, align
from models.batching import BatchingEmbedder
from models.embedder import Embedder, TokenVectors


def _tokens(*rows: list[float], ids: tuple[int, ...] | None = None) -> TokenVectors:
    vectors = np.array(rows, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return TokenVectors(vectors, ids or tuple(range(len(rows))))


def test_alignment_precision_recall_and_question_demoting() -> None:
    reference = _tokens([1, 0, 0], [0, 1, 0], [0, 0, 1], ids=(10, 11, 12))
    question = _tokens([1, 0, 0], ids=(10,))
    # The answer repeats the question's word (10) and one new reference word (11).
    answer = _tokens([1, 0, 0], [0, 1, 0], ids=(10, 11))
    found = align(answer, reference, question)
    assert found.precision == pytest.approx(1.0)
    assert found.recall == pytest.approx(2 / 3)
    assert found.f1 == pytest.approx(0.8)
    assert found.recall_new == pytest.approx(0.5)  # 11 of the new words {11, 12}
    echo = align(_tokens([1, 0, 0], ids=(10,)), reference, question)
    assert echo.recall_new == pytest.approx(0.0)
    assert echo.recall == pytest.approx(1 / 3)


def test_alignment_of_an_empty_answer_is_zero() -> None:
    reference = _tokens([1, 0], ids=(1,))
    empty = TokenVectors(np.zeros((0, 2), dtype=np.float32), ())
    assert align(empty, reference, reference).f1 == 0.0


def test_new_word_overlap_ignores_the_question_and_function_words() -> None:
    question = "What does the control plane do?"
    reference = "The control plane computes routes and updates flow tables."
    assert content_words("The tables are updated") == {"tabl", "updat"}
    recall, precision = new_word_overlap("The control plane does things", reference, question)
    assert recall == 0.0 and precision == 0.0
    recall, precision = new_word_overlap("It updates the flow table", reference, question)
    # new words: comput, rout, updat, flow, tabl; said: updat, flow, tabl
    assert recall == pytest.approx(3 / 5)
    assert precision == pytest.approx(1.0)
    assert new_word_overlap("", reference, question) == (0.0, 0.0)


def test_cuts_maximise_macro_f1_and_label_by_score() -> None:
    scores = np.array([0.1, 0.2, 0.5, 0.55, 0.9, 0.95])
    labels = np.array([0, 0, 1, 1, 2, 2], dtype=np.int64)
    low, high = fit_cuts(scores, labels)
    assert 0.2 < low <= 0.5 and 0.55 < high <= 0.9
    rng = np.random.default_rng(0)
    quality = rng.uniform(0, 1, 300)
    rows = [{name: 0.0 for name in FEATURES} | {"cos_ref": float(q)} for q in quality]
    answer_labels = [
        Label.CORRECT if q > 0.7 else Label.PARTIALLY_CORRECT if q > 0.3 else Label.INCORRECT
        for q in quality
    ]
    entry = fit_entry(rows, list(quality), answer_labels, list(FEATURES), kind="linear+cuts")
    assert entry.label["kind"] == "cuts"
    probe = [{"cos_ref": 0.05}, {"cos_ref": 0.5}, {"cos_ref": 0.95}]
    picked = [p.label for p in entry.predict(probe)]
    assert picked == [Label.INCORRECT, Label.PARTIALLY_CORRECT, Label.CORRECT]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.integration
@pytest.mark.anyio
async def test_alignment_with_the_real_model(embedder: Embedder) -> None:
    batching = BatchingEmbedder(embedder)
    grader = EmbeddingGrader(batching, GradingConfig())
    question = "What does the data plane of an SDN do?"
    reference = "The data plane forwards packets according to the flow tables."
    right = await grader.alignment(
        "Switches forward packets using flow tables.", reference, question
    )
    echo = await grader.alignment("What does the data plane of an SDN do?", reference, question)
    off = await grader.alignment("I like pizza with extra cheese.", reference, question)
    await batching.aclose()
    assert right is not None and echo is not None and off is not None
    assert right.recall_new > echo.recall_new
    assert right.f1 > off.f1
    assert 0.0 < off.f1 < right.f1 <= 1.0


@pytest.mark.integration
@pytest.mark.anyio
async def test_any_two_of_several_alternatives_with_the_real_model(embedder: Embedder) -> None:
    """'Describe two benefits' above a list of four: two benefits meet the point, one does
    not, and which two does not matter."""
    batching = BatchingEmbedder(embedder)
    grader = EmbeddingGrader(batching, GradingConfig())
    reference = (
        "Benefits:\n- The switches are simpler.\n- Routing converges faster with a global view."
        "\n- The network can be programmed through an API.\n- New routing logic can be deployed"
        " on the fly."
    )
    lesson = adhoc_lesson("Describe two benefits of SDN.", reference)
    question = lesson.questions[0]
    (point,) = question.key_points
    assert point.needs == 2 and len(point.alternatives) == 4
    await grader.prepare_question(lesson)

    async def similarity(answer: str) -> float:
        return (await grader.match(lesson.id, question, answer))[point.id].similarity

    two = await similarity("Switches become simpler. The network is programmable via an API.")
    other_two = await similarity(
        "With a global view routing converges faster. New logic is deployed on the fly."
    )
    one = await similarity("Switches become simpler.")
    off = await similarity("I like pizza with extra cheese.")
    await batching.aclose()
    assert min(two, other_two) > one + 0.1, (two, other_two, one)
    assert one > off
