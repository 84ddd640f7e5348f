"""Fitting calibration entries with scikit-learn, on training data only.

Fits the score and label models (:func:`fit_entry`), the generic plus per-question pair
(:func:`fit_calibration_entry`), chooses model kinds by cross-validation
(:func:`choose_kind`), and exports the fitted models as plain lists for
:mod:`graders.calibration.prediction`. Run by ``rubricate calibrate``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from graders.calibration.features import Features
from graders.calibration.prediction import (
    RELATIVE,
    Array,
    CalibrationEntry,
    relative,
    relative_features,
)
from graders.core.result import Label
from graders.evaluation.metrics import LABELS, label_index, macro_f1, macro_f1_index


def _export_tree(tree: Any, scale: float = 1.0) -> dict[str, Any]:
    t = tree.tree_
    return {
        "left": t.children_left.tolist(),
        "right": t.children_right.tolist(),
        "feature": t.feature.tolist(),
        "threshold": [float(v) for v in t.threshold],
        "value": [round(float(v) * scale, 6) for v in t.value[:, 0, 0]],
    }


def _export_gbm(model: Any, n_outputs: int) -> dict[str, Any]:
    init = model._raw_predict_init(np.zeros((1, model.n_features_in_)))[0]
    return {
        "kind": "trees",
        "init": [float(v) for v in np.broadcast_to(init, (n_outputs,))],
        "learning_rate": float(model.learning_rate),
        "trees": [[_export_tree(t) for t in stage] for stage in model.estimators_],
    }


def _export_linear(coef: Array, intercept: Array, mean: Array, scale: Array) -> dict[str, Any]:
    """A linear model fitted on standardised inputs, folded back onto raw features."""
    coef = np.atleast_2d(coef) / scale
    intercept = np.atleast_1d(intercept) - coef @ mean
    return {
        "kind": "linear",
        "coef": [[round(float(v), 8) for v in row] for row in coef],
        "intercept": [round(float(v), 8) for v in intercept],
    }


def _regressor(kind: str, seed: int) -> Any:
    """``linear`` (ridge, alpha 1), ``linear:ALPHA``, or ``trees`` (gradient boosting)."""
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge

    if kind.startswith("linear"):
        _, _, alpha = kind.partition(":")
        return Ridge(alpha=float(alpha or 1.0))
    return GradientBoostingRegressor(**_gbm_params(seed))


def fit_cuts(scores: Array, labels: NDArray[np.int64]) -> list[float]:
    """The two cut points on predicted scores that give the best macro-F1 on these rows."""
    best, cuts = -1.0, [0.35, 0.8]
    grid = np.round(np.arange(0.05, 1.0, 0.01), 2)
    for i, low in enumerate(grid):
        for high in grid[i + 1 :]:
            picked = np.digitize(scores, [low, high])
            f1 = macro_f1_index(labels, picked)
            if f1 > best + 1e-9:
                best, cuts = f1, [float(low), float(high)]
    return cuts


def _gbm_params(seed: int) -> dict[str, Any]:
    return {
        "n_estimators": 150,
        "max_depth": 3,
        "learning_rate": 0.05,
        "subsample": 0.8,
        "min_samples_leaf": 10,
        "random_state": seed,
    }


def fit_entry(
    rows: list[Features],
    scores: list[float],
    labels: list[Label] | None,
    features: list[str],
    *,
    kind: str = "trees",
    seed: int = 0,
    groups: list[int] | None = None,
) -> CalibrationEntry:
    """Fit the score and label models on training rows (scores as a share of full marks).

    ``kind``: the score model (``linear``, ``linear:ALPHA`` or ``trees``, see
    :func:`_regressor`), then optionally ``+cuts`` for a label by two cut points on the
    score instead of a classifier (logistic for linear kinds, boosted trees for ``trees``).
    The label model is fitted on the score model's out-of-fold predictions (folds by
    ``groups`` when given, e.g. by question), so it learns how far to trust the score on
    answers it was not fitted on.
    """
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, KFold, cross_val_predict

    score_kind, _, labeller = kind.partition("+")
    linear = score_kind.startswith("linear")
    x = np.array([[r.get(f, 0.0) for f in features] for r in rows], dtype=np.float64)
    y = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    inputs = (x - mean) / scale if linear else x
    regressor = _regressor(score_kind, seed).fit(inputs, y)
    if linear:
        score_model = _export_linear(regressor.coef_, np.array([regressor.intercept_]), mean, scale)
    else:
        score_model = _export_gbm(regressor, 1)
    folds: Any = KFold(5)
    if groups is not None and len(set(groups)) >= 3:
        folds = GroupKFold(min(5, len(set(groups))))
    else:
        groups = None
    oof = np.clip(
        cross_val_predict(_regressor(score_kind, seed), inputs, y, cv=folds, groups=groups),
        0.0,
        1.0,
    )
    if labels is None:  # no labels: the label follows the score with fixed cut points
        labels = [
            Label.CORRECT if s >= 0.8 else Label.PARTIALLY_CORRECT if s >= 0.35 else Label.INCORRECT
            for s in y
        ]
    target = label_index(labels)
    metrics = {"n": len(rows), "kind": kind}
    if labeller == "cuts":
        classes = [label.value for label in LABELS]
        cuts_model = {"kind": "cuts", "cuts": fit_cuts(oof, target), "classes": classes}
        return CalibrationEntry(features, score_model, cuts_model, metrics)
    xl = np.column_stack([x, oof])
    if linear:
        ml, sl = xl.mean(axis=0), xl.std(axis=0)
        sl[sl == 0] = 1.0
        classifier = LogisticRegression(C=1.0, max_iter=2000).fit((xl - ml) / sl, target)
        label_model = _export_linear(classifier.coef_, classifier.intercept_, ml, sl)
        probe = classifier.predict_proba((xl[:50] - ml) / sl)
    else:
        classifier = GradientBoostingClassifier(**_gbm_params(seed)).fit(xl, target)
        label_model = _export_gbm(classifier, len(classifier.classes_))
        probe = classifier.predict_proba(xl[:50])
    label_model["classes"] = [LABELS[int(c)].value for c in classifier.classes_]
    fitted = CalibrationEntry(features, score_model, label_model, metrics)
    check = fitted._predict_from(x[:50], oof[:50])
    first = Label(label_model["classes"][0])
    if not all(
        math.isclose(c.probabilities[first], float(p[0]), abs_tol=1e-3)
        for c, p in zip(check, probe, strict=True)
    ):
        raise RuntimeError("exported label model disagrees with scikit-learn")
    return fitted


def fit_calibration_entry(
    rows: list[Features],
    scores: list[float],
    labels: list[Label] | None,
    question_keys: list[str],
    features: list[str],
    *,
    generic_kind: str = "auto",
    known_kind: str = "auto",
) -> CalibrationEntry:
    """The generic model (any question) plus the per-question model for seen questions.

    The per-question mean score is taken leave-one-out, so an answer's own score never
    feeds its own features.
    """
    selection: dict[str, Any] = {}
    by_question = [sorted(set(question_keys)).index(k) for k in question_keys]
    if generic_kind == "auto":
        # Folds by question: how each kind does on questions it has never seen.
        generic_kind, selection["generic"] = choose_kind(
            rows, scores, labels, features, by_question
        )
    generic = fit_entry(rows, scores, labels, features, kind=generic_kind, groups=by_question)
    stats: dict[str, dict[str, float]] = {}
    for key in sorted(set(question_keys)):
        picks = [i for i, k in enumerate(question_keys) if k == key]
        stats[key] = {n: float(np.mean([rows[i].get(n, 0.0) for i in picks])) for n in RELATIVE}
        stats[key]["score_mean"] = float(np.mean([scores[i] for i in picks]))
        stats[key]["n"] = float(len(picks))
    augmented = []
    for row, key, score in zip(rows, question_keys, scores, strict=True):
        own = dict(stats[key])
        n = own["n"]
        if n > 1:
            own["score_mean"] = (own["score_mean"] * n - score) / (n - 1)
        augmented.append(relative(row, own))
    if known_kind == "auto":
        # Folds by answer: new answers to the questions it was fitted on.
        known_kind, selection["known"] = choose_kind(
            augmented, scores, labels, relative_features(features), list(range(len(rows)))
        )
    known = fit_entry(augmented, scores, labels, relative_features(features), kind=known_kind)
    metrics = {"n": len(rows), "kinds": [generic_kind, known_kind], "selection": selection}
    return CalibrationEntry(generic.features, generic.score, generic.label, metrics, known, stats)


KINDS = ("linear", "linear:10", "trees", "linear+cuts", "linear:10+cuts", "trees+cuts")


def choose_kind(
    rows: list[Features],
    scores: list[float],
    labels: list[Label] | None,
    features: list[str],
    groups: list[int],
    folds: int = 6,
) -> tuple[str, dict[str, dict[str, float]]]:
    """The model kind with the best cross-validated Pearson + macro-F1 on training data.

    Rows of one group (a question, for the generic model) stay in one fold, and the label
    models inside each fold are fitted on out-of-fold scores by the same groups.
    """
    fold_of = [g % folds for g in groups]
    results: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        predicted = np.zeros(len(rows))
        chosen: list[Label] = [Label.INCORRECT] * len(rows)
        for fold in range(folds):
            test = [i for i, f in enumerate(fold_of) if f == fold]
            train = [i for i, f in enumerate(fold_of) if f != fold]
            if not test or not train:
                continue
            entry = fit_entry(
                [rows[i] for i in train],
                [scores[i] for i in train],
                [labels[i] for i in train] if labels else None,
                features,
                kind=kind,
                groups=[groups[i] for i in train],
            )
            for i, p in zip(test, entry.predict([rows[i] for i in test]), strict=True):
                predicted[i], chosen[i] = p.percent, p.label
        r = float(np.corrcoef(predicted, scores)[0, 1])
        f1 = macro_f1(labels, chosen) if labels else 0.0
        results[kind] = {"pearson": round(r, 4), "macro_f1": round(f1, 4)}
    best = max(results, key=lambda k: results[k]["pearson"] + results[k]["macro_f1"])
    return best, results
