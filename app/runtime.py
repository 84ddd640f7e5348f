"""Building the grading service from settings: models, rubrics, LLM, and their lifetimes.

Used by the app's lifespan and by the CLI, so both grade with exactly the same objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from app.settings import Settings
from graders.embedding import EmbeddingGrader
from graders.llm import LLMGrader
from graders.service import GradingService
from models.batching import BatchingEmbedder
from models.embedder import EMBEDDERS, Embedder
from models.llm import LLM_CLIENTS, LLMBackend, LLMSettings
from rubrics import Lesson, load_lessons
from rubrics.loader import BUILTIN_DIR

log = logging.getLogger(__name__)


@dataclass
class Backends:
    """Backends handed in by tests or by programs embedding rubricate; None: from settings."""

    embedder: Embedder | None = None
    llm: LLMBackend | None = None
    llm_model: str | None = None


@dataclass
class Runtime:
    service: GradingService
    embedder: BatchingEmbedder
    llm: LLMGrader | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def lesson_dirs(settings: Settings) -> list[Path]:
    return ([BUILTIN_DIR] if settings.builtin_lessons else []) + list(settings.lesson_dirs)


def load_all_lessons(settings: Settings) -> dict[str, Lesson]:
    return load_lessons(lesson_dirs(settings))


async def _monitor(llm: LLMGrader, client: LLMBackend, interval: float) -> None:
    """Keep the LLM grader's ready flag true to the server, so requests never wait on a dead one."""
    while True:
        try:
            ready, reason = await client.ready()
        except Exception as exc:
            ready, reason = False, f"health check failed: {exc}"
        if ready != llm.ready or reason != llm.state_reason:
            log.info("LLM grader %s: %s", "ready" if ready else "not ready", reason)
        llm.mark(ready, reason)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def runtime(
    settings: Settings, lessons: dict[str, Lesson], backends: Backends | None = None
) -> AsyncIterator[Runtime]:
    """Load the models once, prepare the rubrics, run the LLM health monitor; close on exit."""
    backends = backends or Backends()
    embedder = backends.embedder or EMBEDDERS[settings.embedder](
        batch_size=settings.embed_batch_size, threads=settings.embed_threads
    )
    batching = BatchingEmbedder(embedder, cache_size=settings.embed_cache_size)
    embedding = EmbeddingGrader(batching, settings.grading)
    await embedding.prepare(list(lessons.values()), settings.cache_dir / "embeddings")
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(batching.aclose)
        client, model = await _llm_client(settings, backends, stack)
        llm = None
        if client is not None:
            llm = LLMGrader(client, model, embedding.key_point_similarity)
        service = GradingService(lessons, embedding, settings.grading, llm)
        state = Runtime(service, batching, llm)
        if llm is not None and client is not None:
            task = asyncio.create_task(_monitor(llm, client, settings.llm_health_interval_s))
            state.tasks.append(task)
        try:
            yield state
        finally:
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)


async def _llm_client(
    settings: Settings, backends: Backends, stack: contextlib.AsyncExitStack
) -> tuple[LLMBackend | None, str]:
    if backends.llm is not None:
        return backends.llm, backends.llm_model or settings.llm_model or "unknown"
    if not settings.llm_enabled or settings.llm_url is None:
        return None, ""
    model = settings.llm_model or "smollm2-135m-instruct"
    client = LLM_CLIENTS[settings.llm_backend](
        LLMSettings(
            backend=settings.llm_backend,
            base_url=str(settings.llm_url),
            model=model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
            max_concurrency=settings.llm_max_concurrency,
            max_retries=settings.llm_retries,
        )
    )
    stack.push_async_callback(client.aclose)
    return client, model
