"""Measures: a share rounded as results report it, and agreement between two graders' labels
(the quadratic-weighted kappa, used by the teacher console's agreement figures in
graders.workflow.agreement and by offline evaluation)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def share(part: float, whole: float) -> float:
    """``part / whole`` to 4 places, as results and reports give it; 0 where there is no whole."""
    return round(part / whole, 4) if whole else 0.0


def quadratic_kappa(human: Sequence[int], predicted: Sequence[int], n: int) -> float:
    """Cohen's kappa with quadratic weights on categories 0..n-1."""
    if n < 2 or not human:
        return math.nan
    observed = np.zeros((n, n))
    for h, p in zip(human, predicted, strict=True):
        observed[h, p] += 1
    weights = np.array([[(i - j) ** 2 for j in range(n)] for i in range(n)]) / (n - 1) ** 2
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    denominator = float((weights * expected).sum())
    return 1.0 - float((weights * observed).sum()) / denominator if denominator else math.nan
