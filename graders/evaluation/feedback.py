"""Feedback closeness: our feedback against the teacher's, where the dataset has it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graders.evaluation.datasets import Dataset
from graders.evaluation.metrics import rouge_l
from graders.evaluation.runner import Record
from graders.scoring.embedding_grader import EmbeddingGrader


async def feedback_closeness(
    embedding: EmbeddingGrader, dataset: Dataset, records: Sequence[Record]
) -> dict[str, float] | None:
    """How close our feedback is to the teacher's: mean embedding cosine and ROUGE-L F1."""
    pairs = [
        (i.feedback, r.feedback)
        for i, r in zip(dataset.items, records, strict=True)
        if i.feedback and r.feedback
    ]
    if not pairs:
        return None
    cosines = []
    for start in range(0, len(pairs), 64):
        chunk = pairs[start : start + 64]
        sims = await embedding.similarities([t for t, _ in chunk], [o for _, o in chunk])
        cosines.extend(np.diag(sims).tolist())
    return {
        "embedding_cosine": round(float(np.mean(cosines)), 4),
        "rouge_l_f1": round(float(np.mean([rouge_l(t, o) for t, o in pairs])), 4),
        "n": float(len(pairs)),
    }
