"""The evaluation report: rubricate against two baselines, overall and per question.

Systems compared in one run, on the same graded records:

- ``rubricate``: the calibrated score and label (the same ``CalibrationEntry.predict``
  the service applies), or the rubric's own score and label when no calibration fits;
- ``train_mean``: the mean training score for every answer, the majority training label;
- ``cosine``: cosine of the answer to the reference answer; its score maps linearly onto
  the scale (fitted on training), its label by two thresholds fitted on training.

Feedback closeness (datasets with teacher feedback, e.g. SAF): ROUGE-L F1 for wording and
embedding cosine for meaning between our feedback and the teacher's. ROUGE-L alone punishes
a correct paraphrase; cosine alone rewards on-topic but wrong feedback; the pair shows both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from graders.calibration.calibrated_grade import with_reader
from graders.calibration.prediction import CalibrationEntry
from graders.core.result import Label
from graders.evaluation.datasets import Dataset
from graders.evaluation.metrics import (
    LABELS,
    Figures,
    confusion,
    discrete_scale,
    label_figures,
    score_figures,
)
from graders.evaluation.runner import Record


@dataclass
class Baselines:
    """What the baselines learn from training: a mean, a linear map, two thresholds."""

    mean: float
    majority: Label
    slope: float
    intercept: float
    low: float
    high: float

    def to_json(self) -> dict[str, Any]:
        return {
            "train_mean": self.mean,
            "train_majority": self.majority.value,
            "cosine_slope": self.slope,
            "cosine_intercept": self.intercept,
            "cosine_thresholds": [self.low, self.high],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Baselines:
        low, high = data["cosine_thresholds"]
        return Baselines(
            float(data["train_mean"]),
            Label(data["train_majority"]),
            float(data["cosine_slope"]),
            float(data["cosine_intercept"]),
            float(low),
            float(high),
        )


def _cosine(records: Sequence[Record]) -> NDArray[np.float64]:
    return np.array([r.features.get("cos_ref", 0.0) for r in records], dtype=np.float64)


def fit_baselines(train: Dataset, records: Sequence[Record]) -> Baselines:
    """Fit on training only: mean score, cosine->score line, cosine thresholds for the label."""
    scores = np.array([i.score / train.questions[i.question_id].max_score for i in train.items])
    labels = [i.label for i in train.items]
    known = [label for label in labels if label is not None]
    majority = max(LABELS, key=known.count) if known else Label.CORRECT
    cos = _cosine(records)
    slope, intercept = np.polyfit(cos, scores, 1) if len(cos) > 1 else (1.0, 0.0)
    low, high = 0.5, 0.7
    if known and len(known) == len(labels):
        best = -1.0
        grid = np.round(np.arange(0.0, 1.0, 0.01), 2)
        for a in grid:
            for b in grid[grid >= a]:
                predicted = [_threshold_label(c, a, b) for c in cos]
                f1 = label_figures([label for label in labels if label], predicted)["macro_f1"]
                if f1 is not None and f1 > best:
                    best, low, high = f1, float(a), float(b)
    return Baselines(float(scores.mean()), majority, float(slope), float(intercept), low, high)


def _threshold_label(value: float, low: float, high: float) -> Label:
    if value >= high:
        return Label.CORRECT
    if value >= low:
        return Label.PARTIALLY_CORRECT
    return Label.INCORRECT


@dataclass
class SystemOutput:
    scores: list[float]
    labels: list[Label]


def predictions(
    records: Sequence[Record],
    entry: CalibrationEntry | None,
    baselines: Baselines,
    reader_weight: float = 0.0,
) -> dict[str, SystemOutput]:
    if entry is not None:
        made = entry.predict([r.features for r in records], [r.question for r in records])
        ours = SystemOutput([p.percent for p in made], [p.label for p in made])
        if reader_weight > 0:
            # As the service does (graders.calibration.calibrated_grade): the reader's grade
            # beside the fit, where the answer was read (an empty one is not) and the
            # question is new to the calibration.
            blended = [
                with_reader(p, r.features, reader_weight)
                if "reader_score" in r.features and not entry.knows(r.question)
                else (p.percent, p.label)
                for p, r in zip(made, records, strict=True)
            ]
            ours = SystemOutput([b[0] for b in blended], [b[1] for b in blended])
    else:
        ours = SystemOutput([r.percent for r in records], [Label(r.label) for r in records])
    cos = _cosine(records)
    return {
        "rubricate": ours,
        "train_mean": SystemOutput(
            [baselines.mean] * len(records), [baselines.majority] * len(records)
        ),
        "cosine": SystemOutput(
            [float(np.clip(baselines.slope * c + baselines.intercept, 0, 1)) for c in cos],
            [_threshold_label(float(c), baselines.low, baselines.high) for c in cos],
        ),
    }


def _figures(
    human: list[float],
    human_labels: list[Label] | None,
    output: SystemOutput,
    max_score: float,
    steps: list[float],
) -> Figures:
    figures = score_figures(human, output.scores, max_score, steps)
    if human_labels is not None:
        figures.update(label_figures(human_labels, output.labels))
    return figures


@dataclass
class Report:
    dataset: str
    n: int
    calibration: str
    overall: dict[str, Figures]
    per_question: dict[str, dict[str, Figures]]
    confusion: dict[str, list[list[int]]] = field(default_factory=dict)
    feedback: dict[str, float] | None = None
    baselines: dict[str, Any] = field(default_factory=dict)
    teacher_graded: int = 0  # answers per question graded by a teacher first (not measured)
    exemplars_from: str | None = None  # a split whose graded answers served as exemplars
    kind: str = "scored"  # "semeval2013": SemEval's 3-way labels (graders.evaluation.semeval_eval)

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def evaluate(
    dataset: Dataset,
    records: Sequence[Record],
    entry: CalibrationEntry | None,
    baselines: Baselines,
    calibration: str,
    feedback: dict[str, float] | None = None,
    reader_weight: float = 0.0,
) -> tuple[Report, dict[str, SystemOutput]]:
    max_scores = [dataset.questions[i.question_id].max_score for i in dataset.items]
    human = [i.score / m for i, m in zip(dataset.items, max_scores, strict=True)]
    labelled = dataset.labelled
    human_labels = [i.label for i in dataset.items if i.label] if labelled else None
    steps = discrete_scale([i.score for i in dataset.items], max(max_scores))
    outputs = predictions(records, entry, baselines, reader_weight)
    overall = {
        name: _figures(human, human_labels, out, max(max_scores), steps)
        for name, out in outputs.items()
    }
    per_question: dict[str, dict[str, Figures]] = {}
    for qid in dataset.questions:
        rows = [k for k, i in enumerate(dataset.items) if i.question_id == qid]
        if not rows:
            continue
        per_question[qid] = {
            name: _figures(
                [human[k] for k in rows],
                [human_labels[k] for k in rows] if human_labels else None,
                SystemOutput([out.scores[k] for k in rows], [out.labels[k] for k in rows]),
                dataset.questions[qid].max_score,
                steps,
            )
            for name, out in outputs.items()
        }
    report = Report(
        dataset=dataset.name,
        n=len(records),
        calibration=calibration,
        overall=overall,
        per_question=per_question,
        confusion={name: confusion(human_labels, out.labels) for name, out in outputs.items()}
        if human_labels
        else {},
        feedback=feedback,
        baselines=baselines.to_json(),
    )
    return report, outputs


def plots(
    folder: Path, dataset: Dataset, outputs: dict[str, SystemOutput], report: Report
) -> list[Path]:
    """Scatter of predicted against human, confusion matrix, calibration curve (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    human = np.array([i.score / dataset.questions[i.question_id].max_score for i in dataset.items])
    ours = np.array(outputs["rubricate"].scores)
    rng = np.random.default_rng(0)
    written = []
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(human + rng.uniform(-0.015, 0.015, len(human)), ours, s=6, alpha=0.4)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    ax.set(xlabel="human score (share)", ylabel="predicted", title=f"{dataset.name}: scores")
    written.append(_save(fig, folder / f"{dataset.name}-scatter.png"))
    if report.confusion:
        matrix = np.array(report.confusion["rubricate"])
        fig, ax = plt.subplots(figsize=(4.5, 4))
        ax.imshow(matrix, cmap="Blues")
        names = ["incorrect", "partial", "correct"]
        ax.set_xticks(range(3), names)
        ax.set_yticks(range(3), names)
        for (r, c), v in np.ndenumerate(matrix):
            ax.text(c, r, str(v), ha="center", va="center")
        ax.set(xlabel="predicted", ylabel="human", title=f"{dataset.name}: labels")
        written.append(_save(fig, folder / f"{dataset.name}-confusion.png"))
    bins = np.linspace(0, 1, 11)
    which = np.clip(np.digitize(ours, bins) - 1, 0, 9)
    centers, means = [], []
    for b in range(10):
        if (which == b).sum() >= 3:
            centers.append(float(ours[which == b].mean()))
            means.append(float(human[which == b].mean()))
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    ax.plot(centers, means, marker="o")
    ax.set(xlabel="mean predicted", ylabel="mean human", title=f"{dataset.name}: calibration")
    written.append(_save(fig, folder / f"{dataset.name}-calibration.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
