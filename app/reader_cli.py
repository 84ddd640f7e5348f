"""``rubricate reader``: train the reader on the human-graded datasets, or measure one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from models.precision import Precision

reader_cli = typer.Typer(help="Train or measure the reader (offline).", no_args_is_help=True)

DatasetsOption = Annotated[
    Path | None,
    typer.Option(
        help="The datasets folder (default: RUBRICATE_DATASETS_DIR or ../shared/datasets)."
    ),
]


@reader_cli.command("train")
def train_command(
    output: Annotated[Path, typer.Option(help="The model folder to write.")] = Path(
        "models/reader_weights"
    ),
    base: Annotated[
        str,
        typer.Option(
            help="Starting weights: all-MiniLM-L6-v2 (minilm), all-mpnet-base-v2 (mpnet), "
            "SmolLM2-135M (smollm2) or a folder."
        ),
    ] = "all-MiniLM-L6-v2",
    seed: Annotated[int, typer.Option(help="Seed of the data order and the heads.")] = 13,
    epochs: Annotated[float, typer.Option(min=0.01, help="Passes over the pairs.")] = 2.0,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many steps.")
    ] = None,
    sample: Annotated[
        int | None, typer.Option(min=1, help="Train on the first N pairs only.")
    ] = None,
    test_sample: Annotated[
        int, typer.Option(min=1, help="Answers of each test folder the card measures.")
    ] = 60,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads.")] = None,
    max_length: Annotated[int, typer.Option(min=16, help="Tokens of a pair, at most.")] = 192,
    synthetic: Annotated[bool, typer.Option(help="Synthetic contradictions.")] = True,
    off_topic: Annotated[bool, typer.Option(help="Other questions' answers as off-topic.")] = True,
    lessons: Annotated[bool, typer.Option(help="The lessons' rubric pairs.")] = True,
    every_reference: Annotated[
        bool, typer.Option(help="A pair per reference alternative, not BEST only.")
    ] = False,
    negation_pairs: Annotated[
        bool,
        typer.Option(help="Negated statements covered by negated paraphrases (a not both sides)."),
    ] = False,
    reworded: Annotated[
        bool,
        typer.Option(help='Statements said the other way round cover them ("not lower" = higher).'),
    ] = False,
    datasets: DatasetsOption = None,
) -> None:
    """Train the reader from the datasets' training folders and the lessons' rubrics."""
    import torch

    from app.runtime import load_all_lessons
    from app.settings import Settings
    from graders.evaluation.reader_pairs import Recipe
    from graders.evaluation.reader_release import train_reader

    if threads:
        torch.set_num_threads(threads)
    recipe = Recipe(
        synthetic,
        off_topic,
        lessons,
        every_reference,
        negation_pairs=negation_pairs,
        reworded=reworded,
    )
    card = train_reader(
        output,
        load_all_lessons(Settings()).values(),
        base=base,
        seed=seed,
        epochs=epochs,
        max_steps=max_steps,
        datasets=datasets,
        sample=sample,
        test_sample=test_sample,
        max_length=max_length,
        recipe=recipe,
    )
    typer.echo(json.dumps(card["test_figures"], indent=2))
    typer.echo(f"wrote {output} (weights {card['weights_sha256_12']})")


@reader_cli.command("eval")
def eval_command(
    folder: Annotated[
        Path | None, typer.Argument(help="A reader folder (default: shipped).")
    ] = None,
    per_folder: Annotated[
        int | None, typer.Option(min=1, help="Only the first N answers of each folder.")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write the figures here (JSON).")] = None,
    datasets: DatasetsOption = None,
    precision: Annotated[
        Precision, typer.Option(help="fp32, bf16 or auto (bf16 where the CPU has it in hardware).")
    ] = "fp32",
) -> None:
    """The reader alone on every SemEval-2013 test folder and SAF's test splits."""
    from graders.evaluation.reader_eval import negation_figures, test_figures
    from models.reader import load_reader

    reader = load_reader(folder, precision=precision)
    figures = test_figures(reader, datasets, per_folder=per_folder)
    negation = negation_figures(reader)
    text = json.dumps({"reader": reader.name, "figures": figures, "negation": negation}, indent=2)
    if output:
        output.write_text(text + "\n")
    typer.echo(text)
