"""The reader in bfloat16: the same readings as in float32, named as such in every grade.

Where the CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX) the reader in bf16 takes
about half the time (docs/benchmarks.md, "The reader in bfloat16"); ``reader_precision=auto``
takes it only there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.runtime import Backends
from models.embedder import Embedder
from models.precision import resolve_precision
from models.reader import CrossEncoderReader, Reading, load_reader
from rubrics import load_lessons
from tests.conftest import LiveServer, make_settings

LESSON = load_lessons()["instruction-tuning"]


def lesson_pairs() -> list[tuple[str, str]]:
    """Every key point against its question's reference answer, against a wrong answer and
    against an answer to another question: readings of every kind."""
    questions = LESSON.questions
    pairs = []
    for n, question in enumerate(questions):
        other = questions[(n + 1) % len(questions)].reference_answer
        for point in question.key_points:
            pairs.append((point.text, question.reference_answer))
            pairs.append((point.text, other))
        for misconception in question.misconceptions:
            pairs.append((misconception.text, question.reference_answer))
    return pairs


def relation(reading: Reading) -> int:
    values = (reading.covers, reading.contradicts, reading.neither)
    return values.index(max(values))


def margin(reading: Reading) -> float:
    """How far the most likely relation stands above the next."""
    first, second = sorted((reading.covers, reading.contradicts, reading.neither))[:0:-1]
    return first - second


@pytest.fixture(scope="module")
def readers() -> tuple[CrossEncoderReader, CrossEncoderReader]:
    return load_reader(precision="fp32"), load_reader(precision="bf16")


@pytest.mark.integration
def test_bf16_reads_what_fp32_reads(readers: tuple[CrossEncoderReader, CrossEncoderReader]) -> None:
    full, half = readers
    assert half.name == full.name + "+bf16"
    assert half.precision == "bf16" and full.precision == "fp32"
    pairs = lesson_pairs()
    assert len(pairs) > 100
    exact, approx = full.read(pairs), half.read(pairs)
    clear = [i for i, r in enumerate(exact) if margin(r) > 0.05]  # not a near tie in fp32
    assert len(clear) > 0.9 * len(pairs)
    assert [relation(approx[i]) for i in clear] == [relation(exact[i]) for i in clear]
    for a, b in zip(exact, approx, strict=True):
        assert abs(a.covers - b.covers) < 0.05, (a, b)
        assert abs(a.contradicts - b.contradicts) < 0.05, (a, b)
        assert abs(a.score - b.score) < 0.05, (a, b)
    # not the same numbers: the weights really are in bf16
    assert any(a.covers != b.covers for a, b in zip(exact, approx, strict=True))


def test_auto_takes_bf16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for found in (False, True):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda f=found: f)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
        assert resolve_precision("auto") == ("bf16" if found else "fp32")
        assert resolve_precision("fp32") == "fp32"
        assert resolve_precision("bf16") == "bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert resolve_precision("auto") == "bf16"


@pytest.mark.integration
def test_a_grade_names_the_bf16_reader(embedder: Embedder, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, reader_precision="bf16")
    with LiveServer(settings, Backends(embedder=embedder)) as server, server.client() as http:
        question = LESSON.questions[0]
        body = {"lesson_id": LESSON.id, "question_id": question.id}
        graded = http.post("/v1/grade", json={**body, "answer": question.reference_answer})
        assert graded.status_code == 200, graded.text
        result = graded.json()
        assert result["versions"]["reader_model"].endswith("+bf16")
        assert result["graders"]["reader"]["state"] == "used"
        assert result["percent"] >= 0.8  # the reference answer, read in bf16, still full marks
        wrong = http.post("/v1/grade", json={**body, "answer": "precision"})
        assert wrong.status_code == 200
        assert wrong.json()["percent"] < result["percent"]


def test_an_unknown_precision_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reader_precision"):
        make_settings(tmp_path, reader_precision="fp8")
