"""Micro-batching for the embedder: concurrent requests share one encode call.

Encoding 8 answers in one batch is much cheaper than 8 separate calls on a CPU, so the
service keeps up with the model's own throughput under load (the idea of infinity's
batch handler). A small LRU cache serves texts seen recently (identical answers in a
class, repeated segments) without encoding them again.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from models.embedder import Embedder, TokenEmbedder, TokenVectors, Vectors

_TOKEN_CACHE = 256
K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


def _lru_put(cache: OrderedDict[K, V], key: K, value: V, limit: int) -> None:
    """Store ``value`` as the newest entry, dropping the oldest beyond ``limit``."""
    if limit <= 0:
        return
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)


@dataclass
class _Pending:
    texts: list[str]
    future: asyncio.Future[Vectors] = field(repr=False)


class BatchingEmbedder:
    """Async front of an :class:`Embedder`: one worker encodes whatever is queued."""

    def __init__(self, embedder: Embedder, *, max_batch: int = 256, cache_size: int = 20_000):
        self.embedder = embedder
        self.name = embedder.name
        self._max_batch = max_batch
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_size = cache_size
        self._queue: asyncio.Queue[_Pending] | None = None
        self._tokens: OrderedDict[str, TokenVectors] = OrderedDict()
        # One model call at a time: two torch calls at once on a small CPU spend their
        # time contending for the cores (measured: most CPU time in the kernel).
        self._model_lock = threading.Lock()
        self._worker: asyncio.Task[None] | None = None

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            if self._queue is None:
                self._queue = asyncio.Queue()
                self._worker = asyncio.create_task(self._run(), name="embedder-batcher")
            future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
            await self._queue.put(_Pending(missing, future))
            vectors = await future
            for text, vector in zip(missing, vectors, strict=True):
                found[text] = vector
                self._remember(text, vector)
        return np.stack([found[t] for t in texts])

    async def embed_tokens(self, texts: Sequence[str]) -> list[TokenVectors] | None:
        """Token vectors (for alignment features), or None when the model has none to give.

        Not micro-batched: only the calibration features ask, once per answer, and the
        reference and question texts repeat, so they are served from a small cache. The
        sentence vectors of the same pass go into the sentence cache, so the whole-answer
        similarity that follows costs no second encode.
        """
        embedder = self.embedder
        if not isinstance(embedder, TokenEmbedder):
            return None
        unique = list(dict.fromkeys(texts))
        found = {t: self._tokens[t] for t in unique if t in self._tokens}
        missing = [t for t in unique if t not in found]
        if missing:
            encoded = await asyncio.to_thread(self._locked, embedder.embed_tokens, missing)
            found.update(zip(missing, encoded, strict=True))
        for text, tokens in found.items():
            _lru_put(self._tokens, text, tokens, _TOKEN_CACHE)
            if text in missing and tokens.sentence is not None:  # same pass: no 2nd encode
                self._remember(text, tokens.sentence)
        return [found[t] for t in texts]

    def _locked(self, call: Callable[[list[str]], T], texts: list[str]) -> T:
        """Run one model call (in a worker thread) while holding the model lock."""
        with self._model_lock:
            return call(texts)

    def _remember(self, text: str, vector: Vectors) -> None:
        _lru_put(self._cache, text, vector, self._cache_size)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].texts)
            while not self._queue.empty() and size < self._max_batch:
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item.texts)
            texts = [t for item in batch for t in item.texts]
            try:
                vectors = await asyncio.to_thread(self._locked, self.embedder.embed, texts)
            except Exception as exc:
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            start = 0
            for item in batch:
                end = start + len(item.texts)
                if not item.future.done():
                    item.future.set_result(vectors[start:end])
                start = end

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
            self._queue = None
