"""Grading quality on real human-scored data (SAF), and inline questions over HTTP.

The evaluation runs on a small fixed subset of SAF with the real model and the shipped
calibration; it fails when a figure falls below a floor set from measured values (see
docs/eval/README.md for the full run). Floors sit a little under what was measured on
this subset, so noise from a different CPU does not fail it but a real regression does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import typer

import app.eval_run
from app.eval_run import _grade_all, run_eval
from app.runtime import Backends
from graders.calibration.calibration_file import DEFAULT_FILE, load_calibration
from graders.evaluation.datasets import read_dataset
from models.embedder import Embedder
from models.llm_settings import LLMSettings
from models.vllm_client import VLLMClient
from tests.conftest import dataset_dir, make_settings

pytestmark = pytest.mark.integration

# Measured on this subset (first 3 answers per question of unseen_answers, first 10 of
# unseen_questions) with all-MiniLM-L6-v2 on CPU and calibration saf-train-1b74544d63:
# unseen_answers Pearson 0.697, macro-F1 0.747, QWK 0.665; unseen_questions Pearson
# 0.769, macro-F1 0.598, QWK 0.588. Floors are these minus about 0.05.
FLOORS = {
    "unseen_answers": {"pearson": 0.64, "macro_f1": 0.70, "qwk": 0.61},
    "unseen_questions": {"pearson": 0.72, "macro_f1": 0.55, "qwk": 0.54},
}


def test_saf_subset_meets_floors(embedder: Embedder, tmp_path: Path) -> None:
    targets = [
        read_dataset(dataset_dir("saf", "unseen_answers")).subset(3),
        read_dataset(dataset_dir("saf", "unseen_questions")).subset(10),
    ]
    reports = run_eval(
        make_settings(tmp_path),
        targets,
        None,
        load_calibration(DEFAULT_FILE),
        tmp_path / "out",
        backends=Backends(embedder=embedder),
    )
    for report in reports:
        ours = report.overall["rubricate"]
        print(report.dataset, ours, report.overall["cosine"])
        for name, floor in FLOORS[report.dataset].items():
            value = ours[name]
            assert value is not None and value >= floor, (report.dataset, name, value)
        assert report.calibration != "hand-set-v1"
    out = tmp_path / "out"
    assert (out / "results.json").exists() and (out / "README.md").exists()
    assert (out / "unseen_questions-scatter.png").exists()
    assert (out / "unseen_questions-confusion.png").exists()
    assert (out / "unseen_questions-calibration.png").exists()


def _fake_llm(models_status: int) -> VLLMClient:
    """A vLLM whose /v1/models answers ``models_status`` and whose completions all fail."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(models_status, json={"data": [{"id": "fake-model"}]})
        return httpx.Response(500, json={"error": "boom"})

    settings = LLMSettings(
        base_url="http://vllm.test", model="fake-model", timeout_s=2, max_retries=0
    )
    return VLLMClient(settings, transport=httpx.MockTransport(handle))


def test_eval_does_not_cache_answers_whose_llm_verdict_failed(
    embedder: Embedder, tmp_path: Path
) -> None:
    dataset = read_dataset(dataset_dir("saf", "unseen_questions")).subset(2)
    settings = make_settings(tmp_path, llm_enabled=True, llm_health_interval_s=0.2)
    backends = Backends(embedder=embedder, llm=_fake_llm(200), llm_model="fake")
    (records,), _, llm_model, _ = asyncio.run(
        _grade_all(settings, [dataset], tmp_path / "eval", 4, backends)
    )
    assert llm_model == "fake" and len(records) == len(dataset.items)
    assert all(r.features["llm_used"] == 0.0 for r in records)
    cache = tmp_path / "eval" / f"{dataset.name}.jsonl"
    assert not cache.exists() or not cache.read_text().strip()


def test_eval_stops_when_the_llm_never_gets_ready(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.eval_run, "LLM_READY_TIMEOUT_S", 1.0)
    dataset = read_dataset(dataset_dir("saf", "unseen_questions")).subset(1)
    settings = make_settings(tmp_path, llm_enabled=True, llm_health_interval_s=0.2)
    backends = Backends(embedder=embedder, llm=_fake_llm(503), llm_model="fake")
    with pytest.raises(typer.Exit):
        asyncio.run(_grade_all(settings, [dataset], tmp_path / "eval", 4, backends))
    assert not (tmp_path / "eval" / f"{dataset.name}.jsonl").exists()


