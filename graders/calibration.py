"""Calibration: from grader features (graders/features.py) to a score and a label.

A calibration file is plain JSON (no pickle), versioned, with one entry per (embedding
model, LLM) pair, so a calibration fitted with one LLM is never applied to another and a
weak LLM's verdicts get the little weight the fit gave them. Each entry holds:

- ``score``: gradient-boosted regression trees (or a linear model) predicting the share of
  full marks, clipped to [0, 1];
- ``label``: gradient-boosted classification trees or a multinomial logistic model over
  the same features plus the predicted score, or two cut points on the predicted score
  chosen for macro-F1 (SAF's labels follow its scores: full marks, none, in between).

Which model kinds are used is chosen by cross-validation on the training data
(:func:`choose_kind`): folds by question for the model that grades new questions.

Prediction needs only numpy; fitting (:func:`fit_entry`) uses scikit-learn and is run by
``rubricate calibrate`` on training data only.

The code lives in :mod:`graders.calibration_predict` (applying an entry),
:mod:`graders.calibration_file` (the JSON file) and :mod:`graders.calibration_fit`
(fitting); this module re-exports their public names.
"""

from graders.calibration_file import (
    DEFAULT_FILE,
    FORMAT,
    Calibration,
    load_calibration,
    make_version,
    pair_key,
)
from graders.calibration_fit import (
    KINDS,
    choose_kind,
    fit_calibration_entry,
    fit_cuts,
    fit_entry,
)
from graders.calibration_predict import (
    RELATIVE,
    Array,
    CalibrationEntry,
    Prediction,
    question_key,
    relative,
    relative_features,
)

__all__ = [
    "DEFAULT_FILE",
    "FORMAT",
    "KINDS",
    "RELATIVE",
    "Array",
    "Calibration",
    "CalibrationEntry",
    "Prediction",
    "choose_kind",
    "fit_calibration_entry",
    "fit_cuts",
    "fit_entry",
    "load_calibration",
    "make_version",
    "pair_key",
    "question_key",
    "relative",
    "relative_features",
]
