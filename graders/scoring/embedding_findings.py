"""What the embedding grader finds in an answer, and the phrasing index it searches."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from graders.language.segments import Segment

Vectors = NDArray[np.float32]


@dataclass(frozen=True)
class Match:
    """The best match of one key point or misconception in an answer."""

    similarity: float
    evidence: Segment | None


@dataclass(frozen=True)
class Abstention:
    """A misconception the embedding match pointed at but could not assert.

    ``review`` is True when the evidence does not tell which side the segment is on
    (the teacher should look); False when its words plainly say the opposite.
    """

    misconception: str
    segment: Segment
    reason: str
    review: bool


@dataclass(frozen=True)
class Matching:
    """What the embedding grader found in one answer."""

    found: dict[str, Match]
    abstentions: tuple[Abstention, ...] = ()
    answer_vector: Vectors | None = None  # the whole answer's embedding; None when empty

    def __getitem__(self, owner: str) -> Match:
        return self.found[owner]


@dataclass(frozen=True)
class KeyPointPhrasings:
    """One question's phrasing vectors by owner (from the embedding grader's index): what
    the LLM grader compares an evidence quote with, handed to it before it asks the LLM."""

    owners: NDArray[np.str_]
    vectors: Vectors

    def similarity(self, key_point_id: str, vector: Vectors) -> float:
        """Best cosine of an embedded text to the key point's own phrasings (0: none)."""
        columns = self.vectors[self.owners == key_point_id]
        return float((columns @ vector).max()) if len(columns) else 0.0


@dataclass(frozen=True)
class PhrasingIndex:
    """One question's phrasing rows; ``owners`` and ``key_points`` are per row, built once."""

    owners: NDArray[np.str_]
    alternatives: NDArray[np.int64]  # which alternative of its key point a row states, or -1
    needs: dict[str, int]  # key points met by several of their alternatives
    key_points: NDArray[np.bool_]
    vectors: Vectors
    negated: NDArray[np.bool_]
    question: Vectors
    ids: re.Pattern[str] | None
    texts: tuple[str, ...]  # the phrasing of each row
    strict: NDArray[np.bool_]  # rows from exemplars' misconceptions or nothing-earning answers
    contradicts: dict[str, tuple[str, ...]]  # misconception -> key points it cancels


def best_row(row_sims: Vectors, mine: NDArray[np.bool_]) -> int:
    """Index (into all rows) of the best-matching row among ``mine``."""
    columns = np.flatnonzero(mine)
    return int(columns[int(np.argmax(row_sims[columns]))])
