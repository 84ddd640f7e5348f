"""Grading settings: thresholds and weights, validated once when the app starts."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class GradingConfig(BaseModel):
    """Numbers the graders use; the app's settings carry one of these.

    The similarity thresholds were set on the lesson's model answers and on wrong and
    off-topic answers (see tests/test_grading_quality.py); a later calibration replaces
    the hand-set ensemble weights.
    """

    met_threshold: float = Field(default=0.60, ge=0, le=1)
    partial_threshold: float = Field(default=0.45, ge=0, le=1)
    misconception_threshold: float = Field(default=0.70, ge=0, le=1)
    negation_penalty: float = Field(default=0.25, ge=0, le=1)
    question_echo_threshold: float = Field(default=0.88, ge=0, le=1.01)
    misconception_margin: float = Field(default=0.02, ge=-1, le=1)
    # Below misconception_threshold by at most this, a misconception match counts when the
    # nearest exemplars hold that misconception too.
    corroborated_margin: float = Field(default=0.05, ge=0, le=1)
    # A segment "matches alike" a misconception and a key point it contradicts when the key
    # point is within this much of the misconception's similarity (then nothing is asserted).
    alike_margin: float = Field(default=0.10, ge=0, le=1)
    correct_at: float = Field(default=0.80, ge=0, le=1, description="Share of max score.")
    partially_correct_at: float = Field(default=0.30, ge=0, le=1)
    review_confidence: float = Field(default=0.55, ge=0, le=1)
    max_answer_chars: int = Field(default=5000, ge=1, le=100_000)
    embedding_weight: float = Field(default=0.5, ge=0, le=1)
    llm_weight: float = Field(default=0.5, ge=0, le=1)
    disagreement: float = Field(default=0.75, ge=0, le=1)
    calibration_version: str = "hand-set-v1"
    # Exemplars (graded example answers): their vote counts from exemplar_low similarity of
    # answer to exemplar, rising to exemplar_max_weight at exemplar_high.
    exemplar_low: float = Field(default=0.70, ge=0, le=1)
    exemplar_high: float = Field(default=0.92, ge=0, le=1)
    exemplar_max_weight: float = Field(default=0.85, ge=0, le=1)
    exemplar_row_threshold: float = Field(default=0.85, ge=0, le=1.01)
    # An LLM at a lower share of the ensemble than this cannot assert a misconception alone.
    llm_misconception_share: float = Field(default=0.5, ge=0, le=1)
    # The reader (a cross-encoder trained on human grades). Always: a key point it reads as
    # contradicted with at least ``reader_contradicts`` is missed, and a misconception it reads
    # as contradicted does not stand. Its shares below are 0 by default (README, "The
    # reader": where it measured better and where it did not): of a key point's credit, of a
    # rubric answer's score, of a calibrated grade, and the vote of graded answers read
    # against a new one. ``reader_assert``: reading a misconception at least this much
    # confirms it.
    reader_contradicts: float = Field(default=0.8, ge=0, le=1)
    reader_assert: float = Field(default=0.5, ge=0, le=1)
    reader_key_point_weight: float = Field(default=0.0, ge=0, le=1)
    reader_answer_weight: float = Field(default=0.0, ge=0, le=1)
    reader_calibrated_weight: float = Field(default=0.0, ge=0, le=1)
    reader_graded_weight: float = Field(default=0.0, ge=0, le=1)
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
