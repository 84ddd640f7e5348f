"""``rubricate eval``: grading quality on human-scored data (offline).

The command's work is in app/eval_run.py, imported inside the command: ``rubricate serve``
imports this module and needs neither graders.evaluation nor the ``eval`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def eval_command(
    datasets: Annotated[
        list[Path] | None,
        typer.Argument(
            help="SAF split folders, SemEval-2013 folders, a folder above them (each one below "
            "it), or .jsonl files (default: SAF's unseen_answers and unseen_questions)."
        ),
    ] = None,
    train: Annotated[
        Path | None,
        typer.Option(help="Training data for the baselines (default: SAF training)."),
    ] = None,
    output: Annotated[Path, typer.Option(help="Output folder.")] = Path("eval-output"),
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration file (default: the configured one).")
    ] = None,
    per_question: Annotated[
        int | None, typer.Option(help="Only the first N answers of each question.")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Answers graded at once.")] = 16,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Embeddings only.")] = False,
    refit_baselines: Annotated[
        bool,
        typer.Option(help="Grade the training data to fit the baselines, not the stored fit."),
    ] = False,
    teacher_graded: Annotated[
        list[int] | None,
        typer.Option(
            help="K answers per question, picked by the grader without their labels, become "
            "that question's exemplars; figures on the rest, beside K=0. Repeatable."
        ),
    ] = None,
    exemplars_from: Annotated[
        Path | None,
        typer.Option(
            help="Graded answers to the same questions (SAF training for unseen_answers) "
            "become their exemplars; figures beside those without."
        ),
    ] = None,
) -> None:
    """Grade human-scored answers; report agreement for rubricate and two baselines."""
    from app.eval_run import (
        SAF_ROOT,
        eval_settings,
        eval_targets,
        read_or_exit,
        run_eval,
    )
    from graders.calibration.calibration_file import DEFAULT_FILE, load_calibration
    from graders.evaluation.datasets import read_dataset

    default = [SAF_ROOT / "unseen_answers", SAF_ROOT / "unseen_questions"]
    targets = eval_targets(datasets or default, per_question)
    train_path = train or SAF_ROOT / "training"
    train_set = read_dataset(train_path) if train_path.exists() else None
    settings = eval_settings(no_llm)
    cal_path = calibration or settings.calibration_file or DEFAULT_FILE
    run_eval(
        settings,
        targets,
        train_set,
        load_calibration(cal_path) if cal_path.exists() else None,
        output,
        concurrency=concurrency,
        refit_baselines=refit_baselines,
        teacher_graded=[k for k in teacher_graded or [] if k > 0],
        exemplar_set=read_or_exit(exemplars_from) if exemplars_from else None,
    )
    typer.echo((output / "README.md").read_text())
