"""VLLMClient's requests and how it reads the replies; readiness, metrics and the client
registry.  Against httpx.MockTransport: no server, no model, well under a second each."""

from __future__ import annotations

import json

import httpx
import pytest

from models.llm import LLM_CLIENTS, llm_factory
from models.llm_errors import LLMBadResponse
from models.llm_protocol import LLMClient
from models.llm_replies import prefix_cache_hit_rate
from models.llm_settings import LLMSettings
from models.vllm_client import VLLMClient
from tests.llm_stub import MESSAGES, SCHEMA, Replies, call, call_fails, completion, make_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


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
@pytest.mark.parametrize(
    "content",
    ['{"verdict": "met"', "not json at all", '["a list"]', ""],
)
async def test_invalid_json_raises_bad_response(content: str) -> None:
    info = await call_fails(Replies(completion(content)), LLMBadResponse)
    assert isinstance(info.value, LLMBadResponse) and info.value.raw == content


@pytest.mark.anyio
async def test_truncated_reply_says_so() -> None:
    await call_fails(Replies(completion('{"verdict": "me', "length")), LLMBadResponse, "max_tokens")


@pytest.mark.anyio
async def test_non_completion_body_raises_bad_response() -> None:
    await call_fails(Replies(httpx.Response(200, json={"unexpected": True})), LLMBadResponse)


@pytest.mark.anyio
async def test_ready_reports_missing_model_and_unreachable_server() -> None:
    other_model = httpx.Response(200, json={"object": "list", "data": [{"id": "other"}]})
    async with make_client(Replies(other_model)) as client:
        ok, why = await client.ready()
    assert not ok
    assert "other" in why

    async with make_client(Replies(httpx.ConnectError)) as client:
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
    client = llm_factory(settings.backend)(settings)
    assert isinstance(client, VLLMClient)
    assert isinstance(client, LLMClient)
    await client.aclose()
    with pytest.raises(ValueError, match="unknown LLM backend"):
        llm_factory("nope")
