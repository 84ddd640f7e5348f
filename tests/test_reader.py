"""The reader: synthetic contradictions, batching, the verdicts it decides, and the real model
(a tiny training run of the real training code; the shipped weights against their card)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from graders.core.config import GradingConfig
from graders.core.result import Status
from graders.evaluation.contradictions import contradict, negate, reword, swap_antonym
from graders.evaluation.reader_pairs import COVERS, lesson_pairs, negation_pairs, reworded_pairs
from graders.evaluation.semeval import datasets_dir
from graders.scoring.reader_grader import PHRASINGS, ReaderGrader
from graders.verdict.reader_verdicts import (
    CONTRADICTED,
    confirm,
    disagrees,
    key_point_credit,
    key_point_verdict,
    lean,
)
from models.reader import SHIPPED, Reading, load_reader
from models.reader_network import pair_ids
from rubrics import load_lessons

LESSON = load_lessons()["instruction-tuning"]
SC1 = LESSON.question("sc-1")
assert SC1 is not None


def reading(covers: float, contradicts: float, neither: float, score: float = 0.5) -> Reading:
    return Reading(covers, contradicts, neither, 0.3, 0.3, 0.4, score)


def test_negation_adds_or_drops_not() -> None:
    assert negate("the base weights are frozen") == "the base weights are not frozen"
    assert negate("a base model does not follow instructions") == (
        "a base model does follow instructions"
    )
    assert negate("it doesn't learn new facts") == "it does learn new facts"
    assert negate("LoRA trains small matrices") is None


def test_antonym_swap_and_contradict_always_change_the_text() -> None:
    rng = random.Random(0)
    assert swap_antonym("the voltage increases", rng) == "the voltage decreases"
    for text in ("pretraining takes more compute", "SFT is cheaper", "it is open"):
        flipped = contradict(text, rng)
        assert flipped is not None and flipped != text


def _negated(text: str) -> bool:
    return any(w in {"not", "never", "no"} or w.endswith("n't") for w in text.lower().split())


def test_negation_pairs_cover_a_statement_negated_on_both_sides() -> None:
    found = negation_pairs(
        "the base weights are frozen", ["the original weights are frozen", "LoRA trains"]
    )
    assert [(e.first, e.second) for e in found] == [
        ("the base weights are not frozen", "the base weights are not frozen"),
        ("the base weights are not frozen", "the original weights are not frozen"),
    ]
    assert all(e.relation == COVERS and e.source == "negation" for e in found)
    assert negation_pairs("LoRA trains small matrices", ["it trains"]) == []
    # The switch is off by default: the shipped recipe's lesson pairs have none.
    plain = lesson_pairs([LESSON], random.Random(0))
    with_negation = lesson_pairs([LESSON], random.Random(0), negation=True)
    assert not [e for e in plain if e.source == "negation"]
    added = [e for e in with_negation if e.source == "negation"]
    assert added and len(with_negation) == len(plain) + len(added)
    assert all(e.relation == COVERS for e in added)
    assert any(_negated(e.first) and _negated(e.second) for e in added)


def test_reworded_says_the_same_the_other_way_round() -> None:
    assert reword("the voltage is higher across R1") == "the voltage is not lower across R1"
    assert reword("the switch is not open") == "the switch is closed"
    # Only where "not" leaves no middle, and only the word right after the auxiliary verb.
    assert reword("the base weights are frozen") is None
    assert reword("LoRA adds small matrices") is None
    assert reword("when the string is longer, the pitch is lower") == (
        "when the string is longer, the pitch is not higher"
    )
    found = reworded_pairs("the current is larger", ["it is bigger in A", "A gets more"])
    assert [(e.second, e.relation, e.source) for e in found] == [
        ("the current is not smaller", COVERS, "reworded"),
        ("it is not smaller in A", COVERS, "reworded"),
    ]


class _Tokenizer:
    def __init__(self, cls: int | None, sep: int | None, specials: int) -> None:
        self.cls_token_id, self.sep_token_id, self.eos_token_id = cls, sep, 2
        self.specials = specials

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return self.specials


def test_pair_ids_build_each_encoder_s_pair_and_cut_longest_first() -> None:
    bert, mpnet, decoder = _Tokenizer(101, 102, 3), _Tokenizer(0, 2, 4), _Tokenizer(None, None, 0)
    assert pair_ids(bert, [5, 6], [7], 16) == ([101, 5, 6, 102, 7, 102], 4)
    assert pair_ids(mpnet, [5, 6], [7], 16) == ([0, 5, 6, 2, 2, 7, 2], 5)
    assert pair_ids(decoder, [5, 6], [7], 16) == ([5, 6, 2, 7, 2], 3)
    assert pair_ids(bert, [5, 6, 8, 9], [7, 3], 7) == ([101, 5, 6, 102, 7, 3, 102], 4)


class CountingReader:
    """A Reader that records its calls: what batching does, not what the model says."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def read(self, pairs: Sequence[tuple[str, str]]) -> list[Reading]:
        self.calls.append(len(pairs))
        return [reading(0.9 if "pretraining" in b else 0.1, 0.0, 0.1) for _, b in pairs]


