"""A calibrated grade: score and label from the calibration model, the exemplars' vote and
the question's own fit (from teachers' grades), applied to the assembled result."""

from __future__ import annotations

from graders.assemble import label_of
from graders.calibration import Calibration, CalibrationEntry, question_key
from graders.config import GradingConfig
from graders.exemplars import Vote
from graders.features import Features
from graders.feedback import NO_ANSWER, build_feedback
from graders.question_fit import QuestionFit
from graders.result import GradeResult, Label
from rubrics import Lesson, Question


def calibrated(
    result: GradeResult,
    lesson: Lesson,
    question: Question,
    entry: CalibrationEntry,
    values: Features,
    vote: Vote | None,
    fit: QuestionFit | None,
    calibration: Calibration,
    config: GradingConfig,
) -> GradeResult:
    key = question_key(question.prompt, question.reference_answer)
    prediction = entry.predict([values], [key])[0]
    percent, label = prediction.percent, prediction.label
    if vote is not None and vote.strength > 0:
        percent = round((1 - vote.strength) * percent + vote.strength * vote.percent, 4)
        label = label_of(percent, config)
    if fit is not None:
        percent = fit.percent(percent)
        label = Label(fit.label(percent))
    versions = result.versions.model_copy(update={"calibration": calibration.version})
    return result.model_copy(
        update={
            "score": round(percent * result.max_score, 3),
            "percent": percent,
            "label": label,
            "versions": versions,
            "feedback": build_feedback(
                lesson,
                result.key_points,
                result.misconceptions,
                label,
                empty=result.feedback.summary == NO_ANSWER,
            ),
        }
    )
