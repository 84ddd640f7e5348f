"""Measuring the reader alone: SemEval-2013 3-way and SAF, per folder (offline only).

Depends on the reader (models/reader.py), never the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graders.evaluation.datasets import read_saf
from graders.evaluation.reader_pairs import GRADE, SEMEVAL, saf_first
from graders.evaluation.semeval import SemEvalSet, datasets_dir, test_sets
from models.reader import Reader


def three_way(gold: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    labels = [0, 1, 2]
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro")),
        "weighted_f1": float(f1_score(gold, predicted, labels=labels, average="weighted")),
    }


def semeval_figures(reader: Reader, found: SemEvalSet) -> dict[str, float]:
    """The reader alone on one SemEval folder: each answer read against the question's
    references; the reading with the most ``covers`` wins (any alternative suffices)."""
    pairs, owners = [], []
    for i, a in enumerate(found.answers):
        for ref in found.questions[a.question_id].references:
            pairs.append((ref.text, a.answer))
            owners.append(i)
    readings = reader.read(pairs)
    best: dict[int, tuple[float, int]] = {}
    for owner, r in zip(owners, readings, strict=True):
        probs = (r.covers, r.contradicts, r.neither)
        if owner not in best or r.covers > best[owner][0]:
            best[owner] = (r.covers, int(np.argmax(probs)))
    gold = [SEMEVAL[a.label] for a in found.answers]
    predicted = [best[i][1] for i in range(len(found.answers))]
    return {**three_way(gold, predicted), "n": float(len(gold))}


def saf_figures(reader: Reader, rows: Sequence[tuple[str, str, int, float]]) -> dict[str, float]:
    """The grade head on (first, answer, grade, score) rows: label figures and Pearson."""
    readings = reader.read([(first, answer) for first, answer, _, _ in rows])
    predicted = [int(np.argmax((r.correct, r.partially_correct, r.incorrect))) for r in readings]
    figures = three_way([g for _, _, g, _ in rows], predicted)
    scores = np.array([r.score for r in readings])
    gold = np.array([s for _, _, _, s in rows])
    pearson = float(np.corrcoef(scores, gold)[0, 1]) if len(rows) > 1 else float("nan")
    return {**figures, "pearson": pearson, "n": float(len(rows))}


def saf_rows(folder: Path) -> list[tuple[str, str, int, float]]:
    data = read_saf(folder)
    rows = []
    for item in data.items:
        q = data.questions[item.question_id]
        assert item.label is not None
        rows.append(
            (
                saf_first(q.prompt, q.reference_answer),
                item.answer,
                GRADE[item.label.value.replace("_", " ")],
                item.score / q.max_score,
            )
        )
    return rows


def test_figures(
    reader: Reader, root: Path | None = None, per_folder: int | None = None
) -> dict[str, dict[str, float]]:
    """Every SemEval-2013 test folder and SAF's two test splits (``per_folder``: the first
    answers of each, a fixed sample)."""
    root = root or datasets_dir()
    figures: dict[str, dict[str, float]] = {}
    for found in test_sets(root):
        if per_folder is not None:
            found = SemEvalSet(found.name, found.questions, found.answers[:per_folder])
        figures[f"semeval/{found.name}"] = semeval_figures(reader, found)
    for split in ("unseen_answers", "unseen_questions"):
        rows = saf_rows(root / "saf" / split)
        figures[f"saf/{split}"] = saf_figures(reader, rows[:per_folder] if per_folder else rows)
    return figures
