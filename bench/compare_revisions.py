"""Does a change to the graders help on questions never seen? Training data only.

For two git revisions of rubricate, grades SAF ``training`` with each revision's own code
(rubrics from reference answers, features; embeddings only, through the eval cache), then
with this checkout's calibration code predicts every answer leaving its whole question out
(ridge alpha 10 with label cut points, the shipped kind), and compares Pearson + macro-F1.
The interval is a bootstrap over the 18 questions, because what varies on new questions is
the question. A change that is no defect fix ships only when the interval is above zero.

Run: ``python -m bench.compare_revisions OLD NEW [--boot 1000]`` (each revision needs the
same ``graders.evaluation.runner`` interface; about 2 minutes per revision not yet cached).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from graders.calibration.features import Features
from graders.core.result import Label
from graders.evaluation.calibration_fit import fit_entry
from graders.evaluation.datasets import Dataset, read_dataset
from graders.evaluation.metrics import macro_f1
from graders.evaluation.semeval import datasets_dir

# SAF in the datasets folder: RUBRICATE_DATASETS_DIR, default ../shared/datasets.
SAF = (datasets_dir() / "saf").resolve()
ROOT = Path(__file__).resolve().parents[1]
# The eval cache of SAF training, shared by every revision graded (and bench.new_questions).
TRAINING_CACHE = ROOT / ".cache" / "rubricate" / "eval" / "training.jsonl"

# Run inside the revision's worktree: its rubrics and features, the shared eval cache.
_DUMP = """
import asyncio, json, sys
from pathlib import Path
from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from graders.evaluation.datasets import read_dataset
from graders.evaluation.runner import grade_dataset

async def main():
    settings = Settings().model_copy(update={"llm_enabled": False})
    async with runtime(settings, load_all_lessons(settings)) as state:
        dataset = read_dataset(Path(sys.argv[1]))
        records = await grade_dataset(state.service, dataset, cache=Path(sys.argv[2]))
        Path(sys.argv[3]).write_text(json.dumps([r.features for r in records]))

asyncio.run(main())
"""


def features_at(revision: str, workdir: Path) -> list[Features]:
    tree = workdir / revision.replace("/", "_")
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), revision], check=True)
    try:
        out = workdir / f"{tree.name}.json"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        subprocess.run(
            [sys.executable, "-c", _DUMP, str(SAF / "training"), str(TRAINING_CACHE), str(out)],
            check=True,
            cwd=tree,
            env=env,
        )
        rows: list[Features] = json.loads(out.read_text())
        return rows
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=True)


def targets(data: Dataset) -> tuple[np.ndarray[Any, Any], list[Label], np.ndarray[Any, Any]]:
    """Human scores (share of full marks), labels, and each answer's question number."""
    scores = np.array([i.score / data.questions[i.question_id].max_score for i in data.items])
    labels = [i.label or Label.INCORRECT for i in data.items]
    groups = np.array([sorted(data.questions).index(i.question_id) for i in data.items])
    return scores, labels, groups


def leave_question_out(
    rows: list[Features], data: Dataset
) -> tuple[np.ndarray[Any, Any], list[Label]]:
    scores, labels, groups = targets(data)
    predicted = np.zeros(len(rows))
    chosen: list[Label] = list(labels)
    for question in np.unique(groups):
        test, train = np.where(groups == question)[0], np.where(groups != question)[0]
        entry = fit_entry(
            [rows[i] for i in train],
            [float(scores[i]) for i in train],
            [labels[i] for i in train],
            list(rows[0]),
            kind="linear:10+cuts",
            groups=[int(g) for g in groups[train]],
        )
        for i, p in zip(test, entry.predict([rows[i] for i in test]), strict=True):
            predicted[i], chosen[i] = p.percent, p.label
    return predicted, chosen


Run = tuple[np.ndarray[Any, Any], list[Label]]


def figure(run: Run, scores: np.ndarray[Any, Any], labels: list[Label], rows: Any) -> float:
    """Pearson + macro-F1 of a run's predictions on the given rows."""
    predicted, chosen = run
    pearson = float(np.corrcoef(predicted[rows], scores[rows])[0, 1])
    return pearson + macro_f1([labels[i] for i in rows], [chosen[i] for i in rows])


def bootstrap(
    old: Run, new: Run, data: Dataset, boot: int = 1000
) -> tuple[float, float, float, float]:
    """new - old in Pearson + macro-F1: the difference, its 95% interval over resampled
    questions, and the share of resamples where new is better."""
    scores, labels, groups = targets(data)
    every = np.arange(len(scores))
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(boot):
        picked = rng.integers(0, len(data.questions), len(data.questions))
        rows = np.concatenate([np.where(groups == g)[0] for g in picked])
        diffs.append(figure(new, scores, labels, rows) - figure(old, scores, labels, rows))
    low, high = np.percentile(diffs, [2.5, 97.5])
    difference = figure(new, scores, labels, every) - figure(old, scores, labels, every)
    return difference, float(low), float(high), float(np.mean(np.array(diffs) > 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--boot", type=int, default=1000)
    args = parser.parse_args()
    data = read_dataset(SAF / "training")
    scores, labels, _ = targets(data)
    with tempfile.TemporaryDirectory() as work:
        runs = [leave_question_out(features_at(r, Path(work)), data) for r in (args.old, args.new)]
    every = np.arange(len(scores))
    for name, run in zip((args.old, args.new), runs, strict=True):
        value = figure(run, scores, labels, every)
        print(f"{name}: leave-one-question-out Pearson + macro-F1 {value:.4f}")
    difference, low, high, share = bootstrap(runs[0], runs[1], data, args.boot)
    print(
        f"{args.new} - {args.old}: {difference:+.4f}, "
        f"95% interval over questions [{low:+.4f}, {high:+.4f}], "
        f"share of resamples better {share:.2f}"
    )


if __name__ == "__main__":
    main()
