"""From the graders' evidence to one GradeResult: key points, misconceptions, score, review.

The evidence of one answer (embedding matches, the LLM's verdicts, the exemplars' vote,
the reader's readings) is combined here, doing no harm first: misconceptions are asserted
only as graders.verdict.misconception_verdicts allows, and where the graders cannot tell,
the grade goes to review instead of guessing. On a calibrated question the calibration's
prediction (``CalibratedScore``) gives the score and label; the result, feedback
included, is assembled here once either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from graders.calibration.calibrated_grade import CalibratedScore
from graders.core.config import GradingConfig
from graders.core.measures import share
from graders.core.result import (
    Evidence,
    GradeResult,
    GraderStatus,
    GraderVerdict,
    KeyPointResult,
    MisconceptionResult,
    Status,
    Versions,
    label_of,
)
from graders.language.options import ChoiceOutcome, grade_choice
from graders.scoring.embedding_findings import Matching
from graders.scoring.exemplar_vote import Vote
from graders.scoring.llm_grader import LLMGrade
from graders.scoring.reader_grader import Readings
from graders.verdict import reader_verdicts
from graders.verdict.ensemble import combine, embedding_status, evidence_of, status_of
from graders.verdict.feedback import build_feedback
from graders.verdict.misconception_verdicts import asserted
from rubrics import Lesson, Question


@dataclass
class Draft:
    """Grading state for one answer, filled in by each grader in turn."""

    lesson: Lesson
    question: Question
    answer: str
    matching: Matching
    llm: LLMGrade | None
    llm_status: GraderStatus
    vote: Vote | None = None
    exemplar_set: str = "none"
    readings: Readings | None = None


@dataclass
class Findings:
    """What the graders found in one answer before calibration (what its features read)."""

    key_points: list[KeyPointResult]  # the rubric's items: key points, then choices
    misconceptions: list[MisconceptionResult]
    reasons: list[str]  # why it needs review, so far
    score: float
    percent: float  # coverage: the items' credit, with the exemplars' and reader's say


@dataclass
class Assembler:
    config: GradingConfig
    embedding_model: str
    llm_model: str | None
    version: str
    reader_model: str | None = None

    def key_points(
        self, draft: Draft, contradicted: dict[str, str]
    ) -> tuple[list[KeyPointResult], list[str]]:
        results: list[KeyPointResult] = []
        disagreements: list[str] = []
        vote = draft.vote
        for k in draft.question.key_points:
            match = draft.matching[k.id]
            verdicts = {
                "embedding": GraderVerdict(
                    status=embedding_status(match.similarity, self.config),
                    similarity=round(match.similarity, 4),
                    evidence=evidence_of(match.evidence),
                )
            }
            llm_verdict = draft.llm.key_points.get(k.id) if draft.llm else None
            if llm_verdict is not None:
                verdicts["llm"] = llm_verdict
            combined = combine(verdicts["embedding"], llm_verdict, self.config)
            credit, confidence = combined.credit, combined.confidence
            voted = 0.0  # how strongly graded answers close to this one speak for the point
            if vote is not None and vote.strength > 0 and k.id in vote.key_points:
                said, voted = vote.key_points[k.id], vote.strength
                verdicts["exemplars"] = GraderVerdict(
                    status=status_of(said),
                    similarity=vote.nearest,
                    reason=f"nearest graded examples: credit {said:.2f}",
                )
                credit = round((1 - vote.strength) * credit + vote.strength * said, 4)
                confidence = round(max(confidence, vote.strength), 3)
            opposite = None  # the reader's feedback for a key point the answer contradicts
            if draft.readings is not None and (reading := draft.readings.key_points[k.id]):
                verdicts["reader"] = reader_verdicts.key_point_verdict(reading, self.config)
                credit, opposite = reader_verdicts.key_point_credit(
                    k, credit, reading, self.config, voted
                )
                if reader_verdicts.disagrees(credit, reading, self.config):
                    disagreements.append(k.id)
            status = status_of(credit) if len(verdicts) > 1 else combined.status
            feedback = k.feedback_met if status is Status.MET else k.feedback_missed
            if status is Status.PARTIAL:
                feedback = "Partly there. " + k.feedback_missed
            against = contradicted.get(k.id, opposite)  # a misconception's, else the reader's
            if against is not None:
                status, credit, feedback = Status.MISSING, 0.0, against
            if combined.disagreement:
                disagreements.append(k.id)
            results.append(
                KeyPointResult(
                    id=k.id,
                    text=k.text,
                    lesson_key_point=k.lesson_key_point,
                    weight=k.weight,
                    status=status,
                    credit=credit,
                    confidence=confidence,
                    evidence=_evidence(verdicts, status),
                    feedback=feedback,
                    graders=verdicts,
                )
            )
        return results, disagreements

    def choices(self, draft: Draft) -> list[KeyPointResult]:
        items = sorted({c.item for c in draft.question.choices if c.item})
        outcomes: list[ChoiceOutcome] = [
            grade_choice(draft.answer, c, items) for c in draft.question.choices
        ]
        return [
            KeyPointResult(
                id=o.choice.id,
                kind="choice",
                text=o.choice.prompt,
                lesson_key_point=o.choice.lesson_key_point,
                weight=o.choice.weight,
                status=Status.MET if o.correct else Status.MISSING,
                credit=1.0 if o.correct else 0.0,
                confidence=1.0 if o.named else 0.9,
                evidence=evidence_of(o.evidence),
                feedback=o.choice.feedback_correct if o.correct else o.choice.feedback_wrong,
                chosen=list(o.named),
                graders={
                    "choice": GraderVerdict(
                        status=Status.MET if o.correct else Status.MISSING,
                        evidence=evidence_of(o.evidence),
                        reason="named: " + (", ".join(o.named) or "nothing"),
                    )
                },
            )
            for o in outcomes
        ]

    def to_confirm(self, draft: Draft) -> list[str]:
        """The misconceptions the other graders assert: the only ones the reader is asked
        about, as a misconception stands only where they find it (reader_verdicts.confirm)."""
        found, _ = asserted(draft.question, draft.matching, draft.llm, draft.vote, self.config)
        return [m.id for m in found]

    def findings(self, draft: Draft, *, empty: bool) -> Findings:
        """What the graders found in the answer: its items, misconceptions and coverage."""
        misconceptions, reasons = (
            ([], [])
            if empty
            else asserted(draft.question, draft.matching, draft.llm, draft.vote, self.config)
        )
        if draft.readings is not None and misconceptions:  # only what the reader reads stands
            read = reader_verdicts.confirm(misconceptions, draft.readings, self.config)
            misconceptions, reasons = read[0], reasons + read[1]
        contradicted: dict[str, str] = {}
        rubric_misconceptions = {m.id: m for m in draft.question.misconceptions}
        for found in misconceptions:
            for key_point_id in rubric_misconceptions[found.id].contradicts:
                contradicted.setdefault(key_point_id, found.feedback)
        key_points, disagreements = self.key_points(draft, contradicted)
        items = key_points + self.choices(draft)
        max_score = draft.question.max_score
        score = round(sum(i.weight * i.credit for i in items), 3)
        percent = share(score, max_score)
        vote = draft.vote
        if vote is not None and not vote.key_points and vote.strength > 0:
            # Exemplars graded as a whole (no key points named): their score votes.
            percent = round((1 - vote.strength) * percent + vote.strength * vote.percent, 4)
            score = round(percent * max_score, 3)
        if draft.readings is not None and not empty and key_points:
            voted = vote.strength if vote is not None else 0.0
            score = reader_verdicts.answer_score(
                score, key_points, items[len(key_points) :], draft.readings, self.config, voted
            )
            percent = share(score, max_score)
        reasons = [f"graders disagree on {k}" for k in disagreements] + reasons
        return Findings(items, misconceptions, reasons, score, percent)

    def graders_used(self, draft: Draft) -> dict[str, GraderStatus]:
        """Which graders had a say in the answer's grade, with their models."""
        graders = {
            "embedding": GraderStatus(state="used", model=self.embedding_model),
            "llm": draft.llm_status,
        }
        if draft.question.choices:
            graders["choice"] = GraderStatus(state="used")
        if draft.readings is not None:
            graders["reader"] = GraderStatus(state="used", model=self.reader_model)
        if (vote := draft.vote) is not None:
            graders["exemplars"] = GraderStatus(
                state="used",
                model=draft.exemplar_set,
                reason=f"nearest similarity {vote.nearest:.2f}, weight {vote.strength:.2f}",
            )
        return graders

    def result(
        self,
        draft: Draft,
        *,
        student_id: str | None,
        empty: bool,
        findings: Findings | None = None,
        calibrated: CalibratedScore | None = None,
    ) -> GradeResult:
        """The answer's GradeResult, assembled once; ``calibrated``: the calibration's score."""
        found = findings if findings is not None else self.findings(draft, empty=empty)
        score, percent = found.score, found.percent
        label = label_of(percent, self.config)
        if calibrated is not None:
            percent, label = calibrated.percent, calibrated.label
            score = round(percent * draft.question.max_score, 3)
        items = found.key_points
        confidence = round(min(i.confidence for i in items), 3) if items else 1.0
        reasons = list(found.reasons)
        if not empty and confidence < self.config.review_confidence:
            reasons.append(f"low confidence ({confidence:.2f})")
        if draft.llm is not None:
            reasons.extend(draft.llm.flags)
        return GradeResult(
            lesson_id=draft.lesson.id,
            question_id=draft.question.id,
            student_id=student_id,
            score=score,
            max_score=draft.question.max_score,
            percent=percent,
            label=label,
            confidence=confidence,
            needs_review=bool(reasons),
            review_reasons=reasons,
            key_points=items,
            misconceptions=found.misconceptions,
            feedback=build_feedback(draft.lesson, items, found.misconceptions, label, empty=empty),
            graders=self.graders_used(draft),
            versions=Versions(
                rubricate=self.version,
                embedding_model=self.embedding_model,
                llm_model=self.llm_model,
                reader_model=self.reader_model,
                rubric_hash=draft.lesson.content_hash,
                calibration=(calibrated.version if calibrated else self.config.calibration_version),
                exemplar_set=draft.exemplar_set,
            ),
        )


def _evidence(verdicts: dict[str, GraderVerdict], status: Status) -> Evidence | None:
    """A met or partly met key point's evidence: the embedding grader's span, else the LLM's."""
    if status is Status.MISSING:
        return None
    found = verdicts["embedding"].evidence
    if found is None and "llm" in verdicts:
        found = verdicts["llm"].evidence
    return found
