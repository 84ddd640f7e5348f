"""The reader's model card (README.md beside its weights), written from ``reader.json``."""

from __future__ import annotations

from typing import Any


def _table(figures: dict[str, dict[str, float]]) -> list[str]:
    lines = [
        "| folder | n | accuracy | macro-F1 | weighted-F1 | Pearson |",
        "|---|---|---|---|---|---|",
    ]
    for folder, f in figures.items():
        pearson = f"{f['pearson']:.3f}" if "pearson" in f else "-"
        lines.append(
            f"| {folder} | {int(f['n'])} | {f['accuracy']:.3f} | {f['macro_f1']:.3f} "
            f"| {f['weighted_f1']:.3f} | {pearson} |"
        )
    return lines


def card_markdown(card: dict[str, Any]) -> str:
    lines = [
        "# rubricate-reader",
        "",
        "A cross-encoder that reads a text (a rubric's key point or misconception, or a question",
        "with its reference answer) together with a student's answer. Heads: the relation",
        "(covers / contradicts / neither) and the answer's grade (correct / partially correct /",
        "incorrect, and a score 0..1). Trained by rubricate; served by `models/reader.py`.",
        "",
        f"- weights: `reader.safetensors` (fp16), sha256 prefix `{card['weights_sha256_12']}`;",
        "  every grade names it in `versions.reader_model`",
        f"- base: {card['base']}; seed {card['seed']}; epochs {card['epochs']}; batch "
        f"{card['batch_size']}; lr {card['lr']}; max length {card['max_length']} tokens",
        f"- command: `{card['command'] or 'rubricate reader train'}`",
        f"- training time: {card['training']['train_seconds']} s on this machine's CPU cores",
        f"- development: {card['dev_share']:.0%} of each training folder's questions held out",
        "",
        "## Data and licences",
        "",
    ]
    for entry in card["licences"]:
        lines.append(f"- {entry['dataset']}: {entry['licence']}. {entry['attribution']}")
    lines += ["", "Pairs by source: " + ", ".join(f"{k} {v}" for k, v in card["pairs"].items())]
    lines += ["", "## Development figures (held-out training questions), per epoch", ""]
    for epoch in card["training"]["epochs"]:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in epoch.items() if k not in {"epoch", "step"})
        lines.append(f"- epoch {epoch['epoch']}: {shown}")
    lines += [
        "",
        f"## Test figures, the reader alone (first {card['test_sample']} answers of each folder)",
        "",
        "These are what `make test` checks the shipped weights against. Full folders: see the",
        "repository README (`rubricate reader eval`).",
        "",
        *_table(card["test_figures"]),
        "",
    ]
    return "\n".join(lines)
