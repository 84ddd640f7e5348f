"""A calibrated grade: the score and label the calibration model predicts for an answer,
moved by the exemplars' vote, the reader and the question's own fit (from teachers'
grades). Data only: graders.verdict.assemble_result builds the GradeResult with it."""

from __future__ import annotations

from dataclasses import dataclass

from graders.calibration.calibration_file import Calibration
from graders.calibration.features import Features
from graders.calibration.prediction import CalibrationEntry, Prediction, question_key
from graders.calibration.question_fit import QuestionFit
from graders.core.config import GradingConfig
from graders.core.result import Label, label_of
from graders.scoring.exemplar_vote import Vote
from graders.scoring.reader_grader import Readings
from rubrics import Question


@dataclass(frozen=True)
class CalibratedScore:
    """One answer's calibrated share of full marks and label, and the calibration's version."""

    percent: float
    label: Label
    version: str


def calibrated_score(
    question: Question,
    entry: CalibrationEntry,
    values: Features,
    vote: Vote | None,
    fit: QuestionFit | None,
    calibration: Calibration,
    config: GradingConfig,
    readings: Readings | None = None,
    read_vote: tuple[float, float] | None = None,
) -> CalibratedScore:
    key = question_key(question.prompt, question.reference_answer)
    prediction = entry.predict([values], [key])[0]
    percent, label = prediction.percent, prediction.label
    # The reader shares only a new question's grade: one the calibration saw in training has
    # its own model, which the reader's grade only made worse (docs/benchmarks.md).
    new = not entry.knows(key)
    if new and readings is not None and config.reader_calibrated_weight > 0:
        read = reader_features(readings)
        percent, label = with_reader(prediction, read, config.reader_calibrated_weight)
    if vote is not None and vote.strength > 0:
        percent = round((1 - vote.strength) * percent + vote.strength * vote.percent, 4)
        label = label_of(percent, config)
    if new and read_vote is not None:
        voted, strength = read_vote
        share = config.reader_graded_weight * strength
        percent = round((1 - share) * percent + share * voted, 4)
        label = label_of(percent, config)
    if fit is not None:
        percent = fit.percent(percent)
        label = Label(fit.label(percent))
    return CalibratedScore(percent, label, calibration.version)


READER_FEATURES = ("reader_score", "reader_correct", "reader_partial", "reader_incorrect")


def reader_features(readings: Readings) -> dict[str, float]:
    """The reader's grade of the whole answer, as named values (kept with the features)."""
    r = readings.answer
    values = (r.score, r.correct, r.partially_correct, r.incorrect)
    return dict(zip(READER_FEATURES, values, strict=True))


def with_reader(
    prediction: Prediction, values: dict[str, float], weight: float
) -> tuple[float, Label]:
    """The calibration's score and label probabilities averaged with the reader's grade of
    the answer against the question and its reference (``reader_features``), at ``weight``."""
    percent = round((1 - weight) * prediction.percent + weight * values["reader_score"], 4)
    mine = {
        Label.CORRECT: values["reader_correct"],
        Label.PARTIALLY_CORRECT: values["reader_partial"],
        Label.INCORRECT: values["reader_incorrect"],
    }
    probs = {
        c: (1 - weight) * prediction.probabilities.get(c, 0.0) + weight * mine[c] for c in mine
    }
    return percent, max(probs, key=lambda c: probs[c])
