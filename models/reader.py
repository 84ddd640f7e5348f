"""The reader backend: reads a text (a key point, a misconception, a reference answer) and an
answer together, and says whether the answer covers it, contradicts it or neither.

A cross-encoder trained here on human grades (``rubricate reader train``); the weights ship in
``models/reader_weights/``. Serving only: training is models/reader_training.py.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from models.precision import Precision, resolve_precision
from models.reader_network import WEIGHTS_FILE, ReaderNetwork, load, pair_ids

SHIPPED = Path(__file__).with_name("reader_weights")


@dataclass(frozen=True)
class Reading:
    """One pair read: the relation's probabilities, and the answer's grade against a
    reference (probabilities of correct / partially correct / incorrect, score 0..1)."""

    covers: float
    contradicts: float
    neither: float
    correct: float
    partially_correct: float
    incorrect: float
    score: float


class Reader(Protocol):
    """Anything that reads (text, answer) pairs; ``name`` names the weights (with their hash)."""

    name: str

    def read(self, pairs: Sequence[tuple[str, str]]) -> list[Reading]:
        """One Reading per (text, answer) pair, in order."""
        ...


def weights_hash(folder: Path) -> str:
    """The first 12 hex digits of the SHA-256 of the weights file: every result names it."""
    digest = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
    return digest[:12]


class CrossEncoderReader:
    """The trained reader on the CPU. All pairs of one call go through batched forward passes
    under ``torch.inference_mode()``; the texts read against (a rubric's side) are tokenized
    once and cached, the answer once per call.

    ``precision``: the weights' number format (``resolve_precision``); in bf16 the name
    says so (``...@<hash>+bf16``), so every grade names how it was read."""

    def __init__(
        self,
        folder: Path | str = SHIPPED,
        *,
        batch_size: int = 32,
        threads: int | None = None,
        network: ReaderNetwork | None = None,
        tokenizer: Any = None,
        max_length: int | None = None,
        precision: Precision = "fp32",
    ) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch

        if threads:
            torch.set_num_threads(threads)
        folder = Path(folder)
        if network is None:
            network, tokenizer, card = load(folder)
            self.name = f"rubricate-reader@{weights_hash(folder)}"
            self.card = card
        else:
            self.name, self.card = "rubricate-reader@training", {}
        self.precision = resolve_precision(precision)
        if self.precision == "bf16":
            network = network.to(torch.bfloat16)
            self.name += "+bf16"
        self._network = network
        self._tokenizer = tokenizer
        self._batch = batch_size
        self._max_length = max_length or int(self.card.get("max_length", 256))
        self._ids = lru_cache(maxsize=8192)(self._tokenize)

    def _tokenize(self, text: str) -> tuple[int, ...]:
        return tuple(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _pair(self, first: tuple[int, ...], second: tuple[int, ...]) -> tuple[list[int], int]:
        """[CLS] first [SEP] second [SEP] (or the encoder's own pair form), cut longest-first
        as the tokenizer would."""
        return pair_ids(self._tokenizer, first, second, self._max_length)

    def read(self, pairs: Sequence[tuple[str, str]]) -> list[Reading]:
        import torch

        if not pairs:
            return []
        answers: dict[str, tuple[int, ...]] = {}
        encoded = []
        for first, second in pairs:
            if second not in answers:
                answers[second] = self._tokenize(second)
            encoded.append(self._pair(self._ids(first), answers[second]))
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
        found: dict[int, Reading] = {}
        with torch.inference_mode():
            for start in range(0, len(order), self._batch):
                chunk = order[start : start + self._batch]
                width = max(len(encoded[i][0]) for i in chunk)
                ids = torch.zeros((len(chunk), width), dtype=torch.long)
                mask = torch.zeros_like(ids)
                types = torch.zeros_like(ids)
                for row, i in enumerate(chunk):
                    tokens, first_len = encoded[i]
                    ids[row, : len(tokens)] = torch.tensor(tokens)
                    mask[row, : len(tokens)] = 1
                    types[row, first_len : len(tokens)] = 1
                result = self._network(
                    input_ids=ids,
                    attention_mask=mask,
                    token_type_ids=types if self._network.token_types else None,
                )
                relation = torch.softmax(result["relation"].float(), -1).numpy()
                grade = torch.softmax(result["grade"].float(), -1).numpy()
                score = result["score"].float().numpy()
                for row, i in enumerate(chunk):
                    found[i] = _reading(relation[row], grade[row], float(score[row]))
        return [found[i] for i in range(len(encoded))]


def _reading(relation: np.ndarray[Any, Any], grade: np.ndarray[Any, Any], score: float) -> Reading:
    return Reading(
        covers=float(relation[0]),
        contradicts=float(relation[1]),
        neither=float(relation[2]),
        correct=float(grade[0]),
        partially_correct=float(grade[1]),
        incorrect=float(grade[2]),
        score=score,
    )


def load_reader(
    folder: Path | str | None = None,
    threads: int | None = None,
    precision: Precision = "fp32",
) -> CrossEncoderReader:
    """The shipped reader (or the one in ``folder``)."""
    path = Path(folder) if folder else SHIPPED
    return CrossEncoderReader(path, threads=threads, precision=precision)
