"""Asking the LLM for one answer's verdicts, within a deadline when there is one.

A failed, skipped or late LLM never fails the grade: the result names the LLM's state
(used, skipped, unavailable, disabled) and why, and the embedding grade stands.

Whoever asks for an interactive grade may hand in a ``Progress``: the step reports into it
when the answer starts waiting for the LLM (its embedding grade done, the LLM admitted).
Load shedding in the HTTP layer counts a request only until then: the LLM wait is bounded
by admission control and the interactive budget, not by the service's own capacity.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from graders.core.result import GraderStatus
from graders.scoring.embedding_findings import KeyPointPhrasings
from graders.scoring.exemplar_vote import GradedAnswer
from graders.scoring.llm_grader import LLMGrade, LLMGrader, LLMGradingFailed
from graders.service.llm_admission import Admission, Decision
from rubrics import Lesson, Question

log = logging.getLogger(__name__)


class Progress(Protocol):
    """How one grading call goes, reported to whoever asked for it (one object a call)."""

    def waiting_for_llm(self) -> None:
        """The answer's own grading is done; from now on it waits for the LLM."""


class LLMStep:
    def __init__(self, llm: LLMGrader | None, admission: Admission) -> None:
        self.llm = llm
        self.admission = admission

    async def verdict(
        self,
        lesson: Lesson,
        question: Question,
        answer: str,
        *,
        empty: bool,
        budget_s: float | None,
        background: bool = False,
        examples: Sequence[GradedAnswer] = (),
        phrasings: KeyPointPhrasings | None = None,
        progress: Progress | None = None,
    ) -> tuple[LLMGrade | None, GraderStatus]:
        """``background``: a refinement pass; no deadline but the client's own timeout, and
        counted in the admission queue so interactive requests see the load it makes.
        ``phrasings``: what the LLM's evidence quotes are checked against (LLMGrader.grade).
        ``progress``: told when the answer starts waiting for the LLM (not when skipped)."""
        if self.llm is None:
            return None, GraderStatus(state="disabled", reason="no LLM configured")
        if empty:
            return None, GraderStatus(state="skipped", model=self.llm.model, reason="empty answer")
        if not self.llm.ready:
            return None, GraderStatus(
                state="unavailable", model=self.llm.model, reason=self.llm.state_reason
            )
        if background:
            decision: Decision | None = Decision(True, "background", self.admission.expected())
        else:
            decision = self.admission.decide(budget_s) if budget_s is not None else None
        if decision is not None and not decision.admitted:
            return None, GraderStatus(state="skipped", model=self.llm.model, reason=decision.reason)
        if progress is not None:
            progress.waiting_for_llm()  # the embedding grade is done: the LLM's capacity now
        try:
            if decision is None:
                grade = await self.llm.grade(lesson, question, answer, examples, phrasings)
            else:
                grade = await self._within(
                    decision, budget_s, lesson, question, answer, examples, phrasings
                )
        except TimeoutError:
            reason = f"no verdict within the {budget_s:g} s budget"
            return None, GraderStatus(state="skipped", model=self.llm.model, reason=reason)
        except LLMGradingFailed as exc:
            log.warning("LLM grader failed for %s/%s: %s", lesson.id, question.id, exc)
            return None, GraderStatus(state="unavailable", model=self.llm.model, reason=str(exc))
        return grade, GraderStatus(state="used", model=self.llm.model, comment=grade.feedback)

    async def _within(
        self,
        decision: Decision,
        budget_s: float | None,
        lesson: Lesson,
        question: Question,
        answer: str,
        examples: Sequence[GradedAnswer],
        phrasings: KeyPointPhrasings | None,
    ) -> LLMGrade:
        assert self.llm is not None
        with self.admission.call(decision) as outcome:
            try:
                async with asyncio.timeout(budget_s):
                    grade = await self.llm.grade(lesson, question, answer, examples, phrasings)
            except TimeoutError:
                outcome.cut()
                raise
            outcome.ok()
            return grade
