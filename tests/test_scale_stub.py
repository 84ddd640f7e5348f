"""The stub LLM replica of ``make bench-scale`` (bench/scale_stub.py): its latency model,
prefix cache and slots, without workers or an embedder."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bench.scale_stub import Profile, Replica, make_app, split_prompt, tokens

SYSTEM = "You grade answers. " * 100  # 1,900 characters: 475 tokens
ANSWER = "The base model continues text."  # 30 characters: 8 tokens


def test_tokens_are_four_characters_rounded_up() -> None:
    assert tokens("") == 0
    assert tokens("abcd") == 1
    assert tokens("abcde") == 2
    assert tokens(SYSTEM) == 475


def test_latency_model_terms() -> None:
    profile = Profile(fixed_ms=20, prefill_ms=0.05, decode_ms=3, output_tokens=300)
    assert profile.latency_s(0, 0) == pytest.approx(0.020)
    assert profile.latency_s(1000, 0) == pytest.approx(0.070)
    assert profile.latency_s(1000, 300) == pytest.approx(0.970)
    assert Profile.zero().latency_s(10_000, 10_000) == 0


def test_second_request_with_the_same_prefix_is_cached_and_cheaper() -> None:
    profile = Profile(fixed_ms=1, prefill_ms=0.02, decode_ms=0.01, output_tokens=10)
    replica = Replica(profile)

    async def two() -> tuple[float, float, float]:
        first = await replica.serve(SYSTEM, ANSWER, max_tokens=500)
        t0 = time.monotonic()
        second = await replica.serve(SYSTEM, "Another answer entirely.", max_tokens=500)
        assert first.cached_tokens == 0
        assert second.cached_tokens == tokens(SYSTEM)
        return first.latency_s, second.latency_s, time.monotonic() - t0

    cold, warm, slept = asyncio.run(two())
    # 1 ms + 0.02 x 483 + 0.01 x 10 against 1 ms + 0.02 x 6 + 0.01 x 10
    assert cold == pytest.approx((1 + 0.02 * 483 + 0.1) / 1000)
    assert warm == pytest.approx((1 + 0.02 * 6 + 0.1) / 1000)
    assert slept >= warm
    stats = replica.stats.report()
    assert (stats["requests"], stats["prefix_hits"]) == (2, 1)
    assert stats["cached_tokens"] == tokens(SYSTEM)
    assert stats["output_tokens"] == 20
    assert stats["prompt_tokens"] == 2 * tokens(SYSTEM) + tokens(ANSWER) + 6


def test_output_tokens_capped_by_max_tokens() -> None:
    replica = Replica(Profile(fixed_ms=0, prefill_ms=0, decode_ms=0.001, output_tokens=300))
    served = asyncio.run(replica.serve("", ANSWER, max_tokens=120))
    assert served.output_tokens == 120
    assert served.cached_tokens == 0  # no prefix, nothing to cache
    assert replica.stats.report()["prefix_hits"] == 0


def test_prefix_lru_evicts_the_least_recently_used() -> None:
    replica = Replica(Profile.zero(prefix_lru=2))

    async def run(prefixes: list[str]) -> list[bool]:
        served = [await replica.serve(p * 50, ANSWER, None) for p in prefixes]
        return [s.cached_tokens > 0 for s in served]

    # a, b cached; a hit (now most recent); c evicts b; b misses (evicts a); c hits.
    hits = asyncio.run(run(["a", "b", "a", "c", "b", "c", "a"]))
    assert hits == [False, False, True, False, False, True, False]
    assert replica.stats.report()["prefixes"] == 3


def test_slots_limit_concurrency_and_excess_requests_queue() -> None:
    profile = Profile(fixed_ms=50, prefill_ms=0, decode_ms=0, output_tokens=0, slots=2)
    replica = Replica(profile)

    async def burst() -> float:
        t0 = time.monotonic()
        await asyncio.gather(*(replica.serve(SYSTEM, ANSWER, None) for _ in range(6)))
        return time.monotonic() - t0

    elapsed = asyncio.run(burst())
    stats = replica.stats.report()
    assert stats["max_running"] == 2
    assert stats["max_waiting"] >= 4
    assert (stats["running"], stats["waiting"]) == (0, 0)  # all left both states
    assert elapsed >= 0.145  # three rounds of 50 ms, two at a time
    assert stats["queue_s"] >= 0.05 * 2 + 0.1 * 2 - 0.02  # two waited one round, two two
    assert stats["service_s"] == pytest.approx(0.3)


def test_split_prompt_takes_the_leading_system_messages() -> None:
    messages = [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "answer"},
        {"role": "system", "content": "late"},
    ]
    assert split_prompt(messages) == ("rules", "answer\nlate")


def test_http_api_replies_in_openai_format_per_port() -> None:
    replicas = {8101: Replica(Profile.zero()), 8102: Replica(Profile.zero())}
    app = make_app(replicas)
    schema = {
        "type": "object",
        "properties": {
            "key_points": {"type": "object", "properties": {"kp1": {}}},
            "misconceptions": {"type": "object", "properties": {"m1": {}}},
        },
    }
    body = {
        "model": "stub-7b",
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ANSWER}],
        "max_tokens": 400,
        "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
    }

    async def calls() -> tuple[list[httpx.Response], dict[str, object], dict[str, object]]:
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8101") as one,
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8102") as two,
        ):
            replies = [await one.post("/v1/chat/completions", json=body) for _ in range(2)]
            replies.append(await two.post("/v1/chat/completions", json=body))
            first, second = (await one.get("/stats")).json(), (await two.get("/stats")).json()
            await one.post("/reset")
            assert (await one.get("/stats")).json()["requests"] == 0
            assert (await two.get("/v1/models")).json()["data"][0]["id"] == "stub-7b"
        return replies, first, second

    replies, first, second = asyncio.run(calls())
    assert all(r.status_code == 200 for r in replies)
    reply = replies[1].json()
    content = reply["choices"][0]["message"]["content"]
    assert '"kp1": {"verdict": "missing"' in content and '"m1"' in content
    assert reply["usage"]["prompt_tokens_details"]["cached_tokens"] == tokens(SYSTEM)
    assert replies[2].json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert (first["requests"], first["prefix_hits"]) == (2, 1)
    assert (second["requests"], second["prefix_hits"]) == (1, 0)
