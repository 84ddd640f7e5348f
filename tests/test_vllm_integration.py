"""The real vLLM: structured output, concurrency, readiness, and failure after stop."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from models.llm_errors import LLMUnavailable
from models.llm_protocol import JsonRequest
from models.llm_settings import LLMSettings
from models.managed_vllm import ManagedVLLM
from models.vllm_client import VLLMClient
from models.vllm_setup import default_vllm_home
from tests.vllm_fixtures import VLLMEndpoint, start_prepared_vllm

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["met", "partially_met", "not_met"]},
        "evidence": {"type": "string", "maxLength": 60},
        # A 135M model loops on free numbers ("0.99999..."); enums stay short.
        "confidence": {"type": "string", "enum": ["low", "medium", "high"]},
    },
    "required": ["verdict", "evidence", "confidence"],
    "additionalProperties": False,
}
MAX_TOKENS = 128


def grade_request(answer: str, *, name: str = "v") -> JsonRequest:
    """A call that grades ``answer`` against one key point, in ``SCHEMA``."""
    messages = [
        {
            "role": "system",
            "content": "You grade a student's answer against one key point. Reply in JSON.",
        },
        {"role": "user", "content": "Key point: photosynthesis makes glucose from light."},
        {"role": "user", "content": f"Answer:\n<<<\n{answer}\n>>>"},
    ]
    return JsonRequest(messages, SCHEMA, name=name, max_tokens=MAX_TOKENS)


def check(result: dict[str, Any]) -> None:
    assert set(result) == {"verdict", "evidence", "confidence"}
    assert result["verdict"] in {"met", "partially_met", "not_met"}
    assert isinstance(result["evidence"], str)
    # xgrammar does not enforce maxLength, so no length assertion here.
    assert result["confidence"] in {"low", "medium", "high"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_ready(vllm_server: VLLMEndpoint) -> None:
    async with VLLMClient(vllm_server.settings()) as llm:
        ok, why = await llm.ready()
        assert ok, why
        assert "vllm:prefix_cache_queries_total" in await llm.metrics_text()


async def test_structured_output_follows_schema(vllm_server: VLLMEndpoint) -> None:
    async with VLLMClient(vllm_server.settings()) as llm:
        start = time.monotonic()
        result = await llm.complete_json(
            grade_request("Plants use sunlight to make sugar.", name="verdict")
        )
        elapsed = time.monotonic() - start
    check(result)
    print(f"one structured request: {elapsed:.2f}s -> {result}")


async def test_twenty_concurrent_calls_complete(vllm_server: VLLMEndpoint) -> None:
    async with VLLMClient(vllm_server.settings(max_concurrency=8)) as llm:
        start = time.monotonic()
        results = await asyncio.gather(
            *(
                llm.complete_json(
                    grade_request(
                        f"Answer number {i}: leaves turn light into food.", name="verdict"
                    )
                )
                for i in range(20)
            )
        )
        elapsed = time.monotonic() - start
        assert llm.stats.in_flight.most <= 8
    assert len(results) == 20
    for result in results:
        check(result)
    print(f"20 concurrent structured requests: {elapsed:.2f}s")


async def test_after_stop_not_ready_and_unavailable_fast() -> None:
    home = default_vllm_home()
    if os.environ.get("RUBRICATE_LLM_URL") and not (home / "venv").exists():
        pytest.skip("external vLLM in use and no local .vllm/ to start a second one")
    server: ManagedVLLM = await asyncio.to_thread(start_prepared_vllm, port=0)
    pgid = server.pid
    assert pgid is not None
    settings = LLMSettings(base_url=server.base_url, model=server.model_name, timeout_s=60.0)
    try:
        async with VLLMClient(settings) as llm:
            assert (await llm.ready())[0]
            check(await llm.complete_json(grade_request("x")))

            await asyncio.to_thread(server.stop)
            assert not server.is_running
            with pytest.raises(ProcessLookupError):
                os.killpg(pgid, 0)  # the whole group is gone, engine core included

            ok, why = await llm.ready()
            assert not ok
            assert "unreachable" in why
            start = time.monotonic()
            with pytest.raises(LLMUnavailable):
                await llm.complete_json(grade_request("x"))
            assert time.monotonic() - start < 3.0
    finally:
        await asyncio.to_thread(server.stop)
