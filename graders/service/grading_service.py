"""GradingService: the one place an answer is graded, whoever asks (API, CLI, batches, eval)."""

from __future__ import annotations

import dataclasses
from importlib import metadata

from graders.calibration.calibrated_grade import CalibratedScore, calibrated_score, reader_features
from graders.calibration.calibration_file import Calibration
from graders.calibration.features import Features, extract
from graders.calibration.prediction import CalibrationEntry
from graders.calibration.question_fit import QuestionFit, fit_question
from graders.core.config import GradingConfig
from graders.core.errors import AnswerTooLong, LLMRequired, UnknownLesson, UnknownQuestion
from graders.core.result import GradeResult
from graders.language.rubric_from_reference import ADHOC_PREFIX
from graders.scoring.embedding_grader import EmbeddingGrader
from graders.scoring.exemplar_vote import ExemplarBank, GradedAnswer, Vote, rubric_exemplars
from graders.scoring.llm_grader import LLMGrader
from graders.scoring.reader_grader import ReaderGrader
from graders.service.graded_reading import read_graded_vote
from graders.service.inline_rubrics import InlineRubrics, InlineSpec
from graders.service.llm_admission import Admission
from graders.service.llm_step import LLMStep, Progress
from graders.verdict.assemble_result import Assembler, Draft
from rubrics import Lesson, Question


