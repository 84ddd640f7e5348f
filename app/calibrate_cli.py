"""``rubricate calibrate``: fit the features -> score/label mapping on human-graded data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from app.eval_cli import SAF_ROOT, _eval_settings, _grade_all, _read
from graders.calibration.calibration_file import (
    DEFAULT_FILE,
    Calibration,
    load_calibration,
    make_version,
    pair_key,
)
from graders.calibration.features import FEATURES
from graders.calibration.prediction import CalibrationEntry
from graders.evaluation.calibration_fit import fit_calibration_entry
from graders.evaluation.datasets import Dataset, merge
from graders.evaluation.report import fit_baselines
from graders.evaluation.runner import Record


def calibrate_command(
    train: Annotated[
        list[Path] | None,
        typer.Option(
            "--train", help="Training data: SAF folders or .jsonl (default: SAF training)."
        ),
    ] = None,
    output: Annotated[Path, typer.Option(help="Calibration file to write.")] = DEFAULT_FILE,
    name: Annotated[str, typer.Option(help="Version name prefix.")] = "saf-train",
    per_question: Annotated[
        int | None,
        typer.Option(help="Only the first N answers of each question (a slow LLM on a CPU)."),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Answers graded at once.")] = 16,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Embeddings only.")] = False,
) -> None:
    """Fit the features -> score/label mapping on training data; write a calibration file.

    The entry for this run's (embedding model, LLM) pair is added to the file or replaces
    the one there; entries for other pairs are kept.
    """
    sets = [_read(p) for p in (train or [SAF_ROOT / "training"])]
    if per_question:
        sets = [d.subset(per_question) for d in sets]
    dataset = merge(sets, "+".join(d.name for d in sets))
    settings = _eval_settings(no_llm)
    (records,), embedding_model, llm_model, _ = asyncio.run(
        _grade_all(settings, [dataset], settings.cache_dir / "eval", concurrency)
    )
    entry = fit_on(dataset, records)
    entry.metrics["baselines"] = fit_baselines(dataset, records).to_json()
    if per_question:
        entry.metrics["per_question"] = per_question
    key = pair_key(embedding_model, llm_model)
    previous = load_calibration(output) if output.exists() else None
    entries: dict[str, CalibrationEntry] = dict(previous.entries) if previous else {}
    entries[key] = entry
    calibration = Calibration(make_version(name, entries), entries, trained_on=dataset.name)
    calibration.save(output)
    typer.echo(json.dumps({"file": str(output), "version": calibration.version, "entry": key}))


def fit_on(dataset: Dataset, records: Sequence[Record]) -> CalibrationEntry:
    scores = [i.score / dataset.questions[i.question_id].max_score for i in dataset.items]
    labels = [i.label for i in dataset.items] if dataset.labelled else None
    return fit_calibration_entry(
        [r.features for r in records],
        scores,
        [label for label in labels if label is not None] if labels else None,
        [r.question for r in records],
        list(FEATURES),
    )
