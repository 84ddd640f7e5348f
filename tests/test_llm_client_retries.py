"""VLLMClient's retries, back-off, deadlines and concurrency limit.  Against
httpx.MockTransport: no server, no model, well under a second each."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pytest

from models.llm_errors import LLMRejected, LLMTimeout, LLMUnavailable
from tests.llm_stub import Replies, call, call_fails, completion, make_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_retries_on_503_then_succeeds() -> None:
    overloaded = httpx.Response(503, json={"error": {"message": "overloaded"}})
    llm = Replies(overloaded, overloaded, completion('{"verdict": "not_met"}'))
    async with make_client(llm, max_retries=2) as client:
        assert await call(client) == {"verdict": "not_met"}
        assert client.stats.retries == 2
    assert llm.calls == 3


@pytest.mark.anyio
async def test_gives_up_after_retries_with_unavailable() -> None:
    llm = Replies(httpx.Response(502, text="bad gateway"))
    info = await call_fails(llm, LLMUnavailable, max_retries=2)
    assert isinstance(info.value, LLMUnavailable) and info.value.status_code == 502
    assert llm.calls == 3


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
    llm = Replies(httpx.ConnectError)
    start = time.monotonic()
    await call_fails(llm, LLMUnavailable, "unreachable", max_retries=1)
    assert time.monotonic() - start < 1.0
    assert llm.calls == 2


@pytest.mark.anyio
async def test_4xx_is_rejected_without_retry() -> None:
    llm = Replies(httpx.Response(400, json={"error": {"message": "prompt too long"}}))
    info = await call_fails(llm, LLMRejected, "prompt too long")
    assert isinstance(info.value, LLMUnavailable)
    assert info.value.status_code == 400
    assert llm.calls == 1


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
        assert client.stats.in_flight.most == 3
    assert results == [{"verdict": "met"}] * 20
    assert peak == 3
