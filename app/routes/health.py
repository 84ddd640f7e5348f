"""Liveness, readiness (models loaded; the LLM's state) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.deps import MetricsDep
from app.problems import problem
from app.runtime import Runtime
from models.llm_replicas import ReplicatedLLM

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request, metrics: MetricsDep) -> dict[str, Any] | JSONResponse:
    """Ready when the embedding model and rubrics are loaded; the LLM state is reported."""
    state: Runtime | None = request.app.state.runtime
    if state is None:
        return problem(503, "Not ready", "The models are still loading.", request)
    llm: dict[str, Any] = {"state": "disabled", "reason": "no LLM configured"}
    if state.llm is not None:
        llm = {
            "state": "ready" if state.llm.ready else "unavailable",
            "model": state.llm.model,
            "reason": state.llm.state_reason,
        }
        if isinstance(state.llm.client, ReplicatedLLM):
            llm["replicas"] = state.llm.client.replica_report()
        metrics.llm_ready.set(1 if state.llm.ready else 0)
    return {
        "status": "ready",
        "embedding": {"state": "ready", "model": state.embedder.name},
        "llm": llm,
        "lessons": sorted(state.service.lessons),
    }


@router.get("/metrics", include_in_schema=False)
async def prometheus(request: Request, metrics: MetricsDep) -> Response:
    state: Runtime | None = request.app.state.runtime
    if state is not None:
        metrics.observe_llm_queue(state.service.admission)
    book, refiner = request.app.state.grades, request.app.state.refiner
    if book is not None:
        counts = await asyncio.to_thread(book.store.refinement_counts)
        oldest = await asyncio.to_thread(book.store.oldest_pending_at)
        metrics.observe_refinement(counts, oldest, refiner.lag_s if refiner else None)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
