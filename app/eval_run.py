"""The work of ``rubricate eval`` and ``rubricate calibrate``: grading quality on human-scored
data (offline; app/eval_cli.py and app/calibrate_cli.py import this inside the command, so that
serving needs neither this module nor the ``eval`` extra).

Both grade through the same runtime and GradingService as the API (rubrics from the
reference answer where no YAML rubric exists), cache per-answer features, and never fit
anything on the splits they measure.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import typer

from app.runtime import Backends, load_all_lessons, runtime
from app.settings import Settings
from graders.calibration.calibration_file import (
    Calibration,
    load_calibration,
    make_version,
    pair_key,
)
from graders.calibration.features import FEATURES
from graders.calibration.prediction import CalibrationEntry
from graders.evaluation.calibration_fit import fit_calibration_entry
from graders.evaluation.datasets import Dataset, merge, read_dataset
from graders.evaluation.feedback import feedback_closeness
from graders.evaluation.folders import read_targets
from graders.evaluation.markdown import write
from graders.evaluation.report import Baselines, Report, evaluate, fit_baselines, plots
from graders.evaluation.runner import Record, grade_dataset
from graders.evaluation.semeval import datasets_dir
from graders.evaluation.semeval_eval import semeval_report
from graders.evaluation.teacher_graded import (
    exemplars_from,
    grade_with_exemplars,
    grade_with_teacher_graded,
)
from graders.scoring.llm_grader import LLMGrader

# The SAF dataset, in RUBRICATE_DATASETS_DIR (default ../shared/datasets beside the repository).
SAF_ROOT = datasets_dir() / "saf"


# A local vLLM on a CPU is ready in about 35 s; a large model on a GPU can take minutes.
LLM_READY_TIMEOUT_S = float(os.environ.get("RUBRICATE_EVAL_LLM_WAIT_S", "600"))


async def _wait_for_llm(llm: LLMGrader, timeout_s: float) -> None:
    """Grading before the LLM is ready would measure (and cache) embeddings only under the
    LLM's name: wait for it, or stop with a clear error."""
    deadline = time.monotonic() + timeout_s
    while not llm.ready:
        if time.monotonic() >= deadline:
            typer.echo(
                f"error: the LLM ({llm.model}) is not ready after {timeout_s:g} s "
                f"({llm.state_reason}); run with --no-llm for embeddings only",
                err=True,
            )
            raise typer.Exit(2)
        await asyncio.sleep(0.5)


async def _grade_all(
    settings: Settings,
    datasets: Sequence[Dataset],
    cache_dir: Path,
    concurrency: int,
    backends: Backends | None = None,
) -> tuple[list[list[Record]], str, str | None, list[dict[str, float] | None]]:
    """Records for each dataset, the models' names, and feedback closeness where known."""
    async with runtime(settings, load_all_lessons(settings), backends) as state:
        service = state.service
        if state.llm is not None:
            await _wait_for_llm(state.llm, LLM_READY_TIMEOUT_S)
        out = []
        for dataset in datasets:
            with typer.progressbar(
                length=len(dataset.items), label=f"grading {dataset.name}", file=sys.stderr
            ) as bar:
                records = await grade_dataset(
                    service,
                    dataset,
                    cache=cache_dir / f"{_safe(dataset.name)}.jsonl",
                    concurrency=concurrency,
                    progress=bar.update,
                )
            out.append(records)
        feedback = [
            await feedback_closeness(service.embedding, d, r)
            for d, r in zip(datasets, out, strict=True)
        ]
        llm_model = service.llm.model if service.llm else None
        return out, service.embedding.model, llm_model, feedback


Taught = tuple[int, Dataset, int, str | None, list[int], list[Record]]


