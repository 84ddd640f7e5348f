"""Agreement between two graders' labels: the quadratic-weighted kappa, used by the teacher
console's agreement figures (graders.workflow.agreement) and by offline evaluation."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


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
