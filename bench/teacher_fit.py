"""Teacher-graded answers for new questions, on a development split: SAF training only.

    python -m bench.teacher_fit [--k 5 10 20]

``rubricate eval ../shared/datasets/saf/unseen_questions --teacher-graded K`` measures the
mechanism on four questions, too few to choose its design on (and the split must not be
tuned on).
This measures it on SAF training's 18 questions instead: every answer is scored by a
calibration fitted with its whole question left out (bench.compare_revisions), so each
question is new to the grader; then per question K answers are picked from those scores
alone (``pick_informative``), the teacher's grades of them fit the question's offset and
label cuts (``fit_question``), and the labels of the other answers are measured, beside
K=0 (the calibration's own labels) on the same answers. Design variants of the fit run
side by side, with a 95% interval over questions for each one's accuracy against the
shipped fit. The exemplars' nearest-neighbour vote is not simulated: only the fit.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from bench.compare_revisions import SAF, TRAINING_CACHE, leave_question_out, targets
from graders.calibration.question_fit import QuestionFit, fit_question, pick_informative
from graders.core.result import Label
from graders.evaluation.datasets import read_dataset
from graders.evaluation.metrics import label_figures
from graders.evaluation.runner import grade_dataset

Array = np.ndarray[Any, Any]
Fit = Callable[[Sequence[float], Sequence[float], Sequence[str], tuple[float, float]], QuestionFit]
CONFIG_CUTS = (0.30, 0.80)  # GradingConfig's cuts, the fit's default in the service


def offset_only(
    predicted: Sequence[float], human: Sequence[float], labels: Sequence[str], cuts: Any
) -> QuestionFit:
    fitted = fit_question(predicted, human, labels, cuts)
    return QuestionFit(fitted.offset, cuts, fitted.n)


def no_fit(
    predicted: Sequence[float], human: Sequence[float], labels: Any, cuts: Any
) -> QuestionFit:
    return QuestionFit(0.0, cuts, len(predicted))


VARIANTS: dict[str, tuple[Fit, tuple[float, float]]] = {
    "shipped fit": (fit_question, CONFIG_CUTS),
    "centred on calibration cuts": (fit_question, (0.2, 0.81)),
    "offset only": (offset_only, CONFIG_CUTS),
    "no fit (config cuts)": (no_fit, CONFIG_CUTS),
}


def simulate(
    loqo: Array,
    chosen: list[str],
    scores: Array,
    labels: list[str],
    groups: Array,
    k: int,
    fit: Fit | None,
    cuts: tuple[float, float],
) -> tuple[dict[str, float | None], Array]:
    """Label figures on the answers not picked, and the accuracy per question; ``fit``
    None: the calibration's own labels (K=0) on those same answers."""
    human: list[str] = []
    ours: list[str] = []
    per_question = []
    for g in np.unique(groups):
        idx = np.where(groups == g)[0]
        picked = set(pick_informative(list(loqo[idx]), k, cuts))
        rest = [i for i in range(len(idx)) if i not in picked]
        if fit is not None:
            graded = sorted(picked)
            fitted = fit(
                [loqo[idx[i]] for i in graded],
                [scores[idx[i]] for i in graded],
                [labels[idx[i]] for i in graded],
                cuts,
            )
            mine = [fitted.label(fitted.percent(loqo[idx[i]])) for i in rest]
        else:
            mine = [chosen[idx[i]] for i in rest]
        theirs = [labels[idx[i]] for i in rest]
        human += theirs
        ours += mine
        per_question.append(np.mean([a == b for a, b in zip(theirs, mine, strict=True)]))
    figures = label_figures([Label(x) for x in human], [Label(x) for x in ours])
    return dict(figures), np.asarray(per_question)


def interval(base: Array, other: Array, boot: int = 2000) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    diff = other - base
    means = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(boot)]
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


async def loqo_scores() -> tuple[Array, list[str], Array, list[str], Array]:
    settings = Settings().model_copy(update={"llm_enabled": False})
    data = read_dataset(SAF / "training")
    async with runtime(settings, load_all_lessons(settings)) as state:
        rows = [r.features for r in await grade_dataset(state.service, data, cache=TRAINING_CACHE)]
    predicted, chosen = leave_question_out(rows, data)
    scores, labels, groups = targets(data)
    return predicted, [c.value for c in chosen], scores, [x.value for x in labels], groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20])
    args = parser.parse_args()
    loqo, chosen, scores, labels, groups = asyncio.run(loqo_scores())
    print(f"SAF training, {len(np.unique(groups))} questions, each left out of the calibration")
    print("K   variant                        accuracy  macro-F1  accuracy vs shipped [95%]")
    for k in args.k:
        zero, _ = simulate(loqo, chosen, scores, labels, groups, k, None, CONFIG_CUTS)
        print(
            f"{k:<3d} K=0 on the same answers          {zero['accuracy']:.3f}     "
            f"{zero['macro_f1']:.3f}"
        )
        base: Array | None = None
        for name, (fit, cuts) in VARIANTS.items():
            figures, per_question = simulate(loqo, chosen, scores, labels, groups, k, fit, cuts)
            line = f"{k:<3d} {name:30s} {figures['accuracy']:.3f}     {figures['macro_f1']:.3f}"
            if base is None:
                base = per_question
            else:
                diff, low, high = interval(base, per_question)
                line += f"     {diff:+.3f} [{low:+.3f}, {high:+.3f}]"
            print(line, flush=True)


if __name__ == "__main__":
    main()
