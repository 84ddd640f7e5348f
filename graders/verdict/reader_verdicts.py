"""What the reader's readings decide in a grade: a key point covered, contradicted or not;
a misconception the reader denies goes to review; the answer's own grade as a share of its
score.

Its shares move a credit only the way the other graders lean (``lean``): up from
``reader_raise_from``, down below it. A trained reader is surest where they agree with it; where
they found nothing, its *covers* alone credited clearly wrong answers, and where they credit a
point, its *neither* alone took credit from right ones (docs/benchmarks.md, "The reader leans").
"""

from __future__ import annotations

from collections.abc import Sequence

from graders.core.config import GradingConfig
from graders.core.measures import share
from graders.core.result import GraderVerdict, KeyPointResult, MisconceptionResult, Status
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


def lean(before: float, read: float, weight: float, raise_from: float) -> float:
    """``before`` with the reader's ``read`` as a ``weight`` share, moved only the way
    ``before`` leans: up from ``raise_from``, down below it."""
    mixed = (1 - weight) * before + weight * read
    return round(max(mixed, before) if before >= raise_from else min(mixed, before), 4)


def key_point_credit(
    key_point: KeyPoint, credit: float, reading: Reading, config: GradingConfig, voted: float = 0
) -> tuple[float, str | None]:
    """The credit with the reader's share, which graded answers close to this one
    (``voted``: their vote's strength) outweigh. Where the reader has a share, a key point it
    reads as contradicted is missed (credit 0, and the feedback says the answer states the
    opposite); without one, its reading is advice for the teacher (``disagreement``)."""
    weight = config.reader_key_point_weight * (1 - voted)
    if weight > 0 and contradicted(reading, config):
        return 0.0, "Your answer says the opposite. " + key_point.feedback_missed
    return lean(credit, reading.covers, weight, config.reader_raise_from), None


def confirm(
    found: list[MisconceptionResult], readings: Readings, config: GradingConfig
) -> tuple[list[MisconceptionResult], list[str]]:
    """A misconception the other graders found and the reader reads as contradicted goes to
    the teacher's review, and stands: the reader reads a negation word as a contradiction
    whatever it negates (its negation check). One the reader reads in the answer too names it
    as a grader."""
    kept: list[MisconceptionResult] = []
    reasons: list[str] = []
    for m in found:
        r = readings.misconceptions[m.id]
        if contradicted(r, config):
            reasons.append(
                f"misconception {m.id}: the reader reads the answer as contradicting it "
                f"(covers {r.covers:.2f}, contradicts {r.contradicts:.2f})"
            )
        read = r.covers >= config.reader_assert and r.covers >= r.contradicts
        kept.append(m.model_copy(update={"graders": [*m.graders, "reader"]}) if read else m)
    return kept, reasons


def disagrees(credit: float, reading: Reading, config: GradingConfig) -> bool:
    """Whether the reader reads a key point the grade credits as contradicted (the grade
    then goes to review: "graders disagree on" it)."""
    return credit >= 0.5 and contradicted(reading, config)


def answer_percent(
    percent: float, readings: Readings, config: GradingConfig, voted: float = 0
) -> float:
    """The key points' percent with the reader's grade of the whole answer as a share, which
    graded answers close to this one (``voted``) outweigh."""
    weight = config.reader_answer_weight * (1 - voted)
    return lean(percent, readings.answer.score, weight, config.reader_answer_raise_from)


def answer_score(
    score: float,
    written: Sequence[KeyPointResult],
    chosen: Sequence[KeyPointResult],
    readings: Readings,
    config: GradingConfig,
    voted: float = 0,
) -> float:
    """The score with the reader's grade of the whole answer as a share of its written part
    (the key points); choice items (``chosen``) keep their exact credit."""
    weight = sum(k.weight for k in written)
    exact = sum(i.weight * i.credit for i in chosen)
    percent = answer_percent(share(score - exact, weight), readings, config, voted)
    return round(exact + percent * weight, 3)
