"""GradingService: the one place an answer is graded, whoever asks (API, CLI, batches, eval)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import metadata

from graders.auto_rubric import (
    ADHOC_PREFIX,
    AutoKeyPoint,
    adhoc_lesson,
    llm_key_points,
    split_reference,
)
from graders.calibration import Calibration, CalibrationEntry, question_key
from graders.choices import ChoiceOutcome, grade_choice
from graders.config import GradingConfig
from graders.embedding import EmbeddingGrader, Match
from graders.ensemble import combine, embedding_status, margin_confidence
from graders.errors import AnswerTooLong, LLMRequired, UnknownLesson, UnknownQuestion
from graders.features import Features, extract
from graders.feedback import NO_ANSWER, build_feedback
from graders.llm import LLMGrade, LLMGrader, LLMGradingFailed
from graders.result import (
    Evidence,
    GradeResult,
    GraderStatus,
    GraderVerdict,
    KeyPointResult,
    Label,
    MisconceptionResult,
    Status,
    Versions,
)
from graders.text import Segment
from rubrics import Lesson, Question

log = logging.getLogger(__name__)
INLINE_CACHE = 1024  # distinct inline questions whose rubric is kept
GROUNDED = 0.5  # similarity an LLM key point needs to some sentence of the reference


def _evidence(segment: Segment | None) -> Evidence | None:
    return Evidence(text=segment.text, start=segment.start, end=segment.end) if segment else None


def _version() -> str:
    try:
        return metadata.version("rubricate")
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass
class _Draft:
    """Grading state for one answer, filled in by each grader in turn."""

    lesson: Lesson
    question: Question
    answer: str
    matches: dict[str, Match]
    llm: LLMGrade | None
    llm_status: GraderStatus


class GradingService:
    """Grades answers to the questions of the loaded lessons."""

    def __init__(
        self,
        lessons: dict[str, Lesson],
        embedding: EmbeddingGrader,
        config: GradingConfig,
        llm: LLMGrader | None = None,
        calibration: Calibration | None = None,
        calibrate_lessons: bool = False,
    ) -> None:
        self.lessons = lessons
        self.embedding = embedding
        self.config = config
        self.llm = llm
        self.version = _version()
        self.calibration = calibration
        # False: the calibration applies only to inline questions (rubrics built from a
        # reference answer, what the shipped calibration was fitted on); the YAML
        # lessons keep their hand-set scoring unless a calibration file is configured.
        self.calibrate_lessons = calibrate_lessons
        self._inline: dict[tuple[str, str, float, str | None], Lesson] = {}

    @property
    def calibrated(self) -> CalibrationEntry | None:
        """The calibration entry for this service's (embedding model, LLM) pair, if any."""
        if self.calibration is None:
            return None
        return self.calibration.entry(self.embedding.model, self.llm.model if self.llm else None)

    def find(self, lesson_id: str, question_id: str) -> tuple[Lesson, Question]:
        lesson = self.lessons.get(lesson_id)
        if lesson is None:
            raise UnknownLesson(lesson_id)
        question = lesson.question(question_id)
        if question is None:
            raise UnknownQuestion(lesson_id, question_id)
        return lesson, question

    def check_answer(self, answer: str) -> None:
        if len(answer) > self.config.max_answer_chars:
            raise AnswerTooLong(len(answer), self.config.max_answer_chars)

    async def grade(
        self,
        lesson_id: str,
        question_id: str,
        answer: str,
        *,
        student_id: str | None = None,
        require_llm: bool = False,
    ) -> GradeResult:
        lesson, question = self.find(lesson_id, question_id)
        result, _ = await self.grade_question(
            lesson, question, answer, student_id=student_id, require_llm=require_llm
        )
        return result

    async def grade_inline(
        self,
        prompt: str,
        reference_answer: str,
        answer: str,
        *,
        max_score: float = 1.0,
        question_id: str | None = None,
        student_id: str | None = None,
        require_llm: bool = False,
    ) -> GradeResult:
        """Grade an answer to a question given only as text and reference answer.

        Its rubric is built from the reference answer (graders/auto_rubric.py) and its
        phrasings are embedded once per distinct question.
        """
        lesson = await self.inline_lesson(prompt, reference_answer, max_score, question_id)
        result, _ = await self.grade_question(
            lesson, lesson.questions[0], answer, student_id=student_id, require_llm=require_llm
        )
        return result

    async def inline_lesson(
        self, prompt: str, reference_answer: str, max_score: float, question_id: str | None
    ) -> Lesson:
        """The rubric of an inline question, built once per distinct question.

        With the LLM ready, it extracts and rephrases the key points; only points that
        resemble the reference answer are kept, beside the plain split of the reference.
        """
        key = (prompt, reference_answer, max_score, question_id)
        lesson = self._inline.get(key)
        if lesson is None:
            points = None
            if self.llm is not None and self.llm.ready:
                extracted = await llm_key_points(self.llm.client, prompt, reference_answer)
                points = await self._grounded(extracted, reference_answer, prompt)
            lesson = adhoc_lesson(
                prompt, reference_answer, max_score, question_id=question_id, key_points=points
            )
            await self.embedding.prepare_question(lesson)
            self._inline[key] = lesson
            while len(self._inline) > INLINE_CACHE:
                self._inline.pop(next(iter(self._inline)))
        return lesson

    async def _grounded(
        self, points: list[AutoKeyPoint], reference: str, prompt: str
    ) -> list[AutoKeyPoint]:
        """Drop LLM key points that say something the reference answer does not."""
        split = split_reference(reference, prompt)
        sentences = [phrasing for p in split for phrasing in p.phrasings]
        similarity = await self.embedding.similarities([p.text for p in points], sentences)
        kept = [p for p, row in zip(points, similarity, strict=True) if row.max() >= GROUNDED]
        return kept or split

    async def grade_question(
        self,
        lesson: Lesson,
        question: Question,
        answer: str,
        *,
        student_id: str | None = None,
        require_llm: bool = False,
        features: bool = False,
    ) -> tuple[GradeResult, Features | None]:
        """Grade against a given (lesson, question); with ``features`` also return them.

        With a calibration for this service's models, the score and label come from it.
        """
        self.check_answer(answer)
        empty = not answer.strip()
        matches = await self.embedding.match(lesson.id, question, answer)
        llm, llm_status = await self._llm(lesson, question, answer, empty=empty)
        if require_llm and llm is None:
            raise LLMRequired(llm_status.reason or llm_status.state)
        draft = _Draft(lesson, question, answer, matches, llm, llm_status)
        result = self._result(draft, student_id=student_id, empty=empty)
        entry = self.calibrated if self._calibrates(lesson, question) else None
        if not features and entry is None:
            return result, None
        values = await extract(self.embedding, self.config, question, answer, result)
        if entry is not None:
            result = self._calibrated(result, lesson, question, entry, values)
        return result, values

    def _calibrates(self, lesson: Lesson, question: Question) -> bool:
        if question.choices:
            return False
        return self.calibrate_lessons or lesson.id.startswith(ADHOC_PREFIX)

    def _calibrated(
        self,
        result: GradeResult,
        lesson: Lesson,
        question: Question,
        entry: CalibrationEntry,
        values: Features,
    ) -> GradeResult:
        assert self.calibration is not None
        key = question_key(question.prompt, question.reference_answer)
        prediction = entry.predict([values], [key])[0]
        percent = prediction.percent
        versions = result.versions.model_copy(update={"calibration": self.calibration.version})
        return result.model_copy(
            update={
                "score": round(percent * result.max_score, 3),
                "percent": percent,
                "label": prediction.label,
                "versions": versions,
                "feedback": build_feedback(
                    lesson,
                    result.key_points,
                    result.misconceptions,
                    prediction.label,
                    empty=result.feedback.summary == NO_ANSWER,
                ),
            }
        )

    async def _llm(
        self, lesson: Lesson, question: Question, answer: str, *, empty: bool
    ) -> tuple[LLMGrade | None, GraderStatus]:
        if self.llm is None:
            return None, GraderStatus(state="disabled", reason="no LLM configured")
        if empty:
            return None, GraderStatus(state="skipped", model=self.llm.model, reason="empty answer")
        try:
            grade = await self.llm.grade(lesson, question, answer)
        except LLMGradingFailed as exc:
            log.warning("LLM grader failed for %s/%s: %s", lesson.id, question.id, exc)
            return None, GraderStatus(state="unavailable", model=self.llm.model, reason=str(exc))
        return grade, GraderStatus(state="used", model=self.llm.model, comment=grade.feedback)

    def _misconceptions(self, draft: _Draft) -> list[MisconceptionResult]:
        found: list[MisconceptionResult] = []
        for m in draft.question.misconceptions:
            match = draft.matches[m.id]
            by_embedding = match.similarity >= self.config.misconception_threshold
            llm_seen = draft.llm.misconceptions.get(m.id) if draft.llm else None
            graders = (["embedding"] if by_embedding else []) + (["llm"] if llm_seen else [])
            if not graders:
                continue
            thresholds = (self.config.misconception_threshold,)
            confidence = margin_confidence(match.similarity, thresholds) if by_embedding else 0.5
            evidence = match.evidence if by_embedding else llm_seen
            found.append(
                MisconceptionResult(
                    id=m.id,
                    text=m.text,
                    confidence=confidence if len(graders) == 1 else 1.0,
                    evidence=_evidence(evidence),
                    feedback=m.feedback,
                    lesson_key_point=m.lesson_key_point,
                    graders=graders,
                )
            )
        return found

    def _key_points(
        self, draft: _Draft, contradicted: dict[str, str]
    ) -> tuple[list[KeyPointResult], list[str]]:
        results: list[KeyPointResult] = []
        disagreements: list[str] = []
        for k in draft.question.key_points:
            match = draft.matches[k.id]
            verdicts = {
                "embedding": GraderVerdict(
                    status=embedding_status(match.similarity, self.config),
                    similarity=round(match.similarity, 4),
                    evidence=_evidence(match.evidence),
                )
            }
            llm_verdict = draft.llm.key_points.get(k.id) if draft.llm else None
            if llm_verdict is not None:
                verdicts["llm"] = llm_verdict
            combined = combine(verdicts["embedding"], llm_verdict, self.config)
            status, credit = combined.status, combined.credit
            feedback = k.feedback_met if status is Status.MET else k.feedback_missed
            if status is Status.PARTIAL:
                feedback = "Partly there. " + k.feedback_missed
            if k.id in contradicted:
                status, credit, feedback = Status.MISSING, 0.0, contradicted[k.id]
            if combined.disagreement:
                disagreements.append(k.id)
            evidence = verdicts["embedding"].evidence if status is not Status.MISSING else None
            if evidence is None and llm_verdict is not None and status is not Status.MISSING:
                evidence = llm_verdict.evidence
            results.append(
                KeyPointResult(
                    id=k.id,
                    text=k.text,
                    lesson_key_point=k.lesson_key_point,
                    weight=k.weight,
                    status=status,
                    credit=credit,
                    confidence=combined.confidence,
                    evidence=evidence,
                    feedback=feedback,
                    graders=verdicts,
                )
            )
        return results, disagreements

    def _choices(self, draft: _Draft) -> list[KeyPointResult]:
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
                evidence=_evidence(o.evidence),
                feedback=o.choice.feedback_correct if o.correct else o.choice.feedback_wrong,
                chosen=list(o.named),
                graders={
                    "choice": GraderVerdict(
                        status=Status.MET if o.correct else Status.MISSING,
                        evidence=_evidence(o.evidence),
                        reason="named: " + (", ".join(o.named) or "nothing"),
                    )
                },
            )
            for o in outcomes
        ]

    def _label(self, percent: float) -> Label:
        if percent >= self.config.correct_at:
            return Label.CORRECT
        if percent >= self.config.partially_correct_at:
            return Label.PARTIALLY_CORRECT
        return Label.INCORRECT

    def _result(self, draft: _Draft, *, student_id: str | None, empty: bool) -> GradeResult:
        misconceptions = [] if empty else self._misconceptions(draft)
        contradicted: dict[str, str] = {}
        rubric_misconceptions = {m.id: m for m in draft.question.misconceptions}
        for found in misconceptions:
            for key_point_id in rubric_misconceptions[found.id].contradicts:
                contradicted.setdefault(key_point_id, found.feedback)
        key_points, disagreements = self._key_points(draft, contradicted)
        items = key_points + self._choices(draft)
        max_score = draft.question.max_score
        score = round(sum(i.weight * i.credit for i in items), 3)
        percent = round(score / max_score, 4) if max_score else 0.0
        label = self._label(percent)
        confidence = round(min(i.confidence for i in items), 3) if items else 1.0
        reasons = [f"graders disagree on {k}" for k in disagreements]
        if not empty and confidence < self.config.review_confidence:
            reasons.append(f"low confidence ({confidence:.2f})")
        if draft.llm is not None:
            reasons.extend(draft.llm.flags)
        graders = {
            "embedding": GraderStatus(state="used", model=self.embedding.model),
            "llm": draft.llm_status,
        }
        if draft.question.choices:
            graders["choice"] = GraderStatus(state="used")
        return GradeResult(
            lesson_id=draft.lesson.id,
            question_id=draft.question.id,
            student_id=student_id,
            score=score,
            max_score=max_score,
            percent=percent,
            label=label,
            confidence=confidence,
            needs_review=bool(reasons),
            review_reasons=reasons,
            key_points=items,
            misconceptions=misconceptions,
            feedback=build_feedback(draft.lesson, items, misconceptions, label, empty=empty),
            graders=graders,
            versions=Versions(
                rubricate=self.version,
                embedding_model=self.embedding.model,
                llm_model=self.llm.model if self.llm else None,
                rubric_hash=draft.lesson.content_hash,
                calibration=self.config.calibration_version,
            ),
        )
