"""The rubrics of inline questions (posted with a reference answer), built once each."""

from __future__ import annotations

import dataclasses
import json

from graders.language.rubric_from_reference import (
    AutoKeyPoint,
    adhoc_lesson,
    llm_key_points,
    split_reference,
)
from graders.scoring.embedding_grader import EmbeddingGrader
from graders.scoring.llm_grader import LLMGrader
from rubrics import Lesson

INLINE_CACHE = 1024  # distinct inline questions whose rubric is kept
GROUNDED = 0.5  # similarity an LLM key point needs to some sentence of the reference


@dataclasses.dataclass(frozen=True)
class InlineSpec:
    """An inline question as posted: its prompt and reference answer (its rubric is built
    from them), its maximum score and the id it was given, if any."""

    prompt: str
    reference_answer: str
    max_score: float = 1.0
    question_id: str | None = None

    def to_json(self) -> str:
        """As a stored grade keeps it (to rebuild the rubric for a later revision)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> InlineSpec:
        return cls(**json.loads(text))


class InlineRubrics:
    """Builds and keeps the rubric of each distinct inline question (most recent 1,024)."""

    def __init__(self, embedding: EmbeddingGrader, llm: LLMGrader | None) -> None:
        self.embedding = embedding
        self.llm = llm
        self._built: dict[tuple[str, str, float, str | None], Lesson] = {}

    async def lesson(
        self, prompt: str, reference_answer: str, max_score: float, question_id: str | None
    ) -> Lesson:
        """With the LLM ready, it extracts and rephrases the key points; only points that
        resemble the reference answer are kept, beside the plain split of the reference.
        Its phrasings are embedded once."""
        key = (prompt, reference_answer, max_score, question_id)
        lesson = self._built.get(key)
        if lesson is None:
            points = None
            if self.llm is not None and self.llm.ready:
                extracted = await llm_key_points(self.llm.client, prompt, reference_answer)
                points = await self._grounded(extracted, reference_answer, prompt)
            lesson = adhoc_lesson(
                prompt, reference_answer, max_score, question_id=question_id, key_points=points
            )
            await self.embedding.prepare_question(lesson)
            self._built[key] = lesson
            while len(self._built) > INLINE_CACHE:
                self._built.pop(next(iter(self._built)))
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
