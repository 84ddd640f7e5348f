"""What the reader's readings decide in a grade: a key point covered, contradicted or not;
a misconception asserted only where the reader reads it in the answer; the answer's own grade
as a share of its score."""

from __future__ import annotations

from graders.core.config import GradingConfig
from graders.core.result import GraderVerdict, MisconceptionResult, Status
from graders.scoring.reader_grader import Readings
from graders.verdict.ensemble import status_of
from models.reader import Reading
from rubrics import KeyPoint

CONTRADICTED = "the answer contradicts it"


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
    """The credit with the reader's share. Where the reader has a share, a key point it reads
    as contradicted is missed (credit 0, and the feedback says the answer states the
    opposite); without one, its reading is advice for the teacher (``disagreement``)."""
    weight = config.reader_key_point_weight
    if weight > 0 and contradicted(reading, config):
        return 0.0, "Your answer says the opposite. " + key_point.feedback_missed
    return round((1 - weight) * credit + weight * reading.covers, 4), None


def confirm(
    found: list[MisconceptionResult], readings: Readings, config: GradingConfig
) -> tuple[list[MisconceptionResult], list[str]]:
    """A misconception the other graders found and the reader reads as contradicted goes to
    the teacher's review (and, where the reader has a share, does not stand). One the reader
    reads in the answer too names it as a grader."""
    kept: list[MisconceptionResult] = []
    reasons: list[str] = []
    for m in found:
        r = readings.misconceptions[m.id]
        if contradicted(r, config):
            reasons.append(
                f"misconception {m.id}: the reader reads the answer as contradicting it "
                f"(covers {r.covers:.2f}, contradicts {r.contradicts:.2f})"
            )
            if config.reader_key_point_weight > 0:  # the reader decides only with a share
                continue
        read = r.covers >= config.reader_assert and r.covers >= r.contradicts
        kept.append(m.model_copy(update={"graders": [*m.graders, "reader"]}) if read else m)
    return kept, reasons


def disagrees(credit: float, reading: Reading, config: GradingConfig) -> bool:
    """Whether the reader reads a key point the grade credits as contradicted (the grade
    then goes to review: "graders disagree on" it)."""
    return credit >= 0.5 and contradicted(reading, config)


def answer_percent(percent: float, readings: Readings, config: GradingConfig) -> float:
    """The key points' percent with the reader's grade of the whole answer as a share."""
    weight = config.reader_answer_weight
    return round((1 - weight) * percent + weight * readings.answer.score, 4)
