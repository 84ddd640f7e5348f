"""The evaluation's human-readable side: results.json and a Markdown summary of the reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from graders.evaluation.report import Report
from graders.evaluation.semeval import LABELS as SEMEVAL_LABELS
from graders.evaluation.semeval_eval import KIND as SEMEVAL

_PREAMBLE = """Written by `rubricate eval` (`make eval`). Every answer is graded through the
GradingService (rubrics built from the reference answer, embeddings only unless an LLM is
configured); scores are shares of full marks (`rmse_scaled` on the dataset's own scale);
`qwk` is quadratic weighted kappa on the dataset's discrete score steps. Systems:
`rubricate` (calibrated on SAF training only: a model chosen by leave-question-out
cross-validation for new questions, and a per-question model for questions seen in
training); `train_mean` (the training mean score and majority label); `cosine` (cosine of
the whole answer to the reference answer, mapped linearly to a score and cut by two
thresholds, both fitted on training). Feedback closeness: mean embedding cosine (meaning)
and ROUGE-L F1 (wording) between our feedback and the teacher's. With teacher-graded answers
or exemplars from another split, `rubricate_k0` is the same answers graded without them."""


_SEMEVAL = """SemEval-2013 Task 7 folders: each answer graded inline against the question's
BEST reference answer; the result's label `correct` is correct, else a key point the reader
read as contradicted makes it contradictory, else incorrect. Accuracy, macro-F1 and weighted-F1
over the three labels, as published for the shared task."""

_SEMEVAL_COLUMNS = ("accuracy", "macro_f1", "weighted_f1")

_COLUMNS = ("pearson", "spearman", "rmse", "rmse_scaled", "qwk", "accuracy", "macro_f1")


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _semeval(report: Report) -> list[str]:
    lines = [f"## {report.dataset} ({report.n} answers, calibration `{report.calibration}`)"]
    lines += ["", "| system | " + " | ".join(_SEMEVAL_COLUMNS) + " |"]
    lines += ["|---" * (len(_SEMEVAL_COLUMNS) + 1) + "|"]
    for name, fig in report.overall.items():
        cells = " | ".join(_cell(fig.get(c)) for c in _SEMEVAL_COLUMNS)
        lines.append(f"| {name} | {cells} |")
    matrix = report.confusion.get("rubricate")
    if matrix:
        lines += ["", "Human (rows) against rubricate (columns):", ""]
        lines += ["| human | " + " | ".join(SEMEVAL_LABELS) + " |"]
        lines += ["|---" * (len(SEMEVAL_LABELS) + 1) + "|"]
        for label, row in zip(SEMEVAL_LABELS, matrix, strict=True):
            lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return [*lines, ""]


def markdown(reports: Sequence[Report]) -> str:
    lines = ["# Evaluation", "", _PREAMBLE, ""]
    semeval = [r for r in reports if r.kind == SEMEVAL]
    if semeval:
        lines += [_SEMEVAL, ""]
    if len(semeval) > 1:  # the folders side by side, as the shared task's tables have them
        lines += ["| folder | n | " + " | ".join(_SEMEVAL_COLUMNS) + " |"]
        lines += ["|---" * (len(_SEMEVAL_COLUMNS) + 2) + "|"]
        for r in semeval:
            cells = " | ".join(_cell(r.overall["rubricate"].get(c)) for c in _SEMEVAL_COLUMNS)
            lines.append(f"| {r.dataset} | {r.n} | {cells} |")
        lines.append("")
    for report in reports:
        if report.kind == SEMEVAL:
            lines += _semeval(report)
            continue
        taught = (
            f", {report.teacher_graded} teacher-graded per question"
            if report.teacher_graded
            else ""
        )
        lines += [
            f"## {report.dataset} ({report.n} answers measured{taught}, "
            f"calibration `{report.calibration}`)"
        ]
        lines += ["", "| system | " + " | ".join(_COLUMNS) + " |"]
        lines += ["|---" * (len(_COLUMNS) + 1) + "|"]
        for name, fig in report.overall.items():
            lines.append(f"| {name} | " + " | ".join(_cell(fig.get(c)) for c in _COLUMNS) + " |")
        if report.feedback:
            parts = ", ".join(f"{k} {v:.3f}" for k, v in report.feedback.items() if k != "n")
            lines += ["", f"Feedback vs the teacher's: {parts}"]
        lines += ["", "Per question (rubricate / cosine baseline):", ""]
        lines += ["| question | n | pearson | macro_f1 |", "|---|---|---|---|"]
        for qid, systems in report.per_question.items():
            ours, cos = systems["rubricate"], systems["cosine"]
            lines.append(
                f"| {qid} | {int(ours['n'] or 0)} | {_cell(ours['pearson'])} / "
                f"{_cell(cos['pearson'])} | {_cell(ours.get('macro_f1'))} / "
                f"{_cell(cos.get('macro_f1'))} |"
            )
        lines.append("")
    return "\n".join(lines)


def write(folder: Path, reports: Sequence[Report]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(
        json.dumps([r.to_json() for r in reports], indent=1, default=str) + "\n"
    )
    (folder / "README.md").write_text(markdown(reports))
