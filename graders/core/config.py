"""Grading settings: thresholds and weights, validated once when the app starts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

Fraction = Annotated[float, Field(ge=0, le=1)]
"""A share or a similarity: a number from 0 to 1."""


class GradingConfig(BaseModel):
    """Numbers the graders use; the app's settings carry one of these.

    The similarity thresholds were set on the lesson's model answers and on wrong and
    off-topic answers (see tests/test_grading_quality.py); a later calibration replaces
    the hand-set ensemble weights.
    """

    met_threshold: Fraction = 0.60
    partial_threshold: Fraction = 0.45
    misconception_threshold: Fraction = 0.70
    negation_penalty: Fraction = 0.25
    question_echo_threshold: float = Field(default=0.88, ge=0, le=1.01)
    misconception_margin: float = Field(default=0.02, ge=-1, le=1)
    # Below misconception_threshold by at most this, a misconception match counts when the
    # nearest exemplars hold that misconception too.
    corroborated_margin: Fraction = 0.05
    # A segment "matches alike" a misconception and a key point it contradicts when the key
    # point is within this much of the misconception's similarity (then nothing is asserted).
    alike_margin: Fraction = 0.10
    correct_at: Fraction = Field(default=0.80, description="Share of max score.")
    partially_correct_at: Fraction = 0.30
    review_confidence: Fraction = 0.55
    max_answer_chars: int = Field(default=5000, ge=1, le=100_000)
    embedding_weight: Fraction = 0.5
    llm_weight: Fraction = 0.5
    disagreement: Fraction = 0.75
    calibration_version: str = "hand-set-v1"
    # Exemplars (graded example answers): their vote counts from exemplar_low similarity of
    # answer to exemplar, rising to exemplar_max_weight at exemplar_high.
    exemplar_low: Fraction = 0.70
    exemplar_high: Fraction = 0.92
    exemplar_max_weight: Fraction = 0.85
    exemplar_row_threshold: float = Field(default=0.85, ge=0, le=1.01)
    # An LLM at a lower share of the ensemble than this cannot assert a misconception alone.
    llm_misconception_share: Fraction = 0.5
    # The reader (a cross-encoder trained on human grades). Always: a key point it reads as
    # contradicted with at least ``reader_contradicts`` is missed, and a misconception it reads
    # as contradicted does not stand. Its shares below are 0 by default (README, "The
    # reader": where it measured better and where it did not): of a key point's credit, of a
    # rubric answer's score, of a calibrated grade, and the vote of graded answers read
    # against a new one. ``reader_assert``: reading a misconception at least this much
    # confirms it.
    reader_contradicts: Fraction = 0.8
    reader_assert: Fraction = 0.5
    reader_key_point_weight: Fraction = 0.0
    reader_answer_weight: Fraction = 0.0
    reader_calibrated_weight: Fraction = 0.0
    reader_graded_weight: Fraction = 0.0
    llm_examples: int = Field(
        default=3, ge=0, le=10, description="Nearest graded examples shown to the LLM (few-shot)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> GradingConfig:
        if self.partial_threshold > self.met_threshold:
            raise ValueError("partial_threshold must not exceed met_threshold")
        if self.exemplar_low > self.exemplar_high:
            raise ValueError("exemplar_low must not exceed exemplar_high")
        if self.partially_correct_at > self.correct_at:
            raise ValueError("partially_correct_at must not exceed correct_at")
        return self
