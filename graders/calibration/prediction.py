"""Prediction with a fitted calibration entry: features to a score and a label.

Evaluates the exported models (linear models and gradient-boosted trees stored as plain
lists) with numpy only, and builds the per-question relative features that the model for
questions seen in training uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from graders.calibration.features import Features
from graders.core.result import Label

Array = NDArray[np.float64]


def _tree_predict(tree: dict[str, Any], x: Array) -> Array:
    left = np.asarray(tree["left"], dtype=np.int64)
    right = np.asarray(tree["right"], dtype=np.int64)
    feature = np.asarray(tree["feature"], dtype=np.int64)
    threshold = np.asarray(tree["threshold"], dtype=np.float64)
    value = np.asarray(tree["value"], dtype=np.float64)
    # scikit-learn's trees compare float32 inputs with their thresholds: do the same.
    x = x.astype(np.float32).astype(np.float64)
    node = np.zeros(len(x), dtype=np.int64)
    rows = np.arange(len(x))
    for _ in range(64):
        inner = left[node] >= 0
        if not inner.any():
            break
        go_left = x[rows, np.maximum(feature[node], 0)] <= threshold[node]
        node = np.where(inner, np.where(go_left, left[node], right[node]), node)
    return value[node]


def _raw(model: dict[str, Any], x: Array) -> Array:
    """Raw outputs, shape (n, k): k=1 for a regression, k classes for a classifier."""
    if model["kind"] == "linear":
        coef = np.asarray(model["coef"], dtype=np.float64).reshape(-1, x.shape[1])
        return np.asarray(x @ coef.T + np.asarray(model["intercept"], dtype=np.float64))
    if model["kind"] == "trees":
        out = np.tile(np.asarray(model["init"], dtype=np.float64), (len(x), 1))
        rate = float(model["learning_rate"])
        for stage in model["trees"]:
            for k, tree in enumerate(stage):
                out[:, k] += rate * _tree_predict(tree, x)
        return out
    raise ValueError(f"unknown model kind {model['kind']!r}")


def _softmax(z: Array) -> Array:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class Prediction:
    percent: float
    label: Label
    probabilities: dict[Label, float]


@dataclass(frozen=True)
class CalibrationEntry:
    features: list[str]
    score: dict[str, Any]
    label: dict[str, Any]
    metrics: dict[str, Any]
    # For questions seen in training: their feature means and mean score, and a model
    # that also sees each answer relative to its question's training answers.
    known: CalibrationEntry | None = None
    questions: dict[str, dict[str, float]] = field(default_factory=dict)

    def knows(self, key: str) -> bool:
        """Whether the question (``question_key``) was seen in training: its own model
        predicts it."""
        return self.known is not None and key in self.questions

    def matrix(self, rows: list[Features]) -> Array:
        return np.array([[r.get(f, 0.0) for f in self.features] for r in rows], dtype=np.float64)

    def predict_scores(self, rows: list[Features]) -> Array:
        raw = _raw(self.score, self.matrix(rows))[:, 0]
        return np.asarray(np.clip(raw, 0.0, 1.0))

    def predict(
        self, rows: list[Features], question_keys: list[str] | None = None
    ) -> list[Prediction]:
        """Predictions; rows of questions seen in training use the per-question model."""
        keys = question_keys or [""] * len(rows)
        seen = [i for i, k in enumerate(keys) if k in self.questions]
        if self.known is None or not seen:
            return self._predict(rows)
        out = self._predict(rows)
        known = self.known._predict([relative(rows[i], self.questions[keys[i]]) for i in seen])
        for i, prediction in zip(seen, known, strict=True):
            out[i] = prediction
        return out

    def _predict(self, rows: list[Features]) -> list[Prediction]:
        if not rows:
            return []
        return self._predict_from(self.matrix(rows), self.predict_scores(rows))

    def _predict_from(self, features: Array, scores: Array) -> list[Prediction]:
        classes = [Label(c) for c in self.label["classes"]]
        if self.label["kind"] == "cuts":
            picks = np.digitize(scores, np.asarray(self.label["cuts"], dtype=np.float64))
            probs = np.eye(len(classes))[picks]  # cut points give a label, not a probability
        else:
            raw = _raw(self.label, np.column_stack([features, scores]))
            if raw.shape[1] == 1:  # a binary classifier: one log-odds column
                raw = np.column_stack([np.zeros(len(raw)), raw[:, 0]])
            probs = _softmax(raw)
        out = []
        for score, p in zip(scores, probs, strict=True):
            out.append(
                Prediction(
                    percent=round(float(score), 4),
                    label=classes[int(np.argmax(p))],
                    probabilities={c: round(float(v), 4) for c, v in zip(classes, p, strict=True)},
                )
            )
        return out


RELATIVE = ("cos_ref", "kp_mean", "kp_top_half", "coverage", "seg_best_mean", "log_words")


def question_key(prompt: str, reference_answer: str) -> str:
    """Identifies a question by its text, whatever id a dataset or request gives it."""
    text = " ".join(prompt.split()) + "\x1f" + " ".join(reference_answer.split())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def relative(row: Features, stats: dict[str, float]) -> Features:
    """The row plus each RELATIVE feature minus its question's training mean."""
    out = dict(row)
    for name in RELATIVE:
        out[f"{name}_rel"] = row.get(name, 0.0) - stats.get(name, 0.0)
    out["question_score_mean"] = stats.get("score_mean", 0.0)
    return out


def relative_features(features: list[str]) -> list[str]:
    return [*features, *(f"{n}_rel" for n in RELATIVE), "question_score_mean"]
