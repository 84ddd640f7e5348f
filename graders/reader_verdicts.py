"""What the reader's readings decide in a grade: a key point covered, contradicted or not;
a misconception asserted only where the reader reads it in the answer; the answer's own grade
as a share of its score."""

from __future__ import annotations

from graders.config import GradingConfig
from graders.ensemble import status_of
from graders.matching import Matching
from graders.reading import Readings
from graders.result import Evidence, GraderVerdict, MisconceptionResult, Status
from models.reader import Reading
from rubrics import KeyPoint, Question

CONTRADICTED = "the answer contradicts it"


def _evidence(matching: Matching, owner: str) -> Evidence | None:
    segment = matching[owner].evidence if owner in matching.found else None
    if segment is None:
        return None
    return Evidence(text=segment.text, start=segment.start, end=segment.end)


def contradicted(reading: Reading, config: GradingConfig) -> bool:
    return reading.contradicts >= config.reader_contradicts and reading.contradicts >= max(
        reading.covers, reading.neither
    )


def key_point_verdict(reading: Reading, config: GradingConfig) -> GraderVerdict:
    status = Status.MISSING if contradicted(reading, config) else status_of(reading.covers)
    return GraderVerdict(
        status=status,
        similarity=round(reading.covers, 4),
        flagged=CONTRADICTED if contradicted(reading, config) else None,
        reason=(
            f"covers {reading.covers:.2f}, contradicts {reading.contradicts:.2f}, "
            f"neither {reading.neither:.2f}"
        ),
    )


def key_point_credit(
    key_point: KeyPoint, credit: float, reading: Reading, config: GradingConfig
) -> tuple[float, str | None]:
    """The credit with the reader's share; a contradicted key point is missed (credit 0,
    and the feedback says the answer states the opposite)."""
    if contradicted(reading, config):
        return 0.0, "Your answer says the opposite. " + key_point.feedback_missed
    weight = config.reader_key_point_weight
    return round((1 - weight) * credit + weight * reading.covers, 4), None


def misconceptions(
    question: Question, matching: Matching, readings: Readings, config: GradingConfig
) -> tuple[list[MisconceptionResult], list[str]]:
    """Asserted only where the reader reads the misconception in the answer; a reading just
    short of that goes to review, never to the student."""
    found: list[MisconceptionResult] = []
    reasons: list[str] = []
    for m in question.misconceptions:
        r = readings.misconceptions[m.id]
        stated = r.covers >= config.reader_assert and r.covers >= max(r.contradicts, r.neither)
        if not stated:
            if r.covers >= config.reader_assert - 0.15 and r.covers >= r.contradicts:
                reasons.append(f"misconception {m.id} possibly stated (reader {r.covers:.2f})")
            continue
        found.append(
            MisconceptionResult(
                id=m.id,
                text=m.text,
                confidence=round(r.covers, 3),
                evidence=_evidence(matching, m.id),
                feedback=m.feedback,
                lesson_key_point=m.lesson_key_point,
                graders=["reader"],
            )
        )
    return found, reasons


def answer_percent(percent: float, readings: Readings, config: GradingConfig) -> float:
    """The key points' percent with the reader's grade of the whole answer as a share."""
    weight = config.reader_answer_weight
    return round((1 - weight) * percent + weight * readings.answer.score, 4)
