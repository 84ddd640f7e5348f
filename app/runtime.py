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
from graders.calibration.calibration_file import DEFAULT_FILE as DEFAULT_CALIBRATION
from graders.calibration.calibration_file import Calibration, load_calibration
from graders.core.config import GradingConfig
from graders.scoring.embedding_grader import EmbeddingGrader
from graders.scoring.llm_grader import LLMGrader
from graders.scoring.reader_grader import ReaderGrader
from graders.service.grading_service import GradingService
from graders.service.llm_admission import Admission
from models.batching import BatchingEmbedder
from models.embedder import EMBEDDERS, Embedder
from models.llm import llm_factory
from models.llm_protocol import LLMBackend
from models.llm_replicas import ReplicatedLLM
from models.llm_settings import LLMSettings
from models.managed_vllm import ManagedVLLM
from models.reader import Reader, load_reader
from models.vllm_setup import VLLMServerError
from rubrics import Lesson, load_lessons
from rubrics.loader import BUILTIN_DIR

log = logging.getLogger(__name__)
SMALL_MODEL = "smollm2-135m"


@dataclass
class Backends:
    """Backends handed in by tests or by programs embedding rubricate; None: from settings."""

    embedder: Embedder | None = None
    llm: LLMBackend | None = None
    llm_model: str | None = None
    reader: Reader | None = None


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
        grading = settings.grading
        if client is not None:
            llm = LLMGrader(client, model, batching)
            grading = embedding.config = _weighted(settings, model)
        calibration, calibrate_lessons = _calibration(settings)
        reader = _reader(settings, backends)
        service = GradingService(
            lessons,
            embedding,
            grading,
            llm,
            calibration,
            calibrate_lessons,
            admission=Admission(settings.llm_max_concurrency * _servers(client)),
            llm_budget_s=settings.llm_budget_s,
            reader=ReaderGrader(reader) if reader is not None else None,
        )
        await service.prepare_exemplars()
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


def _reader(settings: Settings, backends: Backends) -> Reader | None:
    """The reader handed in, else the configured or shipped one (loaded once, here)."""
    if not settings.reader_enabled:
        return None
    if backends.reader is not None:
        return backends.reader
    return load_reader(
        settings.reader_dir, threads=settings.embed_threads, precision=settings.reader_precision
    )


def _servers(client: LLMBackend | None) -> int:
    """LLM servers behind the client: ``llm_max_concurrency`` calls go to each at once."""
    return len(client.replicas) if isinstance(client, ReplicatedLLM) else 1


def _weighted(settings: Settings, model: str) -> GradingConfig:
    """The grading config for the small bundled model, unless set: its low weight, and no
    graded examples in its prompt (on a CPU the longer prompts time out under a class's load,
    and a 135M model does not learn from them)."""
    if SMALL_MODEL not in model.lower():
        return settings.grading
    chosen = settings.grading.model_fields_set
    update: dict[str, float | int] = {}
    if "llm_weight" not in chosen:
        update["llm_weight"] = settings.small_llm_weight
    if "llm_examples" not in chosen:
        update["llm_examples"] = 0
    return settings.grading.model_copy(update=update)


def _calibration(settings: Settings) -> tuple[Calibration | None, bool]:
    """The configured calibration (for every question), else the shipped one (inline only)."""
    if settings.calibration_file is not None:
        return load_calibration(settings.calibration_file), True
    return (load_calibration(DEFAULT_CALIBRATION) if DEFAULT_CALIBRATION.exists() else None), False


async def _llm_client(
    settings: Settings, backends: Backends, stack: contextlib.AsyncExitStack
) -> tuple[LLMBackend | None, str]:
    if backends.llm is not None:
        return backends.llm, backends.llm_model or settings.llm_model or "unknown"
    if not settings.llm_enabled:
        return None, ""
    urls = list(settings.llm_urls) or ([str(settings.llm_url)] if settings.llm_url else [])
    model = settings.llm_model or "smollm2-135m-instruct"
    if not urls:
        if not settings.local_vllm:
            return None, ""
        server = _start_local_vllm(settings)
        if server is None:
            return None, ""
        stack.callback(server.stop)
        urls, model = [server.base_url], server.model_name
    llm_settings = LLMSettings(
        backend=settings.llm_backend,
        base_url=urls[0],
        model=model,
        api_key=settings.llm_api_key,
        timeout_s=settings.llm_timeout_s,
        max_concurrency=settings.llm_max_concurrency,
        max_retries=settings.llm_retries,
        route_header=settings.llm_route_header,
    )
    factory = llm_factory(settings.llm_backend)
    client: LLMBackend
    if len(urls) > 1 or settings.llm_route_header:
        # Several replicas, or one router that hashes our key: spread each question's calls.
        client = ReplicatedLLM(llm_settings, urls, factory, shards=settings.llm_shards_per_question)
    else:
        client = factory(llm_settings)
    stack.push_async_callback(client.aclose)
    return client, model


def _start_local_vllm(settings: Settings) -> ManagedVLLM | None:
    """Start the prepared local vLLM (it warms up while the API already grades with embeddings)."""
    try:
        server = ManagedVLLM.from_home(settings.vllm_home, api_key=settings.llm_api_key)
    except VLLMServerError as exc:
        log.warning("LLM grader off: %s", exc)
        return None
    server.start()
    log.info(
        "started local vLLM (pid %s) at %s; logs in %s",
        server.pid,
        server.base_url,
        server.log_path,
    )
    return server
