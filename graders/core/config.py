"""Grading settings: thresholds and weights, validated once when the app starts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Fraction = Annotated[float, Field(ge=0, le=1)]
"""A share or a similarity: a number from 0 to 1."""


class GradingConfig(BaseModel):
    """Numbers the graders use; the app's settings carry one of these.

    The similarity thresholds were set on the lesson's model answers and on wrong and
    off-topic answers (see tests/test_grading_quality.py); a later calibration replaces
    the hand-set ensemble weights.
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    # -- the embedding grader: a segment of the answer against the rubric's phrasings
    met_threshold: Fraction = 0.60
    """Similarity at which a key point is met."""
    partial_threshold: Fraction = 0.45
    """Similarity at which a key point is partly met."""
    misconception_threshold: Fraction = 0.70
    """Similarity at which a segment states a misconception."""
    negation_penalty: Fraction = 0.25
    """Taken off a similarity when one side is negated and the other is not."""
    question_echo_threshold: float = Field(default=0.88, ge=0, le=1.01)
    """A segment this close to the question restates it: it earns nothing."""
    misconception_margin: float = Field(default=0.02, ge=-1, le=1)
    """A misconception is matched only this much above the nearest key point."""
    corroborated_margin: Fraction = 0.05
    """Below misconception_threshold by at most this, a misconception match counts when the
    nearest exemplars hold that misconception too."""
    alike_margin: Fraction = 0.10
    """A segment "matches alike" a misconception and a key point it contradicts when the key
    point is within this much of the misconception's similarity (then nothing is asserted)."""

    # -- the grade: its label, and when it goes to a teacher
    correct_at: Fraction = Field(default=0.80, description="Share of max score.")
    partially_correct_at: Fraction = 0.30
    """Share of the max score from which an answer is partially correct."""
    review_confidence: Fraction = 0.55
    """A grade less confident than this goes to review."""
    max_answer_chars: int = Field(default=5000, ge=1, le=100_000)
    """The longest answer graded; a longer one is refused."""

    # -- the ensemble of the embedding grader and the LLM
    embedding_weight: Fraction = 0.5
    """The embedding grader's weight in a key point's credit."""
    llm_weight: Fraction = 0.5
    """The LLM's weight in a key point's credit."""
    disagreement: Fraction = 0.75
    """A gap between the two graders' credit (scaled by the LLM's share) sent to review."""
    llm_misconception_share: Fraction = 0.5
    """An LLM at a lower share of the ensemble than this cannot assert a misconception alone."""
    llm_examples: int = Field(
        default=3, ge=0, le=10, description="Nearest graded examples shown to the LLM (few-shot)."
    )
    calibration_version: str = "hand-set-v1"
    """Named in each grade's versions when no calibration file gives the score."""

    # -- exemplars (graded example answers): their vote counts from exemplar_low similarity
    # of answer to exemplar, rising to exemplar_max_weight at exemplar_high.
    exemplar_low: Fraction = 0.70
    """Similarity from which an exemplar votes."""
    exemplar_high: Fraction = 0.92
    """Similarity at which an exemplar's vote weighs exemplar_max_weight."""
    exemplar_max_weight: Fraction = 0.85
    """The most an exemplars' vote weighs against the graders."""
    exemplar_row_threshold: float = Field(default=0.85, ge=0, le=1.01)
    """A segment shows what an exemplar's misconception or nothing-earning segment shows only
    this close to it."""

    # -- the reader (a cross-encoder trained on human grades; README, "The reader": where it
    # measured better and where it did not).
    reader_contradicts: Fraction = 0.5
    """Read as contradicted this much (and more than covered or neither), a key point is
    missed where the reader has a share, and a grade crediting it goes to review."""
    reader_assert: Fraction = 0.5
    """Reading a misconception at least this much confirms it."""
    reader_key_point_weight: Fraction = 0.5
    """The reader's share of a key point's credit."""
    reader_raise_from: Fraction = 0.4
    """The reader's share raises a key point's credit from this much; below, it only lowers."""
    reader_answer_weight: Fraction = 0.3
    """The reader's share of a rubric answer's written part."""
    reader_answer_raise_from: Fraction = 0.25
    """The reader's share raises the written part's percent from this much; below, it only
    lowers."""
    reader_calibrated_weight: Fraction = 0.0
    """The reader's share of a calibrated grade (a question the calibration has not seen)."""
    reader_graded_weight: Fraction = 0.0
    """The weight of graded answers, read against a new one, as a vote."""
    reader_graded_nearest: int = Field(
        default=10,
        ge=1,
        le=50,
        description="Graded answers the reader reads against a new one: the nearest by "
        "embedding (a pair each, so a question with many teacher reviews costs no more).",
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
