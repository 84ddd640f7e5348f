"""Training the reader: offline only, apart from serving (models/reader.py).

Takes plain ``Example`` pairs (whoever builds them: graders/evaluation/reader_pairs.py from
the human-graded datasets and the lessons) and fits models/reader_network.py's heads and
encoder together.
Deterministic for a seed on one machine: seeded torch, a seeded order, no data-loader workers.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.reader_network import ReaderNetwork, build, pair_ids

NO_LABEL = -1


@dataclass(frozen=True)
class Example:
    """One training pair: ``first`` is what is read against (a reference answer, a key point,
    a misconception), ``second`` the answer. A target the pair has not is NO_LABEL / None."""

    first: str
    second: str
    relation: int = NO_LABEL
    grade: int = NO_LABEL
    score: float | None = None
    source: str = ""


@dataclass
class TrainConfig:
    base: str
    output: Path
    seed: int = 13
    epochs: float = 2.0
    batch_size: int = 16
    lr: float = 6e-5
    warmup: float = 0.06
    max_length: int = 256
    max_steps: int | None = None  # a tiny run (tests): stop after this many steps
    threads: int | None = None
    extra_card: dict[str, Any] = field(default_factory=dict)


# Called after each epoch (and at the end) with the network; returns figures to show and keep.
DevEval = Callable[[ReaderNetwork, Any], dict[str, float]]


def encode(tokenizer: Any, pairs: Sequence[tuple[str, str]], max_length: int) -> dict[str, Any]:
    """A batch of pairs as the network reads them: the tokenizer's own pair encoding for BERT
    (the shipped reader), else models/reader_network.py's ``pair_ids`` (MPNet, decoders)."""
    if tokenizer.num_special_tokens_to_add(pair=True) != 3:
        return _encode_pairs(tokenizer, pairs, max_length)
    return dict(
        tokenizer(
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            truncation="longest_first",
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        )
    )


def _encode_pairs(
    tokenizer: Any, pairs: Sequence[tuple[str, str]], max_length: int
) -> dict[str, Any]:
    def ids(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    built = [pair_ids(tokenizer, ids(a), ids(b), max_length)[0] for a, b in pairs]
    width = max(len(tokens) for tokens in built)
    input_ids = torch.zeros((len(built), width), dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    for row, tokens in enumerate(built):
        input_ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def _batches(
    examples: Sequence[Example], lengths: list[int], size: int, rng: random.Random
) -> list[list[int]]:
    """Batches of similar length (less padding), in a seeded random order."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    # Sort within windows of 50 batches: similar lengths together, order still random.
    window = size * 50
    chunks: list[list[int]] = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda i: lengths[i])
        chunks.extend(part[i : i + size] for i in range(0, len(part), size))
    rng.shuffle(chunks)
    return chunks


def _loss(out: dict[str, torch.Tensor], batch: list[Example]) -> torch.Tensor:
    relation = torch.tensor([e.relation for e in batch])
    grade = torch.tensor([e.grade for e in batch])
    ce = nn.CrossEntropyLoss(ignore_index=NO_LABEL)
    total = torch.zeros(())
    if (relation != NO_LABEL).any():
        total = total + ce(out["relation"], relation)
    if (grade != NO_LABEL).any():
        total = total + ce(out["grade"], grade)
    has = [i for i, e in enumerate(batch) if e.score is not None]
    if has:
        target = torch.tensor([batch[i].score for i in has], dtype=torch.float32)
        total = total + 2.0 * nn.functional.mse_loss(out["score"][has], target)
    return total


def train(
    examples: Sequence[Example],
    config: TrainConfig,
    dev_eval: DevEval | None = None,
    progress: bool = True,
) -> tuple[ReaderNetwork, Any, dict[str, Any]]:
    """Train; returns the network, its tokenizer and a record (figures per epoch, time)."""
    from tqdm import tqdm

    random.seed(config.seed)
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    network, tokenizer = build(config.base)
    rng = random.Random(config.seed)
    lengths = [len(e.first) + len(e.second) for e in examples]
    steps_per_epoch = math.ceil(len(examples) / config.batch_size)
    total = math.ceil(steps_per_epoch * config.epochs)
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=0.01)
    warm = max(1, int(total * config.warmup))

    def schedule(step: int) -> float:
        return step / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    record: dict[str, Any] = {"epochs": [], "steps": total, "examples": len(examples)}
    started = time.monotonic()
    bar = tqdm(total=total, disable=not progress, desc="reader", dynamic_ncols=True)
    step, epoch = 0, 0
    while step < total:
        network.train()
        for indices in _batches(examples, lengths, config.batch_size, rng):
            batch = [examples[i] for i in indices]
            inputs = encode(tokenizer, [(e.first, e.second) for e in batch], config.max_length)
            loss = _loss(network(**inputs), batch)
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch + 1)
            if step >= total:
                break
        epoch += 1
        if dev_eval is not None:
            network.eval()
            with torch.inference_mode():
                figures = dev_eval(network, tokenizer)
            record["epochs"].append({"epoch": epoch, "step": step, **figures})
            bar.write(f"epoch {epoch}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()))
    bar.close()
    network.eval()
    record["train_seconds"] = round(time.monotonic() - started, 1)
    return network, tokenizer, record
