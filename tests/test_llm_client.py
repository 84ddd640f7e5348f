"""VLLMClient against httpx.MockTransport: no server, no model, well under a second each."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from models.llm import LLM_CLIENTS, create_llm_client
from models.llm_errors import LLMBadResponse, LLMRejected, LLMTimeout, LLMUnavailable
from models.llm_protocol import LLMClient
from models.llm_replies import prefix_cache_hit_rate
from models.llm_settings import LLMSettings
from models.vllm_client import VLLMClient

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["met", "not_met"]}},
    "required": ["verdict"],
    "additionalProperties": False,
}
MESSAGES = [{"role": "system", "content": "Grade."}, {"role": "user", "content": "answer"}]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def completion(content: str, finish_reason: str = "stop") -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
        },
    )


def make_client(handler: Handler, **overrides: Any) -> VLLMClient:
    values: dict[str, Any] = {
        "base_url": "http://llm.test/v1/",
        "model": "m",
        "timeout_s": 2.0,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    }
    values.update(overrides)
    return VLLMClient(LLMSettings(**values), transport=httpx.MockTransport(handler))


async def call(client: VLLMClient) -> dict[str, Any]:
    return await client.complete_json(MESSAGES, SCHEMA, name="verdict", max_tokens=32)


@pytest.mark.anyio
async def test_success_sends_structured_output_request() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return completion('{"verdict": "met"}')

    async with make_client(handler) as client:
        assert await call(client) == {"verdict": "met"}
        assert client.stats.successes == 1
        assert client.stats.prompt_tokens == 11
    assert client.closed

    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    body = json.loads(request.content)
    assert body["model"] == "m"
    assert body["temperature"] == 0
    assert body["max_tokens"] == 32
    assert body["messages"] == MESSAGES
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": SCHEMA, "strict": True},
    }
    assert "authorization" not in request.headers


@pytest.mark.anyio
async def test_authorization_header_sent() -> None:
    auth: list[str | None] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers.get("authorization"))
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [{"id": "m"}]})
        return completion('{"verdict": "met"}')

    async with make_client(handler, api_key="s3cret") as client:
        await call(client)
        assert await client.ready() == (True, "vLLM serving 'm'")
    assert auth == ["Bearer s3cret", "Bearer s3cret"]


@pytest.mark.anyio
async def test_retries_on_503_then_succeeds() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            return httpx.Response(503, json={"error": {"message": "overloaded"}})
        return completion('{"verdict": "not_met"}')

    async with make_client(handler, max_retries=2) as client:
        assert await call(client) == {"verdict": "not_met"}
        assert client.stats.retries == 2
    assert calls == 3


@pytest.mark.anyio
async def test_gives_up_after_retries_with_unavailable() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(502, text="bad gateway")

    async with make_client(handler, max_retries=2) as client:
        with pytest.raises(LLMUnavailable) as info:
            await call(client)
    assert info.value.status_code == 502
    assert calls == 3


@pytest.mark.anyio
async def test_429_backs_off_exponentially_and_honours_retry_after() -> None:
    stamps: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            return httpx.Response(429, headers={"Retry-After": "0.2"}, json={"error": "slow"})
        if len(stamps) == 2:
            return httpx.Response(429, json={"error": "slow down"})
        return completion('{"verdict": "met"}')

    async with make_client(handler, backoff_base_s=0.05, backoff_max_s=1.0) as client:
        assert await call(client) == {"verdict": "met"}
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps[0] >= 0.2  # Retry-After beats the 0.05 s first back-off
    assert gaps[1] >= 0.1  # second back-off: 0.05 * 2


@pytest.mark.anyio
async def test_connect_errors_are_retried_then_unavailable() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused", request=request)

    async with make_client(handler, max_retries=1) as client:
        start = time.monotonic()
        with pytest.raises(LLMUnavailable, match="unreachable"):
            await call(client)
        assert time.monotonic() - start < 1.0
    assert calls == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content",
    ['{"verdict": "met"', "not json at all", '["a list"]', ""],
)
async def test_invalid_json_raises_bad_response(content: str) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return completion(content)

    async with make_client(handler) as client:
        with pytest.raises(LLMBadResponse) as info:
            await call(client)
    assert info.value.raw == content


@pytest.mark.anyio
async def test_truncated_reply_says_so() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return completion('{"verdict": "me', finish_reason="length")

    async with make_client(handler) as client:
        with pytest.raises(LLMBadResponse, match="max_tokens"):
            await call(client)


@pytest.mark.anyio
async def test_non_completion_body_raises_bad_response() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"unexpected": True})

    async with make_client(handler) as client:
        with pytest.raises(LLMBadResponse):
            await call(client)


@pytest.mark.anyio
async def test_4xx_is_rejected_without_retry() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400, json={"error": {"message": "prompt too long"}})

    async with make_client(handler) as client:
        with pytest.raises(LLMRejected, match="prompt too long") as info:
            await call(client)
    assert isinstance(info.value, LLMUnavailable)
    assert info.value.status_code == 400
    assert calls == 1


@pytest.mark.anyio
async def test_hanging_server_times_out_within_deadline() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return completion("{}")

    async with make_client(handler, timeout_s=0.3) as client:
        start = time.monotonic()
        with pytest.raises(LLMTimeout):
            await call(client)
        elapsed = time.monotonic() - start
        assert client.stats.timeouts == 1
    assert 0.25 <= elapsed < 0.6


@pytest.mark.anyio
async def test_deadline_covers_retries() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.15)
        return httpx.Response(503)

    async with make_client(
        handler, timeout_s=0.4, max_retries=50, backoff_base_s=0.05, backoff_max_s=0.05
    ) as client:
        start = time.monotonic()
        with pytest.raises((LLMTimeout, LLMUnavailable)):
            await call(client)
    assert time.monotonic() - start < 0.6


@pytest.mark.anyio
async def test_concurrency_limit_respected() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return completion('{"verdict": "met"}')

    async with make_client(handler, max_concurrency=3) as client:
        results = await asyncio.gather(*(call(client) for _ in range(20)))
        assert client.stats.max_in_flight == 3
    assert results == [{"verdict": "met"}] * 20
    assert peak == 3


@pytest.mark.anyio
async def test_ready_reports_missing_model_and_unreachable_server() -> None:
    async def other_model(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "list", "data": [{"id": "other"}]})

    async with make_client(other_model) as client:
        ok, why = await client.ready()
    assert not ok
    assert "other" in why

    async def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with make_client(refused) as client:
        ok, why = await client.ready()
    assert not ok
    assert "unreachable" in why


@pytest.mark.anyio
async def test_metrics_text_and_prefix_cache_hit_rate() -> None:
    metrics = (
        "# HELP vllm:prefix_cache_queries_total Prefix cache queries.\n"
        'vllm:prefix_cache_queries_total{engine="0",model_name="m"} 200.0\n'
        'vllm:prefix_cache_hits_total{engine="0",model_name="m"} 150.0\n'
    )

    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/metrics"
        return httpx.Response(200, text=metrics)

    async with make_client(handler) as client:
        text = await client.metrics_text()
    assert prefix_cache_hit_rate(text) == 0.75
    assert prefix_cache_hit_rate("") is None


@pytest.mark.anyio
async def test_settings_and_registry() -> None:
    settings = LLMSettings(base_url="http://vllm:8000/v1/", model="m")
    assert settings.base_url == "http://vllm:8000"
    with pytest.raises(ValueError):
        LLMSettings(base_url="vllm:8000")
    assert LLM_CLIENTS["vllm"] is VLLMClient
    client = create_llm_client(settings)
    assert isinstance(client, VLLMClient)
    assert isinstance(client, LLMClient)
    await client.aclose()
    with pytest.raises(ValueError, match="unknown LLM backend"):
        create_llm_client(LLMSettings(backend="nope"))