def _version() -> str:
    try:
        return metadata.version("rubricate")
    except metadata.PackageNotFoundError:
        return "0+unknown"


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
        admission: Admission | None = None,
        llm_budget_s: float | None = None,
        reader: ReaderGrader | None = None,
    ) -> None:
        self.lessons = lessons
        self.embedding = embedding
        self.config = config
        self.llm = llm
        self.reader = reader
        self.version = _version()
        self.calibration = calibration
        # False: the calibration applies only to inline questions (rubrics built from a
        # reference answer, what the shipped calibration was fitted on); the YAML
        # lessons keep their hand-set scoring unless a calibration file is configured.
        self.calibrate_lessons = calibrate_lessons
        self.inline = InlineRubrics(embedding, llm)
        # The interactive budget: how long grade() and grade_inline() let the LLM take
        # (None: as long as it needs). Admission control skips the LLM when it cannot.
        self.llm_budget_s = llm_budget_s
        self.admission = admission or Admission(slots=8)
        self._llm_step = LLMStep(llm, self.admission)
        self.exemplars = ExemplarBank(embedding.embedder, config)
        self._fits: dict[tuple[str, str], QuestionFit] = {}
        self.assembler = Assembler(
            config,
            embedding.model,
            llm.model if llm else None,
            self.version,
            reader.model if reader else None,
        )

    async def prepare_exemplars(self) -> None:
        """Embed the exemplars written in every loaded lesson's rubric (once, at start-up)."""
        for lesson in self.lessons.values():
            for question in lesson.questions:
                await self.exemplars.set(lesson.id, question.id, rubric_exemplars(question))

    async def set_exemplars(
        self, lesson: Lesson, question: Question, graded: list[GradedAnswer]
    ) -> str:
        """A question's exemplars: its rubric's, plus answers a teacher graded for it.

        On a calibrated question (a new one, rubric built from its reference answer) the
        teacher's grades also fit its score offset and label cuts
        (graders.calibration.question_fit).
        """
        key = (lesson.id, question.id)
        set_id = await self.exemplars.set(*key, [*rubric_exemplars(question), *graded])
        self._fits.pop(key, None)
        if graded and self.calibrated is not None and self._calibrates(lesson, question):
            predicted = [
                (await self.grade_question(lesson, question, g.answer, leave_out=True))[0].percent
                for g in graded
            ]
            self._fits[key] = fit_question(
                predicted,
                [g.percent for g in graded],
                [g.label for g in graded],
                (self.config.partially_correct_at, self.config.correct_at),
            )
        return set_id

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
        """AnswerTooLong past ``max_answer_chars`` (a setting: every path, HTTP or not)."""
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
        wait_for_llm: bool = False,
        progress: Progress | None = None,
    ) -> GradeResult:
        """Grade within the interactive budget, unless ``require_llm`` or ``wait_for_llm``;
        ``progress``: told when the answer starts waiting for the LLM (see LLMStep)."""
        lesson, question = self.find(lesson_id, question_id)
        result, _ = await self.grade_question(
            lesson,
            question,
            answer,
            student_id=student_id,
            require_llm=require_llm,
            budget_s=self._budget(require_llm or wait_for_llm),
            progress=progress,
        )
        return result

    def _budget(self, wait: bool) -> float | None:
        return None if wait else self.llm_budget_s

    async def grade_inline(
        self,
        spec: InlineSpec,
        answer: str,
        *,
        student_id: str | None = None,
        require_llm: bool = False,
        progress: Progress | None = None,
    ) -> GradeResult:
        """Grade an answer to a question given only as text and reference answer.

        Its rubric is built from the reference answer
        (graders/language/rubric_from_reference.py) and its phrasings are embedded once per
        distinct question. An answer over the limit is refused before (it may ask the LLM).
        """
        self.check_answer(answer)
        lesson = await self.inline_lesson(
            spec.prompt, spec.reference_answer, spec.max_score, spec.question_id
        )
        result, _ = await self.grade_question(
            lesson,
            lesson.questions[0],
            answer,
            student_id=student_id,
            require_llm=require_llm,
            budget_s=self._budget(require_llm),
            progress=progress,
        )
        return result

    async def inline_lesson(
        self, prompt: str, reference_answer: str, max_score: float, question_id: str | None
    ) -> Lesson:
        """The rubric of an inline question, built once per distinct question."""
        return await self.inline.lesson(prompt, reference_answer, max_score, question_id)

    async def grade_question(
        self,
        lesson: Lesson,
        question: Question,
        answer: str,
        *,
        student_id: str | None = None,
        require_llm: bool = False,
        features: bool = False,
        leave_out: bool = False,
        budget_s: float | None = None,
        background: bool = False,
        progress: Progress | None = None,
    ) -> tuple[GradeResult, Features | None]:
        """Grade against a given (lesson, question); with ``features`` also return them.

        With a calibration for this service's models, the score and label come from it.
        ``leave_out``: an exemplar with this very answer does not vote (fitting a question
        on its own graded answers). ``budget_s``: the LLM is asked only if admission control
        expects its verdict within this many seconds, and never waited for longer (None:
        wait as long as the LLM client's own timeout). ``background``: the refinement pass.
        ``progress``: told when the answer starts waiting for the LLM.
        """
        self.check_answer(answer)
        empty = not answer.strip()
        # The whole answer is embedded only for a question that has exemplars to vote.
        voters = self.exemplars.set_id(lesson.id, question.id) != "none"
        matching = await self.embedding.match(lesson.id, question, answer, whole_answer=voters)
        key, vector = (lesson.id, question.id), matching.answer_vector
        vote = self.exemplars.vote(*key, answer, vector, leave_out=leave_out)
        shown = self.exemplars.nearest(
            *key, answer, vector, self.config.llm_examples, leave_out=leave_out
        )
        llm, llm_status = await self._llm_step.verdict(
            lesson,
            question,
            answer,
            empty=empty,
            budget_s=budget_s,
            background=background,
            examples=shown,
            phrasings=self.embedding.phrasings(lesson.id, question.id),
            progress=progress,
        )
        if require_llm and llm is None:
            raise LLMRequired(llm_status.reason or llm_status.state)
        draft = Draft(lesson, question, answer, matching, llm, llm_status)
        entry = self.calibrated if self._calibrates(lesson, question) else None
        # A calibrated question takes the exemplars' vote after calibration (below).
        draft.vote = vote if entry is None else None
        draft.exemplar_set = self.exemplars.set_id(lesson.id, question.id)
        if self.reader is not None and not empty and question.key_points:
            asked = self.assembler.to_confirm(draft)  # the only misconceptions it need read
            draft.readings = await self.reader.read(question, answer, misconceptions=asked)
        if not features and entry is None:
            return self.assembler.result(draft, student_id=student_id, empty=empty), None
        # Features read the findings without the reader (what the calibration was fit on).
        bare = draft if draft.readings is None else dataclasses.replace(draft, readings=None)
        plain = self.assembler.findings(bare, empty=empty)
        values = await extract(self.embedding, self.config, question, answer, plain)
        if draft.readings is not None:
            values |= reader_features(draft.readings)
        score = None
        if entry is not None:
            score = await self._calibrated_score(draft, entry, values, vote, leave_out)
        found = plain if draft.readings is None else None  # else the reader's findings stand
        result = self.assembler.result(
            draft, student_id=student_id, empty=empty, findings=found, calibrated=score
        )
        return result, values

    async def _calibrated_score(
        self,
        draft: Draft,
        entry: CalibrationEntry,
        values: Features,
        vote: Vote | None,
        leave_out: bool,
    ) -> CalibratedScore:
        """The calibration's score and label, with the vote, the reader and the question's fit."""
        assert self.calibration is not None
        read_vote = await read_graded_vote(
            self.reader, self.exemplars, draft, entry, self.config, leave_out
        )
        return calibrated_score(
            draft.question,
            entry,
            values,
            vote,
            self._fits.get((draft.lesson.id, draft.question.id)),
            self.calibration,
            self.config,
            draft.readings,
            read_vote,
        )

    def _calibrates(self, lesson: Lesson, question: Question) -> bool:
        if question.choices:
            return False
        return self.calibrate_lessons or lesson.id.startswith(ADHOC_PREFIX)
