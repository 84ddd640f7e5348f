"""Agreement with human scores: correlation, error, kappa, label accuracy and macro-F1.

The kappa is graders.core.measures' (the console's agreement uses it too)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from graders.core.measures import quadratic_kappa
from graders.core.result import Label

LABELS: tuple[Label, ...] = (Label.INCORRECT, Label.PARTIALLY_CORRECT, Label.CORRECT)
Figures = dict[str, float | None]


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks from 1, ties given the mean of the ranks they span (scipy's rankdata)."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return np.asarray(sums / counts, dtype=np.float64)[inverse]


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 2:
        return math.nan
    return pearson(list(_ranks(x)), list(_ranks(y)))


def rmse(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.sqrt(np.mean((x - y) ** 2))) if len(x) else math.nan


def discrete_scale(scores: Sequence[float], max_score: float) -> list[float]:
    """The dataset's own score steps (e.g. 0, 0.125, ..., 1), as shares of full marks."""
    steps = sorted({round(s / max_score, 4) for s in scores})
    return steps if len(steps) > 1 else [0.0, 1.0]


def to_step(value: float, steps: Sequence[float]) -> int:
    return int(np.argmin([abs(value - s) for s in steps]))


def label_index(labels: Sequence[Label]) -> NDArray[np.int64]:
    """Labels as their positions in LABELS."""
    return np.array([LABELS.index(label) for label in labels], dtype=np.int64)


def macro_f1_index(human: NDArray[np.int64], predicted: NDArray[np.int64]) -> float:
    """Macro-F1 over the labels present in either, on label indices (fast: cut-point search)."""
    f1s = []
    for k in range(len(LABELS)):
        tp = float(np.sum((human == k) & (predicted == k)))
        wrong = float(np.sum((human == k) != (predicted == k)))
        if tp + wrong:
            f1s.append(2 * tp / (2 * tp + wrong))
    return float(np.mean(f1s)) if f1s else 0.0


def macro_f1(human: Sequence[Label], predicted: Sequence[Label]) -> float:
    return macro_f1_index(label_index(human), label_index(predicted))


def label_figures(human: Sequence[Label], predicted: Sequence[Label]) -> Figures:
    pairs = list(zip(human, predicted, strict=True))
    if not pairs:
        return {"accuracy": None, "macro_f1": None}
    accuracy = sum(h == p for h, p in pairs) / len(pairs)
    return {"accuracy": round(accuracy, 4), "macro_f1": round(macro_f1(human, predicted), 4)}


def confusion(human: Sequence[Label], predicted: Sequence[Label]) -> list[list[int]]:
    """Rows: human label, columns: predicted, both in LABELS order."""
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for h, p in zip(human, predicted, strict=True):
        matrix[LABELS.index(h)][LABELS.index(p)] += 1
    return matrix


def score_figures(
    human: Sequence[float], predicted: Sequence[float], max_score: float, steps: Sequence[float]
) -> Figures:
    """Human and predicted as shares of full marks; RMSE also on the dataset's own scale."""
    kappa = quadratic_kappa(
        [to_step(h, steps) for h in human], [to_step(p, steps) for p in predicted], len(steps)
    )
    return {
        "n": float(len(human)),
        "pearson": _nan_to_none(pearson(human, predicted)),
        "spearman": _nan_to_none(spearman(human, predicted)),
        "rmse": _nan_to_none(rmse(human, predicted)),
        "rmse_scaled": _nan_to_none(rmse(human, predicted) * max_score),
        "qwk": _nan_to_none(kappa),
    }


# ------------------------------------------------------------------ feedback similarity

_TOKEN = re.compile(r"[a-z0-9]+")


def rouge_l(reference: str, candidate: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens (longest common subsequence)."""
    a, b = _TOKEN.findall(reference.lower()), _TOKEN.findall(candidate.lower())
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(b), lcs / len(a)
    return 2 * precision * recall / (precision + recall)
