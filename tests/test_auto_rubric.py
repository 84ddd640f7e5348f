"""Rubrics from a reference answer, calibration files, dataset readers and metrics (no model)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from app.cli import cli
from graders.calibration.calibration_file import (
    Calibration,
    load_calibration,
    make_version,
    pair_key,
)
from graders.calibration.features import FEATURES
from graders.calibration.prediction import question_key
from graders.core.measures import quadratic_kappa
from graders.core.result import Label
from graders.evaluation.calibration_fit import fit_calibration_entry
from graders.evaluation.datasets import read_dataset, read_jsonl
from graders.evaluation.metrics import (
    label_figures,
    pearson,
    rouge_l,
    score_figures,
    spearman,
)
from graders.language.rubric_from_reference import adhoc_lesson, llm_key_points, split_reference
from models.llm_errors import LLMError
from models.llm_protocol import JsonRequest
from tests.conftest import dataset_dir

REFERENCE = """Possible differences:
- UDP headers are 8 bytes long while TCP headers are 20-60 bytes.
- Sequence number
Fields only in TCP:
- Acknowledgment number
Use selective forwarding instead of flooding. The table starts empty."""


def test_split_reference_items_headers_contrasts() -> None:
    points = split_reference(REFERENCE)
    texts = [p.text for p in points]
    # "Possible differences": a list of alternatives, one key point (tests/test_reference.py)
    assert texts[0].startswith("Possible differences: UDP headers are 8 bytes long")
    assert "UDP headers are 8 bytes long while TCP headers are 20-60 bytes." in points[0].phrasings
    assert "Possible differences: Sequence number" in points[0].phrasings
    assert "Fields only in TCP: Acknowledgment number" in texts
    contrast = next(p for p in points if p.text.startswith("Use selective"))
    assert "Use selective forwarding" in contrast.phrasings
    assert texts[-1] == "The table starts empty."
    assert len(texts) == len(set(texts))


def test_adhoc_lesson_is_a_valid_rubric_keyed_by_content() -> None:
    lesson = adhoc_lesson("What differs?", REFERENCE, 4.0, question_id="Q 1.2")
    question = lesson.questions[0]
    assert question.id == "q-1.2"
    assert math.isclose(question.max_score, 4.0)
    assert lesson.id.startswith("adhoc-")
    assert adhoc_lesson("What differs?", REFERENCE, 4.0, question_id="Q 1.2").id == lesson.id
    assert adhoc_lesson("What differs?", REFERENCE + " More.", 4.0).id != lesson.id


def test_long_reference_is_capped() -> None:
    reference = " ".join(f"Point number {i} matters." for i in range(30))
    assert len(split_reference(reference)) == 12


class _FakeClient:
    def __init__(self, reply: dict[str, Any] | None) -> None:
        self.reply = reply

    async def complete_json(self, request: JsonRequest) -> dict[str, Any]:
        if self.reply is None:
            raise LLMError("down")
        return self.reply


@pytest.mark.anyio
async def test_llm_key_points_add_phrasings_and_fall_back() -> None:
    reply = {"key_points": [{"text": "UDP header is shorter", "phrasings": ["8 vs 20 bytes"]}]}
    points = await llm_key_points(_FakeClient(reply), "q", REFERENCE)
    assert points[0].phrasings == ("UDP header is shorter", "8 vs 20 bytes")
    assert len(points) == 1 + len(split_reference(REFERENCE))
    fallback = await llm_key_points(_FakeClient(None), "q", REFERENCE)
    assert fallback == split_reference(REFERENCE)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _synthetic(n: int, seed: int = 0) -> tuple[list[dict[str, float]], list[float], list[Label]]:
    rng = np.random.default_rng(seed)
    rows, scores, labels = [], [], []
    for _ in range(n):
        quality = float(rng.uniform())
        row = {f: float(rng.normal()) for f in FEATURES}
        row["cos_ref"] = quality + float(rng.normal(0, 0.05))
        rows.append(row)
        scores.append(quality)
        labels.append(
            Label.CORRECT
            if quality > 0.7
            else Label.PARTIALLY_CORRECT
            if quality > 0.35
            else Label.INCORRECT
        )
    return rows, scores, labels


def test_calibration_round_trips_through_json(tmp_path: Path) -> None:
    rows, scores, labels = _synthetic(300)
    keys = [question_key("q", "a" if i % 2 else "b") for i in range(len(rows))]
    entry = fit_calibration_entry(rows, scores, labels, keys, list(FEATURES))
    entries = {pair_key("emb@1", None): entry}
    calibration = Calibration(make_version("test", entries), entries, trained_on="synthetic")
    path = tmp_path / "calibration.json"
    calibration.save(path)
    assert "pickle" not in path.read_text()
    loaded = load_calibration(path)
    assert loaded.version == calibration.version
    assert loaded.entry("emb@1", "some-llm") is None
    again = loaded.entry("emb@1", None)
    assert again is not None
    test_rows, test_scores, test_labels = _synthetic(200, seed=1)
    before = entry.predict(test_rows, keys[:200])
    after = again.predict(test_rows, keys[:200])
    assert [p.percent for p in before] == [p.percent for p in after]
    assert pearson(test_scores, [p.percent for p in after]) > 0.9
    figures = label_figures(test_labels, [p.label for p in after])
    assert (figures["macro_f1"] or 0) > 0.65
    unseen = again.predict(test_rows)  # no question keys: the generic model
    assert pearson(test_scores, [p.percent for p in unseen]) > 0.9


def test_metrics() -> None:
    assert math.isclose(pearson([1, 2, 3], [2, 4, 6]), 1.0)
    assert math.isclose(spearman([1, 2, 3], [1, 4, 9]), 1.0)
    assert math.isclose(quadratic_kappa([0, 1, 2], [0, 1, 2], 3), 1.0)
    assert quadratic_kappa([0, 1, 2, 2], [2, 1, 0, 0], 3) < 0
    figures = score_figures([0, 0.5, 1], [0, 0.5, 1], 4.0, [0, 0.5, 1])
    assert figures["rmse"] == 0 and figures["qwk"] == 1
    assert math.isclose(rouge_l("the cat sat", "the cat sat"), 1.0)
    assert rouge_l("the cat sat", "a dog ran") == 0.0
    labels = [Label.CORRECT, Label.INCORRECT, Label.PARTIALLY_CORRECT]
    assert label_figures(labels, labels) == {"accuracy": 1.0, "macro_f1": 1.0}


def test_read_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    rows = [
        {
            "question_id": "q1",
            "question": "Why?",
            "reference_answer": "Because.",
            "answer": "Since.",
            "score": 2,
            "max_score": 4,
            "label": "Partially correct",
        },
        {
            "question_id": "q1",
            "question": "Why?",
            "reference_answer": "Because.",
            "answer": "No idea",
            "score": 0,
            "max_score": 4,
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    dataset = read_jsonl(path)
    assert dataset.questions["q1"].max_score == 4
    assert dataset.items[0].label is Label.PARTIALLY_CORRECT
    assert dataset.items[1].label is None and not dataset.labelled
    for bad, reason in [
        ('{"question_id": "q", "question": "Why?"', r"data.jsonl:1: Expecting"),
        ({**rows[0], "reference_answer": "  "}, "reference_answer is empty"),
        ({**rows[0], "max_score": 0}, "max_score must be above 0"),
    ]:
        path.write_text((bad if isinstance(bad, str) else json.dumps(bad)) + "\n")
        with pytest.raises(ValueError, match=reason):
            read_jsonl(path)
        # The commands say what is wrong and where, in one line, before loading any model.
        for command in (["eval", str(path)], ["calibrate", "--train", str(path)]):
            result = CliRunner().invoke(cli, [*command, "--no-llm", "--output", str(tmp_path)])
            assert result.exit_code == 2
            assert result.output.startswith(f"error: {path}:1: ")
            assert "Traceback" not in result.output


def test_read_saf() -> None:
    saf = dataset_dir("saf")
    dataset = read_dataset(saf / "unseen_questions")
    assert dataset.name == "unseen_questions"
    assert len(dataset.questions) == 4 and len(dataset.items) == 384
    assert dataset.labelled and all(0 <= i.score <= 1 for i in dataset.items)
    training = read_dataset(saf / "training")
    assert len(training.questions) == 18 and len(training.items) == 1476
