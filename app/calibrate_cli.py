"""``rubricate calibrate``: fit the features -> score/label mapping on human-graded data.

The work is in app/eval_run.py, imported inside the command (offline: the ``eval`` extra).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from graders.calibration.calibration_file import DEFAULT_FILE


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
    from app.eval_run import SAF_ROOT, calibrate

    calibration, key = calibrate(
        train or [SAF_ROOT / "training"],
        output,
        name,
        per_question=per_question,
        concurrency=concurrency,
        no_llm=no_llm,
    )
    typer.echo(json.dumps({"file": str(output), "version": calibration.version, "entry": key}))
