"""Micro-batching: concurrent requests share one model call (MicroBatcher), used by the
embedder here and by the reader (graders/scoring/reader_grader.py).

Encoding 8 answers in one batch is much cheaper than 8 separate calls on a CPU, so the
service keeps up with the model's own throughput under load (the idea of infinity's
batch handler). A small LRU cache serves texts seen recently (identical answers in a
class, repeated segments) without encoding them again.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from models.embedder import Embedder, TokenEmbedder, TokenVectors, Vectors

_TOKEN_CACHE = 256
K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 (an item a caller submits)
O = TypeVar("O")  # noqa: E741 (what the batch function gives for one item)


def _lru_put(cache: OrderedDict[K, V], key: K, value: V, limit: int) -> None:
    """Store ``value`` as the newest entry, dropping the oldest beyond ``limit``."""
    if limit <= 0:
        return
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)


@dataclass
class _Submission(Generic[I, O]):
    items: list[I]
    future: asyncio.Future[list[O]]


class MicroBatcher(Generic[I, O]):
    """Concurrent callers share the calls of ``batch`` (one item in, one result out, in
    order; run in a worker thread): what is submitted while a call runs goes into the next.

    A call takes whole submissions, oldest first, while they fit in ``max_items`` (the
    first always, however large). If the call fails, every submission in it hears of it.
    """

    def __init__(
        self, batch: Callable[[list[I]], Iterable[O]], max_items: int, *, name: str
    ) -> None:
        self.batch = batch
        self.max_items = max_items
        self.name = name
        self._waiting: list[_Submission[I, O]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, items: list[I]) -> list[O]:
        """The results of ``items``, from a call shared with whoever else is waiting."""
        future: asyncio.Future[list[O]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Submission(items, future))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._drain(), name=self.name)
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            taken: list[_Submission[I, O]] = []
            size = 0
            while self._waiting and (
                not taken or size + len(self._waiting[0].items) <= self.max_items
            ):
                item = self._waiting.pop(0)
                taken.append(item)
                size += len(item.items)
            flat = [x for item in taken for x in item.items]
            try:
                results = list(await asyncio.to_thread(self.batch, flat))
            except Exception as exc:  # every waiting caller hears of the failure
                for item in taken:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            start = 0
            for item in taken:
                end = start + len(item.items)
                if not item.future.done():
                    item.future.set_result(results[start:end])
                start = end

    async def aclose(self) -> None:
        """Stop the call loop (a call under way is abandoned)."""
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
            self._running = None


class BatchingEmbedder:
    """Async front of an :class:`Embedder`: one worker encodes whatever is queued."""

    def __init__(self, embedder: Embedder, *, max_batch: int = 256, cache_size: int = 20_000):
        self.embedder = embedder
        self.name = embedder.name
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_size = cache_size
        self._tokens: OrderedDict[str, TokenVectors] = OrderedDict()
        # One model call at a time: two torch calls at once on a small CPU spend their
        # time contending for the cores (measured: most CPU time in the kernel).
        self._model_lock = threading.Lock()
        encode = functools.partial(self._locked, embedder.embed)
        self._batcher = MicroBatcher[str, Vectors](encode, max_batch, name="embedder-batcher")

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vectors = await self._batcher.submit(missing)
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

    async def aclose(self) -> None:
        await self._batcher.aclose()
