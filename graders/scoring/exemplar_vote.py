"""Graded example answers (exemplars, as anchor papers are used in assessment) as evidence.

A question's exemplars come from its rubric (YAML) or from answers a teacher graded. An
answer close to a graded example gets that example's verdicts unless other evidence
disagrees: the nearest exemplars vote, weighted by their closeness to the answer, on the
score, on each key point (where the exemplar says which it meets) and on each
misconception. How much the vote counts (``strength``) rises from nothing at
``exemplar_low`` similarity to ``exemplar_max_weight`` at ``exemplar_high``: a paraphrase
of a graded answer follows it, a loosely related one barely moves the grade.

A neighbour whose words say the opposite of the answer (graders.language.opposites: "keeps the
weights fixed" against "updates all the weights") casts no vote, however close the two
embed; that is the whole point of exemplars for the cases a bi-encoder cannot tell apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from graders.core.config import GradingConfig
from graders.language.opposites import difference
from graders.scoring.embedding_grader import AsyncEmbedder, Vectors
from rubrics import Question

EXEMPLAR_K = 5
TEMPERATURE = 0.03  # softmax temperature over neighbour similarities
UNSURE_WEIGHT = 0.5  # a neighbour whose polarity cannot be told counts half


@dataclass(frozen=True)
class GradedAnswer:
    """One exemplar: the answer and what a teacher decided about it.

    ``verdicts`` maps key point (and choice) ids to credit (1, 0.5, 0); None when only the
    score is known (a teacher graded the whole answer, not its parts).
    """

    answer: str
    percent: float
    label: str
    verdicts: dict[str, float] | None = None
    holds: frozenset[str] = frozenset()
    source: str = "rubric"


def rubric_exemplars(question: Question) -> list[GradedAnswer]:
    """The exemplars written in the question's rubric."""
    weights = {k.id: k.weight for k in question.key_points}
    weights |= {c.id: c.weight for c in question.choices}
    found = []
    for e in question.exemplars:
        verdicts = {i: 0.0 for i in weights} | {i: 1.0 for i in e.meets}
        verdicts |= {i: 0.5 for i in e.partial}
        earned = sum(weights[i] * credit for i, credit in verdicts.items())
        score = e.score if e.score is not None else earned
        percent = score / question.max_score if question.max_score else 0.0
        found.append(
            GradedAnswer(e.answer, round(percent, 4), e.label.value, verdicts, frozenset(e.holds))
        )
    return found