def test_concurrent_reads_share_forward_passes_and_keep_their_order() -> None:
    backend = CountingReader()
    grader = ReaderGrader(backend)
    answers = [f"answer {i} about pretraining" if i % 2 else f"answer {i}" for i in range(8)]

    async def run() -> list[float]:
        found = await asyncio.gather(*(grader.read(SC1, a) for a in answers))
        return [r.answer.covers for r in found]

    covers = asyncio.run(run())
    assert covers == [0.9 if i % 2 else 0.1 for i in range(8)]
    # Half the answers are clearly covered (0.9) by every text: their phrasings go unread.
    points = [*SC1.key_points, *SC1.misconceptions]
    phrasings = sum(len([t for t in p.phrasings if t != p.text][:PHRASINGS]) for p in points)
    assert sum(backend.calls) == 8 * (len(points) + 1) + 4 * phrasings
    assert len(backend.calls) < 16  # batched: fewer calls than the answers' two reads


def test_only_the_misconceptions_asked_about_are_read() -> None:
    backend = CountingReader()
    asked = SC1.misconceptions[0]
    found = asyncio.run(ReaderGrader(backend).read(SC1, "an answer", misconceptions=[asked.id]))
    assert list(found.misconceptions) == [asked.id]
    assert set(found.key_points) == {k.id for k in SC1.key_points}
    # Nothing is clearly covered (0.1): every point read gets its phrasings read too.
    points = [*SC1.key_points, asked]
    phrasings = sum(len([t for t in p.phrasings if t != p.text][:PHRASINGS]) for p in points)
    assert sum(backend.calls) == len(points) + 1 + phrasings


def test_contradiction_is_advice_until_the_reader_has_a_share() -> None:
    kp = SC1.key_points[0]
    advice = GradingConfig(reader_key_point_weight=0, reader_contradicts=0.8)
    shared = GradingConfig(reader_key_point_weight=0.5, reader_contradicts=0.8)
    opposite = reading(0.1, 0.85, 0.05)
    verdict = key_point_verdict(opposite, advice)
    assert verdict.status is Status.MISSING and verdict.flagged == CONTRADICTED
    assert key_point_credit(kp, 0.9, opposite, advice) == (0.9, None)
    assert disagrees(0.9, opposite, advice) and not disagrees(0.0, opposite, advice)
    credit, feedback = key_point_credit(kp, 0.9, opposite, shared)
    assert credit == 0.0 and feedback is not None and "opposite" in feedback
    credit, feedback = key_point_credit(kp, 0.9, reading(0.9, 0.05, 0.05), shared)
    assert feedback is None and credit == pytest.approx(0.9)
    credit, _ = key_point_credit(kp, 0.3, reading(0.05, 0.05, 0.9), shared)
    assert credit == pytest.approx(0.175)  # below raise_from its reading lowers the credit


def test_the_reader_moves_a_credit_only_the_way_the_other_graders_lean() -> None:
    kp = SC1.key_points[0]
    config = GradingConfig(reader_key_point_weight=0.5, reader_raise_from=0.4)
    covers, neither = reading(0.9, 0.05, 0.05), reading(0.05, 0.05, 0.9)
    assert key_point_credit(kp, 0.5, covers, config)[0] == pytest.approx(0.7)  # raised
    assert key_point_credit(kp, 0.5, neither, config)[0] == 0.5  # not lowered
    assert key_point_credit(kp, 0.2, covers, config)[0] == 0.2  # not raised
    assert key_point_credit(kp, 0.2, neither, config)[0] == pytest.approx(0.125)  # lowered
    assert lean(0.6, 0.0, 0.3, 0.25) == 0.6 and lean(0.2, 0.0, 0.3, 0.25) == 0.14


