"""The same answers get the same grades: the lesson answer bank graded now, with the real
embedding model and the shipped reader, against the record written before a refactoring
(``python -m bench.grade_snapshot``; rewrite it only when grades are meant to change)."""

from __future__ import annotations

import json

import pytest

from bench.grade_snapshot import RECORD, grade_bank
from graders.evaluation.grade_snapshot import differences, record
from models.precision import native_bf16

pytestmark = pytest.mark.integration


@pytest.mark.anyio
@pytest.mark.parametrize("reader", [False, True], ids=["reader_off", "reader_on"])
async def test_lesson_bank_grades_are_unchanged(reader: bool) -> None:
    old = json.loads(RECORD.read_text())["reader_on" if reader else "reader_off"]
    now = await grade_bank(reader)
    changed = differences(old, now)
    assert not changed, "\n".join(changed[:20])


@pytest.mark.anyio
async def test_the_reader_in_bf16_gives_the_bank_the_same_labels() -> None:
    """In bf16 (``reader_precision=auto`` on a CPU that has it) credits move by thousandths and
    a reader verdict may move a step; no answer's label or review flag may. Where the CPU
    lacks bf16 in hardware, ``auto`` never reads in it, and its emulation rounds otherwise."""
    if not native_bf16():
        pytest.skip("this CPU has no bf16 in hardware: reader_precision=auto reads in fp32")
    old = json.loads(RECORD.read_text())["reader_on"]
    now = await grade_bank(True, precision="bf16")
    assert len(now) == len(old)
    changed = [
        (i, field, a[field], b[field])
        for i, (a, b) in enumerate(zip(old, now, strict=True))
        for field in ("label", "needs_review")
        if a[field] != b[field]
    ]
    assert not changed, changed
    assert differences(old, now), "bf16 read exactly as fp32: was it bf16?"


def test_differences_sees_a_changed_grade() -> None:
    from graders.core.result import Feedback, GradeResult, Label, Versions

    def result(label: Label, percent: float) -> GradeResult:
        return GradeResult(
            lesson_id="l",
            question_id="q",
            score=percent,
            max_score=1.0,
            percent=percent,
            label=label,
            confidence=0.5,
            needs_review=False,
            key_points=[],
            misconceptions=[],
            feedback=Feedback(summary="s", by_lesson_key_point=[]),
            graders={},
            versions=Versions(
                rubricate="x", embedding_model="e", llm_model=None, rubric_hash="h", calibration="c"
            ),
        )

    same = record(result(Label.CORRECT, 0.9))
    assert differences([same], [record(result(Label.CORRECT, 0.9004))]) == []
    changed = differences([same], [record(result(Label.PARTIALLY_CORRECT, 0.6))])
    assert any("label" in line for line in changed)
    assert any("percent" in line for line in changed)