def exemplar_set_id(examples: Sequence[GradedAnswer]) -> str:
    """A short hash naming an exemplar set, so a grade records what it was made with."""
    if not examples:
        return "none"
    canonical = json.dumps(
        sorted([e.answer, e.percent, e.label, sorted(e.holds)] for e in examples),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Vote:
    """What the nearest exemplars say about an answer."""

    strength: float  # 0..exemplar_max_weight: how much the vote counts
    nearest: float  # similarity of the nearest voting exemplar
    percent: float
    key_points: dict[str, float]  # credit, from neighbours that name their key points
    misconceptions: dict[str, float]  # share of the vote holding each misconception
    neighbours: tuple[int, ...]  # indexes of the voting exemplars, nearest first
    excluded: int = 0  # close neighbours left out because they say the opposite


@dataclass
class _Bank:
    examples: list[GradedAnswer]
    vectors: Vectors
    set_id: str


@dataclass
class ExemplarBank:
    """Exemplars per (lesson, question), embedded once when set."""

    embedder: AsyncEmbedder
    config: GradingConfig
    _banks: dict[tuple[str, str], _Bank] = field(default_factory=dict)

    async def set(self, lesson_id: str, question_id: str, examples: list[GradedAnswer]) -> str:
        """Replace a question's exemplars; returns the set's id."""
        set_id = exemplar_set_id(examples)
        current = self._banks.get((lesson_id, question_id))
        if current is not None and current.set_id == set_id:
            return set_id
        if not examples:
            self._banks.pop((lesson_id, question_id), None)
            return set_id
        vectors = await self.embedder.embed([e.answer for e in examples])
        self._banks[(lesson_id, question_id)] = _Bank(examples, vectors, set_id)
        return set_id

    def examples(self, lesson_id: str, question_id: str) -> list[GradedAnswer]:
        bank = self._banks.get((lesson_id, question_id))
        return list(bank.examples) if bank else []

    def nearest(
        self,
        lesson_id: str,
        question_id: str,
        answer: str,
        vector: Vectors | None,
        k: int,
        *,
        leave_out: bool = False,
    ) -> list[GradedAnswer]:
        """The ``k`` graded examples closest to an answer (few-shot examples for the LLM)."""
        bank = self._banks.get((lesson_id, question_id))
        if bank is None or vector is None or k <= 0 or not answer.strip():
            return []
        order = [int(i) for i in np.argsort(-(bank.vectors @ vector))]
        found = [
            bank.examples[i] for i in order if not (leave_out and bank.examples[i].answer == answer)
        ]
        return found[:k]

    def set_id(self, lesson_id: str, question_id: str) -> str:
        bank = self._banks.get((lesson_id, question_id))
        return bank.set_id if bank else "none"

    def vote(
        self,
        lesson_id: str,
        question_id: str,
        answer: str,
        vector: Vectors | None,
        *,
        leave_out: bool = False,
    ) -> Vote | None:
        """The neighbours' vote on an answer, or None when no exemplar is close enough.

        ``leave_out``: an exemplar whose text is this answer does not vote.
        """
        bank = self._banks.get((lesson_id, question_id))
        if bank is None or vector is None or not answer.strip():
            return None
        low, high = self.config.exemplar_low, self.config.exemplar_high
        sims = bank.vectors @ vector
        order = [int(i) for i in np.argsort(-sims) if sims[i] >= low]
        picked: list[tuple[int, float]] = []
        excluded = 0
        for i in order:
            if leave_out and bank.examples[i].answer == answer:
                continue
            if sims[i] >= 0.999:  # the same text: no difference to look for
                meaning = "same"
            else:
                meaning = difference(answer, bank.examples[i].answer).meaning
            if meaning == "opposite":
                excluded += 1
                continue
            picked.append((i, UNSURE_WEIGHT if meaning == "unsure" else 1.0))
            if len(picked) == EXEMPLAR_K:
                break
        if not picked:
            return None
        indexes = [i for i, _ in picked]
        top = float(sims[indexes[0]])
        raw = np.exp((sims[indexes] - top) / TEMPERATURE) * np.array([w for _, w in picked])
        weights = raw / raw.sum()
        strength = self.config.exemplar_max_weight * float(
            np.clip((top - low) / max(high - low, 1e-6), 0.0, 1.0)
        )
        strength *= picked[0][1]
        examples = [bank.examples[i] for i in indexes]
        percent = float(sum(w * e.percent for w, e in zip(weights, examples, strict=True)))
        named = [(w, e) for w, e in zip(weights, examples, strict=True) if e.verdicts is not None]
        key_points: dict[str, float] = {}
        if named:
            total = sum(w for w, _ in named)
            ids = {i for _, e in named for i in (e.verdicts or {})}
            key_points = {
                i: float(sum(w * (e.verdicts or {}).get(i, 0.0) for w, e in named) / total)
                for i in ids
            }
        held = {m for e in examples for m in e.holds}
        misconceptions = {
            m: float(sum(w for w, e in zip(weights, examples, strict=True) if m in e.holds))
            for m in held
        }
        return Vote(
            strength=round(strength, 4),
            nearest=round(top, 4),
            percent=round(percent, 4),
            key_points=key_points,
            misconceptions=misconceptions,
            neighbours=tuple(indexes),
            excluded=excluded,
        )