async def _taught_all(
    settings: Settings,
    datasets: Sequence[Dataset],
    scores: Sequence[Sequence[float]],
    ks: Sequence[int],
    graded: Dataset | None,
    backends: Backends | None,
) -> list[Taught]:
    """Each dataset graded again: with K teacher-graded answers per question (for each K),
    and with another split's graded answers to the same questions as exemplars."""
    out: list[Taught] = []
    async with runtime(settings, load_all_lessons(settings), backends) as state:
        for n, (dataset, predicted) in enumerate(zip(datasets, scores, strict=True)):
            for k in ks:
                measured, records = await grade_with_teacher_graded(
                    state.service, dataset, predicted, k
                )
                out.append((n, dataset, k, None, measured, records))
            if graded is not None:
                taught = exemplars_from(dataset, graded)
                if taught:
                    measured, records = await grade_with_exemplars(state.service, dataset, taught)
                    out.append((n, dataset, 0, graded.name, measured, records))
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def read_or_exit(path: Path) -> Dataset:
    """A dataset, or a one-line error naming the file and line (exit status 2)."""
    try:
        return read_dataset(path)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def eval_targets(paths: Sequence[Path], per_question: int | None = None) -> list[Dataset]:
    """Every dataset the paths name (SAF, SemEval-2013 or JSONL; a folder above them: each
    one below it), the first ``per_question`` answers of each question where given."""
    found: list[Dataset] = []
    for path in paths:
        try:
            found += read_targets(path)
        except (OSError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    return [d.subset(per_question) for d in found] if per_question else found


def eval_settings(no_llm: bool) -> Settings:
    return Settings().model_copy(update={"llm_enabled": False} if no_llm else {})


def run_eval(
    settings: Settings,
    targets: Sequence[Dataset],
    train_set: Dataset | None,
    cal: Calibration | None,
    output: Path,
    *,
    concurrency: int = 16,
    refit_baselines: bool = False,
    backends: Backends | None = None,
    teacher_graded: Sequence[int] = (),
    exemplar_set: Dataset | None = None,
) -> list[Report]:
    """Grade ``targets`` through the service; write JSON, Markdown and plots to ``output``.

    The baselines come from the calibration file (fitted on its training data when it was
    made) unless ``refit_baselines`` or there are none: then ``train_set`` is graded too.
    SemEval-2013 folders get their 3-way figures (graders.evaluation.semeval_eval) and no
    baselines, teacher-graded answers or exemplars.
    """
    cache_dir = settings.cache_dir / "eval"
    scored = [n for n, d in enumerate(targets) if not d.semeval]  # all but SemEval-2013's
    stored = _stored_baselines(cal) if cal and not refit_baselines else None
    if scored and stored is None and train_set is None:
        raise ValueError("no stored baselines: give training data")
    fit = train_set if scored and stored is None else None
    graded = list(targets) if fit is None else [fit, *targets]
    records, embedding_model, llm_model, feedbacks = asyncio.run(
        _grade_all(settings, graded, cache_dir, concurrency, backends)
    )
    entry = cal.entry(embedding_model, llm_model) if cal else None
    reader_weight = settings.grading.reader_calibrated_weight if settings.reader_enabled else 0.0
    version = cal.version if cal and entry else settings.grading.calibration_version
    baselines = stored
    if fit is not None:
        baselines = fit_baselines(fit, records[0])
        records, feedbacks = records[1:], feedbacks[1:]
    reports: list[Report] = []
    first_scores: list[list[float]] = []
    for dataset, recs, feedback in zip(targets, records, feedbacks, strict=True):
        if dataset.semeval:
            reports.append(semeval_report(dataset, recs, version))
            continue
        assert baselines is not None
        report, outputs = evaluate(
            dataset, recs, entry, baselines, version, feedback, reader_weight
        )
        reports.append(report)
        first_scores.append(outputs["rubricate"].scores)
        plots(output, dataset, outputs, report)
    if scored and (teacher_graded or exemplar_set is not None):
        assert baselines is not None
        some = [targets[n] for n in scored]
        taught = asyncio.run(
            _taught_all(settings, some, first_scores, teacher_graded, exemplar_set, backends)
        )
        for m, dataset, k, source, measured, recs in taught:
            n = scored[m]
            if not measured:  # every answer was teacher-graded: nothing left to measure
                continue
            rest = Dataset(dataset.name, dataset.questions, [dataset.items[i] for i in measured])
            report, _ = evaluate(rest, recs, None, baselines, version)
            k0 = [records[n][i] for i in measured]
            zero, _ = evaluate(rest, k0, entry, baselines, version, None, reader_weight)
            report.overall = {"rubricate": report.overall["rubricate"]} | {
                "rubricate_k0": zero.overall["rubricate"],
                **{name: f for name, f in report.overall.items() if name != "rubricate"},
            }
            report.teacher_graded, report.exemplars_from = k, source
            reports.append(report)
    write(output, reports)
    return reports


def _stored_baselines(calibration: Calibration) -> Baselines | None:
    """Baselines fitted on the calibration's training data when it was made (any entry)."""
    for entry in calibration.entries.values():
        if "baselines" in entry.metrics:
            return Baselines.from_json(entry.metrics["baselines"])
    return None


def calibrate(
    train: Sequence[Path],
    output: Path,
    name: str,
    *,
    per_question: int | None = None,
    concurrency: int = 16,
    no_llm: bool = False,
) -> tuple[Calibration, str]:
    """Fit the features -> score/label mapping on ``train``; write it to ``output`` under this
    run's (embedding model, LLM) pair, keeping the file's entries for other pairs. The
    calibration written and the pair's key."""
    sets = [read_or_exit(p) for p in train]
    if per_question:
        sets = [d.subset(per_question) for d in sets]
    dataset = merge(sets, "+".join(d.name for d in sets))
    settings = eval_settings(no_llm)
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
    return calibration, key


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
