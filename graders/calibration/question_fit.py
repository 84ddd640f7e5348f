"""Per-question calibration from a few teacher-graded answers, and which answers to ask for.

A new question's scores are calibrated on other questions; its own quirks (a reference
answer that is stricter than the teachers, a label cut that sits elsewhere) show only in
its own grades. When a teacher has graded a few of its answers, they fit two things:

- a **score offset**: the mean gap between the teacher's score and ours, shrunk toward 0
  by ``SHRINK`` pseudo-answers, so two grades cannot swing a question;
- **label cuts**: the two cut points on our score that reproduce the teacher's labels
  best, with a penalty for moving away from the configured cuts.

The grades used are the grader's own on each graded answer with that answer left out
of the exemplars (leave one out), so the fit sees what the grader does on unseen answers.

Which answers to ask a teacher for is chosen without looking at any label: spread over
the grader's score range (so every kind of answer is seen) and close to the label cuts
(where one teacher grade changes most labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SHRINK = 3.0  # pseudo-answers that pull the offset toward 0
CUT_PENALTY = 0.5  # accuracy given up per unit of distance from the configured cuts
LABELS = ("incorrect", "partially correct", "correct")


@dataclass(frozen=True)
class QuestionFit:
    offset: float
    cuts: tuple[float, float]
    n: int

    def percent(self, percent: float) -> float:
        return round(float(np.clip(percent + self.offset, 0.0, 1.0)), 4)

    def label(self, percent: float) -> str:
        low, high = self.cuts
        return LABELS[2] if percent >= high else LABELS[1] if percent >= low else LABELS[0]


def fit_question(
    predicted: Sequence[float],
    human: Sequence[float],
    labels: Sequence[str],
    default_cuts: tuple[float, float],
) -> QuestionFit:
    """Offset and cuts from the grader's leave-one-out scores and the teacher's grades."""
    ours, theirs = np.asarray(predicted, dtype=float), np.asarray(human, dtype=float)
    n = len(ours)
    if n == 0:
        return QuestionFit(0.0, default_cuts, 0)
    offset = float(np.mean(theirs - ours) * n / (n + SHRINK))
    shifted = np.clip(ours + offset, 0.0, 1.0)
    target = np.array([LABELS.index(label) for label in labels])
    candidates = np.unique(np.r_[np.linspace(0.05, 0.95, 19), default_cuts])
    best, cuts = -np.inf, default_cuts
    for low in candidates:
        for high in candidates[candidates > low]:
            picks = np.digitize(shifted, [low, high])
            accuracy = float(np.mean(picks == target))
            moved = abs(low - default_cuts[0]) + abs(high - default_cuts[1])
            value = accuracy - CUT_PENALTY * moved / max(n, 1) ** 0.5
            if value > best + 1e-9:
                best, cuts = value, (float(low), float(high))
    return QuestionFit(round(offset, 4), cuts, n)


def pick_informative(predicted: Sequence[float], k: int, cuts: tuple[float, float]) -> list[int]:
    """Indexes of ``k`` answers a teacher's grade would teach most, chosen from scores only.

    Half are spread evenly over the score range (quantiles), half are the answers
    nearest the label cuts (alternating between the two cuts); no answer twice.
    """
    scores = np.asarray(predicted, dtype=float)
    if k <= 0 or not len(scores):
        return []
    k = min(k, len(scores))
    order = np.argsort(scores, kind="stable")
    chosen: list[int] = []
    spread = (k + 1) // 2
    for j in np.linspace(0, len(scores) - 1, spread).round().astype(int):
        if int(order[j]) not in chosen:
            chosen.append(int(order[j]))
    near = [list(np.argsort(np.abs(scores - cut), kind="stable")) for cut in cuts]
    turn = 0
    while len(chosen) < k:
        queue = near[turn % len(near)]
        while queue and int(queue[0]) in chosen:
            queue.pop(0)
        if queue:
            chosen.append(int(queue.pop(0)))
        elif not any(near):
            break
        turn += 1
    return chosen
