"""Which segments of an answer state a misconception: doing no harm where a bi-encoder cannot
tell a statement from its opposite (graders.language.opposites does the reading)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from graders.core.config import GradingConfig
from graders.language.opposites import difference
from graders.language.segments import Segment
from graders.scoring.embedding_findings import Abstention, PhrasingIndex, Vectors, best_row
from graders.scoring.exemplar_phrasings import NOTHING

OPPOSITE_CHECKS = 3
CLAUSE_SLACK = 0.05  # a clause stating the sentence's misconception is at most this less near


def misconception_evidence(
    index: PhrasingIndex, pieces: list[Segment], sims: Vectors, config: GradingConfig
) -> tuple[Vectors, list[Abstention]]:
    """Which segments state a misconception; the others count for no misconception.

    A segment shows a misconception only when the misconception is nearer to it than
    every correct idea ("knowledge comes from pretraining" is close to "SFT adds
    knowledge" too, but closer still to the key point it states), above the threshold,
    and when its words agree with the misconception's phrasing (graders.language.opposites). A
    segment that also matches a key point the misconception contradicts must differ
    from that key point's phrasing in polarity too; if it agrees with both, nothing
    is asserted and the grade goes to review. A segment that states a misconception is
    no evidence for a key point ("SFT teaches new knowledge" must not earn "SFT
    teaches when to apply it").
    """
    key_point_columns = index.key_points
    weakest = config.misconception_threshold - config.corroborated_margin
    contested = (sims[:, ~key_point_columns] >= weakest).any(axis=1)
    for contested_row in np.flatnonzero(contested):
        _drop_opposite_key_points(index, pieces[contested_row], sims[contested_row])
    nearest_correct = sims[:, key_point_columns].max(axis=1, keepdims=True)
    closer = sims >= nearest_correct + config.misconception_margin
    # Weaker matches are checked too: exemplars may corroborate them
    # (graders.verdict.misconception_verdicts).
    candidate = closer & (sims >= weakest) & ~key_point_columns
    claimed = np.zeros(len(pieces), dtype=bool)
    abstentions: list[Abstention] = []
    misconception_of = np.where(~key_point_columns, index.owners, "")
    for i, piece in enumerate(pieces):
        for misconception in dict.fromkeys(str(o) for o in misconception_of[candidate[i]]):
            if misconception == NOTHING:  # nearest to an answer graded as earning nothing
                claimed[i] = True
                continue
            mine = index.owners == misconception
            clauses = [
                j
                for j, other in enumerate(pieces)
                if j != i and piece.start <= other.start and other.end <= piece.end
            ]
            near = sims[i, mine].max() - CLAUSE_SLACK
            if clauses and not any(sims[j, mine].max() >= near for j in clauses):
                # A sentence near a misconception while none of its clauses is: the
                # mixture matches, no clause states it.
                closer[i, mine] = False
                continue
            row = best_row(sims[i], mine)
            strong = bool(sims[i, row] >= config.misconception_threshold)
            verdict = _polarity(index, piece, sims[i], misconception, row, config)
            if verdict is None:
                claimed[i] = claimed[i] or strong
                continue
            abstentions.append(replace(verdict, review=verdict.review and strong))
            closer[i, mine] = False
    for i, piece in enumerate(pieces):  # a clause of a sentence that abstained abstains too
        for a in abstentions:
            inside = a.segment.start <= piece.start and piece.end <= a.segment.end
            mine = index.owners == a.misconception
            if inside and closer[i, mine].any():
                closer[i, mine] = False
                claimed[i] = bool((closer[i] & candidate[i]).any())
    sims = np.where(key_point_columns[None, :] | closer, sims, -1.0)
    sims[claimed[:, None] & key_point_columns[None, :]] = -1.0
    return sims, abstentions


def _drop_opposite_key_points(index: PhrasingIndex, piece: Segment, row_sims: Vectors) -> None:
    """Where a misconception contests a segment, a key point phrasing whose words say the
    opposite of the segment is no evidence for it ("trains all the weights" is not
    "trains a small set instead of all the weights"): its similarity is dropped, up to
    OPPOSITE_CHECKS of the best rows."""
    columns = np.flatnonzero(index.key_points)
    for _ in range(OPPOSITE_CHECKS):
        row = int(columns[int(np.argmax(row_sims[columns]))])
        if row_sims[row] <= 0 or difference(piece.text, index.texts[row]).meaning != "opposite":
            return
        row_sims[row] = -1.0


def _polarity(
    index: PhrasingIndex,
    piece: Segment,
    row_sims: Vectors,
    misconception: str,
    row: int,
    config: GradingConfig,
) -> Abstention | None:
    """None when the segment states the misconception, else why it does not."""
    against = difference(piece.text, index.texts[row])
    contradicted = []
    for key_point in index.contradicts.get(misconception, ()):
        mine = index.owners == key_point
        kp_row = best_row(row_sims, mine)
        alike = max(config.partial_threshold, row_sims[row] - config.alike_margin)
        if row_sims[kp_row] >= alike:
            contradicted.append((key_point, difference(piece.text, index.texts[kp_row])))
    agrees_with_key_point = [k for k, diff in contradicted if diff.meaning != "opposite"]
    if against.meaning != "same":
        return Abstention(
            misconception,
            piece,
            f"not asserted: its words differ from the misconception ({against.describe()})",
            review=against.meaning == "unsure" or not agrees_with_key_point,
        )
    if agrees_with_key_point:
        return Abstention(
            misconception,
            piece,
            "not asserted: the segment matches the misconception and the key point it "
            f"contradicts ({', '.join(agrees_with_key_point)}) alike",
            review=True,
        )
    return None
