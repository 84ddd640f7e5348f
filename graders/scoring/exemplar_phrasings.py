"""Graded example answers as phrasings: the students' own words for each key point.

A rubric's phrasings are a teacher's words; students write otherwise ("doesnt touch the
original weights"). An exemplar that a teacher marked as meeting a key point says, in a
student's words, something that counts for it: its segment nearest to the key point's
phrasings becomes one more phrasing row of that key point. Likewise for a misconception
it holds. The segments of an exemplar that meets nothing and holds nothing (off-topic
answers that share the question's words) become rows of ``NOTHING``: a student segment
nearer to one of them than to any key point earns nothing from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from graders.language.segments import segments
from rubrics import Question

NOTHING = "\x00nothing"
MIN_FIT = 0.35  # a segment less similar than this to every phrasing of its point is not used


@dataclass(frozen=True)
class Row:
    owner: str
    text: str
    alternative: int
    vector: NDArray[np.float32]


def exemplar_segments(question: Question) -> list[tuple[int, str]]:
    """(exemplar index, segment text) for every exemplar of the question, in order."""
    return [(i, s.text) for i, e in enumerate(question.exemplars) for s in segments(e.answer)]


def exemplar_rows(
    question: Question,
    pieces: list[tuple[int, str]],
    piece_vectors: NDArray[np.float32],
    owners: NDArray[np.str_],
    alternatives: NDArray[np.int64],
    vectors: NDArray[np.float32],
) -> list[Row]:
    """Rows to add to a question's phrasing index, from its exemplars' segments."""
    key_points = {k.id for k in question.key_points}
    misconceptions = {m.id for m in question.misconceptions}
    rows: list[Row] = []
    for index, exemplar in enumerate(question.exemplars):
        mine = [j for j, (owner, _) in enumerate(pieces) if owner == index]
        if not mine:
            continue
        named = [k for k in exemplar.meets if k in key_points]
        named += [m for m in exemplar.holds if m in misconceptions]
        if not named and not exemplar.partial:
            rows += [Row(NOTHING, pieces[j][1], -1, piece_vectors[j]) for j in mine]
            continue
        # Each segment speaks for the one point it fits best, so a sentence that meets
        # three key points does not become a phrasing of all three.
        fits = {
            owner: piece_vectors[mine] @ vectors[owners == owner].T
            for owner in named
            if (owners == owner).any()
        }
        if not fits:
            continue
        best_owner = np.array(
            [max(fits, key=lambda o: float(fits[o][j].max())) for j in range(len(mine))]
        )
        for owner, sims in fits.items():
            own = np.flatnonzero(best_owner == owner)
            if not len(own):
                continue
            local = sims[own]
            row, column = np.unravel_index(int(np.argmax(local)), local.shape)
            if float(local[row, column]) < MIN_FIT:
                continue
            j = mine[int(own[int(row)])]
            alternative = int(alternatives[np.flatnonzero(owners == owner)[int(column)]])
            rows.append(Row(owner, pieces[j][1], alternative, piece_vectors[j]))
    return rows