REFERENCE = (
    "The UDP header is 8 bytes while the TCP header is 20 to 60 bytes. "
    "TCP has a sequence number and an acknowledgement number; UDP has neither."
)


def test_inline_question_over_http(http: httpx.Client) -> None:
    question = {"prompt": "How do UDP and TCP headers differ?", "reference_answer": REFERENCE}
    good = "UDP headers are only 8 bytes, TCP headers 20-60; TCP has sequence and ack numbers."
    bad = "I had pasta for lunch and then we played football in the park."
    graded = [
        http.post("/v1/grade", json={"question": {**question, "max_score": 4}, "answer": a})
        for a in (good, bad)
    ]
    for response in graded:
        assert response.status_code == 200, response.text
    first, second = (r.json() for r in graded)
    assert first["max_score"] == 4 and first["lesson_id"].startswith("adhoc-")
    assert first["score"] > second["score"]
    assert first["versions"]["calibration"] != "hand-set-v1"
    assert first["key_points"] and first["key_points"][0]["evidence"]
    both = {"lesson_id": "instruction-tuning", "question_id": "sc-4", "question": question}
    assert http.post("/v1/grade", json={**both, "answer": "x"}).status_code == 422
    assert http.post("/v1/grade", json={"answer": "x"}).status_code == 422
    blank = {"question": {**question, "reference_answer": " \n\t "}, "answer": "x"}
    problem = http.post("/v1/grade", json=blank)
    assert problem.status_code == 422, problem.text
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert "reference_answer" in problem.text


def test_lesson_grading_keeps_hand_set_calibration(http: httpx.Client) -> None:
    body = {"lesson_id": "instruction-tuning", "question_id": "sc-4", "answer": "LoRA is cheap."}
    result = http.post("/v1/grade", json=body).json()
    assert result["versions"]["calibration"] == "hand-set-v1"


def test_teacher_graded_eval_never_uses_a_measured_label(
    embedder: Embedder, tmp_path: Path
) -> None:
    """K answers per question teach the grader; the rest are measured, and scrambling the
    grades of the rest changes nothing the grader does."""
    from dataclasses import replace

    from app.runtime import load_all_lessons, runtime
    from graders.evaluation.datasets import Dataset
    from graders.evaluation.teacher_graded import grade_with_teacher_graded, picks

    dataset = read_dataset(dataset_dir("saf", "unseen_questions")).subset(12)
    predicted = [len(i.answer) % 7 / 7 for i in dataset.items]  # any scores, no labels
    chosen = picks(dataset, predicted, 4, (0.3, 0.8))
    taught = {i for rows in chosen.values() for i in rows}
    assert all(len(rows) == 4 for rows in chosen.values())
    flipped = Dataset(
        dataset.name,
        dataset.questions,
        [
            item if n in taught else replace(item, score=1.0 - item.score, label=None)
            for n, item in enumerate(dataset.items)
        ],
    )
    settings = make_settings(tmp_path)

    async def grade(data: Dataset) -> tuple[list[int], list[float]]:
        async with runtime(settings, load_all_lessons(settings), Backends(embedder=embedder)) as st:
            measured, records = await grade_with_teacher_graded(st.service, data, predicted, 4)
            return measured, [r.percent for r in records]

    measured, first = asyncio.run(grade(dataset))
    again, second = asyncio.run(grade(flipped))
    assert measured == again == [i for i in range(len(dataset.items)) if i not in taught]
    assert first == second


def test_teacher_graded_report_beside_k0(embedder: Embedder, tmp_path: Path) -> None:
    dataset = read_dataset(dataset_dir("saf", "unseen_questions")).subset(25)
    reports = run_eval(
        make_settings(tmp_path),
        [dataset],
        None,
        load_calibration(DEFAULT_FILE),
        tmp_path / "out",
        backends=Backends(embedder=embedder),
        teacher_graded=[5],
    )
    assert [r.teacher_graded for r in reports] == [0, 5]
    taught = reports[1]
    assert taught.n == len(dataset.items) - 5 * len(dataset.questions)
    ours, zero = taught.overall["rubricate"], taught.overall["rubricate_k0"]
    print("K=5", ours, "K=0", zero)
    assert ours["pearson"] is not None and zero["pearson"] is not None
    assert ours["pearson"] >= zero["pearson"] - 0.02
    assert '"teacher_graded": 5' in (tmp_path / "out" / "results.json").read_text()