def test_graded_answers_close_to_an_answer_outweigh_the_reader() -> None:
    kp = SC1.key_points[0]
    config = GradingConfig(reader_key_point_weight=0.5, reader_raise_from=0.4)
    covers = reading(0.9, 0.05, 0.05)
    alone, _ = key_point_credit(kp, 0.5, covers, config)
    voted, _ = key_point_credit(kp, 0.5, covers, config, voted=0.8)
    assert voted == pytest.approx(0.5 + 0.1 * 0.4) and voted < alone
    assert key_point_credit(kp, 0.5, covers, config, voted=1.0)[0] == 0.5


def test_a_misconception_the_reader_reads_as_denied_goes_to_review() -> None:
    from graders.core.result import MisconceptionResult
    from graders.scoring.reader_grader import Readings

    config = GradingConfig()
    ids = [m.id for m in SC1.misconceptions]
    found = [
        MisconceptionResult(
            id=i,
            text=i,
            confidence=0.9,
            evidence=None,
            feedback="f",
            lesson_key_point=None,
            graders=["embedding"],
        )
        for i in ids[:3]
    ]
    said = {ids[0]: reading(0.9, 0.05, 0.05), ids[1]: reading(0.1, 0.85, 0.05)}
    said[ids[2]] = reading(0.45, 0.1, 0.45)
    readings = Readings({}, said, reading(0, 0, 1))
    kept, reasons = confirm(found, readings, config)
    assert [m.id for m in kept] == ids[:3]
    assert kept[0].graders == ["embedding", "reader"] and kept[2].graders == ["embedding"]
    assert len(reasons) == 1 and ids[1] in reasons[0] and "contradicting" in reasons[0]
    kept, _ = confirm(found, readings, GradingConfig(reader_key_point_weight=0.5))
    assert [m.id for m in kept] == ids[:3]  # even with a share, a denial is only advice


@pytest.mark.integration
def test_tiny_training_run_writes_a_loadable_reader_with_its_card(tmp_path: Path) -> None:
    """The real training code, a few steps on a few real pairs."""
    if not (datasets_dir() / "semeval2013").is_dir():
        pytest.skip(f"datasets not found in {datasets_dir()}")
    from graders.evaluation.reader_release import train_reader

    card = train_reader(
        tmp_path / "r",
        [LESSON],
        max_steps=3,
        sample=48,
        test_sample=4,
        progress=False,
    )
    assert card["training"]["steps"] == 3 and card["seed"] == 13
    assert any("SemEval" in entry["dataset"] for entry in card["licences"])
    reader = load_reader(tmp_path / "r")
    assert reader.name == f"rubricate-reader@{card['weights_sha256_12']}"
    [r] = reader.read([("a base model continues text", "it just continues the text")])
    assert r.covers + r.contradicts + r.neither == pytest.approx(1.0, abs=1e-4)
    assert 0.0 <= r.score <= 1.0


@pytest.mark.integration
def test_shipped_weights_reproduce_their_card() -> None:
    if not (datasets_dir() / "semeval2013").is_dir():
        pytest.skip(f"datasets not found in {datasets_dir()}")
    from graders.evaluation.reader_eval import test_figures

    card = json.loads((SHIPPED / "reader.json").read_text())
    reader = load_reader()
    assert reader.name.endswith(card["weights_sha256_12"])
    figures = test_figures(reader, per_folder=card["test_sample"])
    for folder, expected in card["test_figures"].items():
        for name, value in expected.items():
            assert figures[folder][name] == pytest.approx(value, abs=0.02), (folder, name)


@pytest.mark.integration
def test_the_shipped_reader_tells_a_statement_from_its_opposite_and_from_off_topic() -> None:
    reader = load_reader()
    point = "A base model continues text; it does not follow instructions."
    same, opposite, off = reader.read(
        [
            (point, "The base model just keeps writing the text instead of doing what you ask."),
            (point, "A base model follows your instructions and answers questions."),
            (point, "LoRA trains small low-rank matrices while the base weights stay fixed."),
        ]
    )
    assert same.covers > max(same.contradicts, same.neither)
    assert opposite.covers < same.covers
    assert off.covers < 0.5
