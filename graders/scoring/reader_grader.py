"""The reader grader: reads every key point and misconception of a question, and the question
with its reference answer, against the answer, in one batched call of the reader backend.

Concurrent requests share forward passes: what arrives while the reader is busy goes into
its next call (models.batching.MicroBatcher, as for the embedder).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from graders.scoring.exemplar_vote import GradedAnswer
from models.batching import MicroBatcher
from models.reader import Reader, Reading
from rubrics import KeyPoint, Misconception, Question

MAX_PAIRS = 96  # pairs of one reader call
CLEAR = 0.6  # a point's text read as covered at least this much needs no phrasing read
PHRASINGS = 4  # phrasings read for a point its text does not clearly cover


def answer_first(question: Question) -> str:
    """What the answer as a whole is read against: the question and its reference answer
    (the form the grade head was trained on)."""
    return f"{question.prompt} Reference: {question.reference_answer}"


@dataclass(frozen=True)
class Readings:
    """One answer, read: each key point's and each asked misconception's relation, and the
    answer graded against the question's reference answer."""

    key_points: dict[str, Reading]
    misconceptions: dict[str, Reading]  # those the reader was asked about
    answer: Reading


class ReaderGrader:
    """Reads answers with a Reader backend off the event loop, batching concurrent calls."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.model = reader.name
        self._batcher = MicroBatcher[tuple[str, str], Reading](
            reader.read, MAX_PAIRS, name="reader-batcher"
        )

    async def read(
        self, question: Question, answer: str, *, misconceptions: Collection[str] | None = None
    ) -> Readings:
        """Each key point's text, each misconception's in ``misconceptions`` (ids; None: all),
        and the question with its reference, read against the answer; then, for a point its
        text does not clearly cover, up to PHRASINGS of its phrasings (a point is often stated
        in other words, or by halves). The reading that covers most stands for the point."""
        points: list[tuple[str, KeyPoint | Misconception]] = [
            ("k:" + k.id, k) for k in question.key_points
        ]
        read = [
            m for m in question.misconceptions if misconceptions is None or m.id in misconceptions
        ]
        points += [("m:" + m.id, m) for m in read]
        firsts = [(owner, p.text) for owner, p in points]
        firsts.append(("answer", answer_first(question)))
        best = await self._best(firsts, answer, {})
        unclear = [
            (owner, text)
            for owner, p in points
            if best[owner].covers < CLEAR
            for text in [t for t in p.phrasings if t != p.text][:PHRASINGS]
        ]
        best = await self._best(unclear, answer, best)
        return Readings(
            key_points={k.id: best["k:" + k.id] for k in question.key_points},
            misconceptions={m.id: best["m:" + m.id] for m in read},
            answer=best["answer"],
        )

    async def _best(
        self, firsts: list[tuple[str, str]], answer: str, best: dict[str, Reading]
    ) -> dict[str, Reading]:
        if not firsts:
            return best
        readings = await self._submit([(text, answer) for _, text in firsts])
        best = dict(best)
        for (owner, _), reading in zip(firsts, readings, strict=True):
            if owner not in best or reading.covers > best[owner].covers:
                best[owner] = reading
        return best

    async def graded_vote(
        self, graded: list[GradedAnswer], answer: str
    ) -> tuple[float, float] | None:
        """The question's graded answers (rubric exemplars, teacher grades; the caller leaves
        out one with this very answer, and decides whether they vote at all) read against
        this answer, as a vote (graders.verdict.reader_verdicts.graded_vote)."""
        if not graded:
            return None
        readings = await self._submit([(g.answer, answer) for g in graded])
        return graded_vote([g.percent for g in graded], readings)

    async def _submit(self, pairs: list[tuple[str, str]]) -> list[Reading]:
        return await self._batcher.submit(pairs)


def graded_vote(percents: list[float], readings: list[Reading]) -> tuple[float, float] | None:
    """What the question's graded answers say of a new one, read against each: their percents
    weighted by how much the new answer says what each says; and how strongly (the best
    reading's ``covers``). None without graded answers."""
    weights = [r.covers for r in readings]
    total = sum(weights)
    if not readings or total <= 0:
        return None
    percent = sum(w * p for w, p in zip(weights, percents, strict=True)) / total
    return round(percent, 4), round(max(weights), 4)
