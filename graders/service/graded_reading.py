"""The reader's vote of a question's graded answers (exemplars, teacher reviews) on a new
answer to a calibrated question: the nearest by embedding are read against it.

Only for a question new to the calibration (one it saw has its own model), and only the
``reader_graded_nearest`` nearest, so a question with many reviews costs no more.
"""

from __future__ import annotations

from graders.calibration.prediction import CalibrationEntry, question_key
from graders.core.config import GradingConfig
from graders.scoring.exemplar_vote import ExemplarBank
from graders.scoring.reader_grader import ReaderGrader
from graders.verdict.assemble_result import Draft


async def read_graded_vote(
    reader: ReaderGrader | None,
    exemplars: ExemplarBank,
    draft: Draft,
    entry: CalibrationEntry,
    config: GradingConfig,
    leave_out: bool,
) -> tuple[float, float] | None:
    """(voted percent, strength), or None: no reader, no answer, a question the calibration
    knows, a weight of 0, or no graded answer."""
    question, answer = draft.question, draft.answer
    if reader is None or not answer.strip() or config.reader_graded_weight <= 0:
        return None
    if entry.knows(question_key(question.prompt, question.reference_answer)):
        return None
    graded = exemplars.nearest(
        draft.lesson.id,
        question.id,
        answer,
        draft.matching.answer_vector,
        config.reader_graded_nearest,
        leave_out=leave_out,
    )
    return await reader.graded_vote(graded, answer)
