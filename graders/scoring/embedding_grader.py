"""The embedding grader: best similarity between the answer's segments and each phrasing.

Rubric phrasings are embedded once at start-up (and cached on disk by model and rubric
hash); an answer costs one encode of its segments. Segments that restate the question
or quote the rubric's ids count for nothing. A negated segment matched against a
plain phrasing (or the reverse) loses ``negation_penalty`` of similarity, so "SFT does not
teach new facts" does not count as the misconception "SFT teaches new facts"; and a
misconception counts only on segments nearer to it than to any correct key point.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from graders.core.config import GradingConfig
from graders.language.segments import is_negated, segments
from graders.scoring.embedding_findings import (
    Abstention,
    KeyPointPhrasings,
    Match,
    Matching,
    PhrasingIndex,
)
from graders.scoring.exemplar_phrasings import NOTHING, exemplar_rows, exemplar_segments
from graders.scoring.misconception_assertion import misconception_evidence
from models.embedder import TokenVectors
from rubrics import Lesson, Question

log = logging.getLogger(__name__)
Vectors = NDArray[np.float32]


class AsyncEmbedder(Protocol):
    name: str

    async def embed(self, texts: Sequence[str]) -> Vectors: ...


QUESTION = "\x00question"


def _id_pattern(lesson: Lesson) -> re.Pattern[str] | None:
    """Rubric ids written out ("when-to-apply"): an answer quoting them quotes the rubric."""
    ids = [k.id for q in lesson.questions for k in q.key_points]
    ids += [m.id for q in lesson.questions for m in q.misconceptions]
    ids = [i for i in dict.fromkeys(ids) if "-" in i or "_" in i]
    if not ids:
        return None
    return re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)), re.I)


def _phrasings(question: Question) -> list[tuple[str, str, int]]:
    """(owner, text, alternative) rows: the prompt first, then key points, misconceptions."""
    rows = [(QUESTION, question.prompt, -1)]
    for k in question.key_points:
        rows += [(k.id, p, -1) for p in k.phrasings]
        rows += [(k.id, p, j) for j, option in enumerate(k.alternatives) for p in option]
    rows += [(m.id, p, -1) for m in question.misconceptions for p in m.phrasings]
    return rows


def _best_of(columns: Vectors, alternatives: NDArray[np.int64], needs: int) -> tuple[float, int]:
    """Similarity and best segment row of a key point: its best phrasing, or the mean of
    its ``needs`` best-matched alternatives (each by its best phrasing and segment)."""
    row, _ = np.unravel_index(int(np.argmax(columns)), columns.shape)
    if needs <= 1:
        return float(columns[row].max()), int(row)
    per_option = [columns[:, alternatives == j].max() for j in sorted(set(alternatives) - {-1})]
    best = sorted(per_option, reverse=True)[:needs]
    return float(np.sum(best) / needs), int(row)


@dataclass(frozen=True)
class Alignment:
    precision: float
    recall: float
    f1: float
    recall_new: float


def align(answer: TokenVectors, reference: TokenVectors, question: TokenVectors) -> Alignment:
    """Greedy token matching by cosine, as in BERTScore (Zhang et al., ICLR 2020)."""
    if not len(answer.vectors) or not len(reference.vectors):
        return Alignment(0.0, 0.0, 0.0, 0.0)
    sims = answer.vectors @ reference.vectors.T
    best_for_reference = sims.max(axis=0)
    precision = float(sims.max(axis=1).mean())
    recall = float(best_for_reference.mean())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    asked = set(question.ids)
    new = np.array([i not in asked for i in reference.ids], dtype=bool)
    recall_new = float(best_for_reference[new].mean()) if new.any() else recall
    return Alignment(precision, recall, f1, recall_new)


class EmbeddingGrader:
    """Scores answers against prepared phrasing indexes, one per (lesson, question)."""

    def __init__(self, embedder: AsyncEmbedder, config: GradingConfig) -> None:
        self.embedder = embedder
        self.config = config
        self._indexes: dict[tuple[str, str], PhrasingIndex] = {}

    @property
    def model(self) -> str:
        return self.embedder.name

    async def prepare(self, lessons: Sequence[Lesson], cache_dir: Path | None) -> None:
        """Embed every phrasing of every lesson, reading and writing the disk cache."""
        for lesson in lessons:
            rows = [(q.id, *row) for q in lesson.questions for row in _phrasings(q)]
            pieces = {q.id: exemplar_segments(q) for q in lesson.questions}
            texts = [r[2] for r in rows] + [t for q in lesson.questions for _, t in pieces[q.id]]
            vectors = await self._cached_vectors(lesson, texts, cache_dir)
            piece_vectors = vectors[len(rows) :]
            ids = _id_pattern(lesson)
            start = 0
            for question in lesson.questions:
                picks = [i for i, row in enumerate(rows) if row[0] == question.id]
                own, prompt = picks[1:], picks[0]  # the question's prompt comes first
                owners = np.array([rows[i][1] for i in own])
                alternatives = np.array([rows[i][3] for i in own], dtype=np.int64)
                count = len(pieces[question.id])
                extra = exemplar_rows(
                    question,
                    pieces[question.id],
                    piece_vectors[start : start + count],
                    owners,
                    alternatives,
                    vectors[own],
                )
                start += count
                key_point_ids = {k.id for k in question.key_points}
                texts_of = [rows[i][2] for i in own] + [r.text for r in extra]
                owners = np.array([*owners.tolist(), *(r.owner for r in extra)])
                self._indexes[(lesson.id, question.id)] = PhrasingIndex(
                    owners=owners,
                    alternatives=np.array(
                        [*alternatives.tolist(), *(r.alternative for r in extra)], dtype=np.int64
                    ),
                    needs={k.id: k.needs for k in question.key_points if k.needs > 1},
                    key_points=np.isin(owners, [k.id for k in question.key_points]),
                    vectors=np.vstack([vectors[own], *(r.vector[None, :] for r in extra)]),
                    negated=np.array([is_negated(t) for t in texts_of], dtype=bool),
                    question=vectors[prompt],
                    ids=ids,
                    texts=tuple(texts_of),
                    strict=np.array(
                        [False] * len(own) + [r.owner not in key_point_ids for r in extra],
                        dtype=bool,
                    ),
                    contradicts={m.id: tuple(m.contradicts) for m in question.misconceptions},
                )

    def prepared(self, lesson_id: str, question_id: str) -> bool:
        return (lesson_id, question_id) in self._indexes

    async def prepare_question(self, lesson: Lesson, cache_dir: Path | None = None) -> None:
        """Prepare an ad-hoc lesson (an inline question) once; later calls are free.

        Its lesson id carries its content hash (see graders.language.rubric_from_reference), so
        a changed question is a new index and an unchanged one is never embedded twice.
        """
        if all(self.prepared(lesson.id, q.id) for q in lesson.questions):
            return
        await self.prepare([lesson], cache_dir)

    async def similarities(self, texts: Sequence[str], others: Sequence[str]) -> Vectors:
        """Cosine similarity of every text to every other text, shape (len(texts), len(others))."""
        if not texts or not others:
            return np.zeros((len(texts), len(others)), dtype=np.float32)
        vectors = await self.embedder.embed([*texts, *others])
        return np.asarray(vectors[: len(texts)] @ vectors[len(texts) :].T, dtype=np.float32)

    async def alignment(self, answer: str, reference: str, question: str) -> Alignment | None:
        """BERTScore-style token alignment of the answer with the reference answer.

        Precision: how much of the answer matches something in the reference; recall: how
        much of the reference the answer covers; ``recall_new``: recall over the reference's
        tokens that the question does not already contain, so restating the question earns
        nothing. None when the embedder gives no token vectors.
        """
        embed_tokens = getattr(self.embedder, "embed_tokens", None)
        if embed_tokens is None:
            return None
        found: list[TokenVectors] | None = await embed_tokens([answer, reference, question])
        if found is None:
            return None
        return align(*found)

    async def _cached_vectors(
        self, lesson: Lesson, texts: list[str], cache_dir: Path | None
    ) -> Vectors:
        safe_model = re.sub(r"[^A-Za-z0-9_.-]", "_", self.model)
        path = (
            cache_dir / f"{lesson.id}-{safe_model}-{lesson.content_hash}.npy" if cache_dir else None
        )
        if path is not None and path.exists():
            try:
                cached = np.load(path)
                if cached.shape[0] == len(texts):
                    return np.asarray(cached, dtype=np.float32)
            except (OSError, ValueError) as exc:
                log.warning("ignoring unreadable embedding cache %s: %s", path, exc)
        vectors = await self.embedder.embed(texts)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # One partial file a process: API and workers may start together on one cache.
            partial = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
            np.save(partial, vectors)
            partial.replace(path)
        return vectors

    async def match(
        self, lesson_id: str, question: Question, answer: str, *, whole_answer: bool = True
    ) -> Matching:
        """Best similarity and evidence for every key point and misconception of the question.

        ``whole_answer``: also embed the whole answer (for the exemplars' vote); without it,
        a one-segment answer's vector is still given, a longer one's is None.
        """
        index = self._indexes[(lesson_id, question.id)]
        pieces = segments(answer)
        owners = dict.fromkeys(str(o) for o in index.owners if o != NOTHING)
        if not pieces:
            return Matching({owner: Match(0.0, None) for owner in owners})
        texts = [p.text for p in pieces]
        whole = len(pieces) > 1 or pieces[0].text != answer.strip()
        vectors = await self.embedder.embed(
            [*texts, answer.strip()] if whole and whole_answer else texts
        )
        answer_vector = vectors[-1] if whole_answer or not whole else None
        vectors = vectors[: len(pieces)]
        sims = vectors @ index.vectors.T
        # Restating the question, asking one, or quoting the rubric's ids is not an answer.
        echo = (vectors @ index.question) >= self.config.question_echo_threshold
        echo |= np.array([p.text.rstrip("\"'\u201d\u2019) ").endswith("?") for p in pieces])
        if index.ids is not None:
            echo |= np.array([index.ids.search(p.text) is not None for p in pieces], dtype=bool)
        sims[echo, :] = -1.0
        negated = np.array([is_negated(p.text) for p in pieces], dtype=bool)
        sims = sims - self.config.negation_penalty * (negated[:, None] != index.negated[None, :])
        # A student's segment shows what an exemplar's misconception (or nothing-earning)
        # segment shows only when it nearly repeats it: those rows are a student's words,
        # less exact than a teacher's phrasing.
        strict = (sims < self.config.exemplar_row_threshold) & index.strict[None, :]
        sims[strict] = -1.0
        abstentions: list[Abstention] = []
        key_point_columns = index.key_points
        if key_point_columns.any() and not key_point_columns.all():
            sims, abstentions = misconception_evidence(index, pieces, sims, self.config)
        found: dict[str, Match] = {}
        for owner in owners:
            mine = index.owners == owner
            needs = index.needs.get(owner, 1)
            best, row = _best_of(sims[:, mine], index.alternatives[mine], needs)
            found[owner] = Match(best, pieces[row] if best > 0 else None)
        return Matching(found, tuple(abstentions), answer_vector)

    def phrasings(self, lesson_id: str, question_id: str) -> KeyPointPhrasings:
        """The question's phrasing vectors, for the LLM grader's evidence check."""
        index = self._indexes[(lesson_id, question_id)]
        return KeyPointPhrasings(index.owners, index.vectors)
