"""Features of one graded answer, the input of a calibration (see graders/calibration/).

All come from the graders' own output plus a few whole-answer similarities, computed
through the EmbeddingGrader (so they use the same model and the same embedding cache):

- key point similarities: mean, max, min, spread, mean of the better half; share met /
  partial under the configured thresholds; the rubric coverage score itself;
- answer segments against the reference's key points: how much of the answer is on topic;
- cosine of the whole answer to the reference answer and to the question text (restating
  the question is not an answer), and their difference;
- token alignment with the reference (BERTScore-like precision, recall, F1, and recall
  over the reference's tokens that the question lacks), see ``EmbeddingGrader.alignment``;
- word overlap with the reference's content words that the question lacks (stemmed), as
  recall and precision: the classic "question demoting" overlap of short-answer grading;
- length: words (log), ratio to the reference's; negated share of segments;
- the LLM's verdicts where present: share met / partial, and a flag that it was used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

from graders.core.config import GradingConfig
from graders.core.result import KeyPointResult, MisconceptionResult, Status
from graders.language.segments import is_negated, segments
from graders.language.words import FUNCTION_WORDS, stemmer
from graders.scoring.embedding_grader import EmbeddingGrader
from rubrics import Question

FEATURES: tuple[str, ...] = (
    "coverage",
    "kp_mean",
    "kp_max",
    "kp_min",
    "kp_std",
    "kp_top_half",
    "kp_met",
    "kp_partial",
    "seg_best_mean",
    "seg_best_max",
    "seg_on_topic",
    "cos_ref",
    "cos_question",
    "ref_minus_question",
    "align_precision",
    "align_recall",
    "align_f1",
    "align_recall_new",
    "new_word_recall",
    "new_word_precision",
    "log_words",
    "length_ratio",
    "negated_share",
    "misconceptions",
    "empty",
    "llm_used",
    "llm_met",
    "llm_partial",
)

Features = dict[str, float]


class Coverage(Protocol):
    """What the features read of a grade: its items' verdicts, misconceptions and coverage."""

    @property
    def key_points(self) -> Sequence[KeyPointResult]: ...
    @property
    def misconceptions(self) -> Sequence[MisconceptionResult]: ...
    @property
    def percent(self) -> float: ...


def _words(text: str) -> int:
    return len(text.split())


_WORD = re.compile(r"[a-z0-9]+")


def content_words(text: str) -> set[str]:
    """Stemmed words of the text other than function words and single letters."""
    return set(_content_words(text))


# The reference and question texts repeat for every answer (and an answer at a regrade):
# the pure-Python stemmer was most of a calibrated grade's time.
@lru_cache(maxsize=4096)
def _content_words(text: str) -> frozenset[str]:
    words = [w for w in _WORD.findall(text.lower()) if w not in FUNCTION_WORDS and len(w) > 1]
    return frozenset(stemmer().stemWords(words))


def new_word_overlap(answer: str, reference: str, question: str) -> tuple[float, float]:
    """Recall and precision of the answer over the reference's words the question lacks."""
    said = content_words(answer)
    new = content_words(reference) - content_words(question)
    if not said or not new:
        return 0.0, 0.0
    shared = len(said & new)
    return shared / len(new), shared / len(said)


async def extract(
    embedding: EmbeddingGrader,
    config: GradingConfig,
    question: Question,
    answer: str,
    result: Coverage,
) -> Features:
    """The feature vector of one answer (a name -> value mapping, names in FEATURES).

    ``result``: what the graders found (graders.verdict's findings, or a GradeResult)."""
    values = dict.fromkeys(FEATURES, 0.0)
    sims = np.array(
        [
            k.graders["embedding"].similarity or 0.0
            for k in result.key_points
            if "embedding" in k.graders
        ],
        dtype=np.float64,
    )
    values["coverage"] = result.percent
    values["misconceptions"] = float(len(result.misconceptions))
    if not answer.strip():
        values["empty"] = 1.0
        return values
    if sims.size:
        ordered = np.sort(sims)[::-1]
        values["kp_mean"] = float(sims.mean())
        values["kp_max"] = float(sims.max())
        values["kp_min"] = float(sims.min())
        values["kp_std"] = float(sims.std())
        values["kp_top_half"] = float(ordered[: max(1, math.ceil(len(ordered) / 2))].mean())
        values["kp_met"] = float((sims >= config.met_threshold).mean())
        values["kp_partial"] = float((sims >= config.partial_threshold).mean())
    pieces = [p.text for p in segments(answer)]
    points = [k.text for k in question.key_points] or [question.reference_answer]
    # First: its encode of the whole answer also fills the cache that `whole` reads.
    alignment = await embedding.alignment(answer, question.reference_answer, question.prompt)
    if alignment is not None:
        values["align_precision"] = alignment.precision
        values["align_recall"] = alignment.recall
        values["align_f1"] = alignment.f1
        values["align_recall_new"] = alignment.recall_new
    whole = await embedding.similarities(
        [answer], [question.reference_answer, question.prompt, *pieces]
    )
    by_segment = await embedding.similarities(pieces, points)
    if by_segment.size:
        best = by_segment.max(axis=1)
        values["seg_best_mean"] = float(best.mean())
        values["seg_best_max"] = float(best.max())
        values["seg_on_topic"] = float((best >= config.partial_threshold).mean())
    values["cos_ref"] = float(whole[0, 0])
    values["cos_question"] = float(whole[0, 1])
    values["ref_minus_question"] = values["cos_ref"] - values["cos_question"]
    recall, precision = new_word_overlap(answer, question.reference_answer, question.prompt)
    values["new_word_recall"], values["new_word_precision"] = recall, precision
    words = _words(answer)
    values["log_words"] = math.log1p(words)
    values["length_ratio"] = min(5.0, words / max(1, _words(question.reference_answer)))
    values["negated_share"] = sum(map(is_negated, pieces)) / len(pieces) if pieces else 0.0
    llm = [k.graders["llm"].status for k in result.key_points if "llm" in k.graders]
    if llm:
        values["llm_used"] = 1.0
        values["llm_met"] = sum(s is Status.MET for s in llm) / len(llm)
        values["llm_partial"] = sum(s is Status.PARTIAL for s in llm) / len(llm)
    return values
