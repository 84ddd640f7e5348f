"""Rate limits kept in a real Redis: the token-bucket contract, sharing, and failing open."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from pathlib import Path

import pytest
import redis

from app.factory import create_app
from app.ratelimit_redis import RedisBuckets, RedisConnection
from tests import conftest
from tests.test_access import call

pytestmark = [pytest.mark.integration, pytest.mark.scale]
REDIS_URL = os.environ.get("RUBRICATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
DEAD_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


def unique() -> str:
    return uuid.uuid4().hex


def takes(url: str, per_minute: int, burst: int, keys: list[str]) -> list[float]:
    async def go() -> list[float]:
        connection = RedisConnection(url, prefix=f"test:{unique()}:")
        buckets = RedisBuckets(connection, "address", per_minute, burst)
        try:
            return [await buckets.wait(key) for key in keys]
        finally:
            await connection.aclose()

    return asyncio.run(go())


def test_burst_then_wait_like_the_memory_buckets(redis_url: str) -> None:
    waits = takes(redis_url, 60, 3, ["a"] * 4 + ["b"])
    assert waits[:3] == [0, 0, 0]
    assert 0.9 < waits[3] <= 1.0  # one token a second
    assert waits[4] == 0  # another client has its own bucket


def test_refills_at_the_rate(redis_url: str) -> None:
    async def go() -> None:
        connection = RedisConnection(redis_url, prefix=f"test:{unique()}:")
        buckets = RedisBuckets(connection, "key", 600, 1)  # ten a second
        assert await buckets.wait("k") == 0
        assert 0 < await buckets.wait("k") <= 0.1
        await asyncio.sleep(0.15)
        assert await buckets.wait("k") == 0
        await connection.aclose()

    asyncio.run(go())


def test_idle_buckets_expire(redis_url: str) -> None:
    prefix = f"test:{unique()}:"

    async def go() -> None:
        connection = RedisConnection(redis_url, prefix=prefix)
        await RedisBuckets(connection, "address", 60, 5).wait("x")
        await connection.aclose()

    asyncio.run(go())
    ttl = redis.Redis.from_url(redis_url).pttl(prefix + "address:x")
    assert 0 < ttl <= 2000  # one token to refill (1 s), plus a second


def test_two_processes_share_the_buckets(redis_url: str, tmp_path: Path) -> None:
    """Two apps on one Redis (as two API processes would be): a client alternating between
    them gets the burst once in all, per address and per API key."""
    settings = conftest.make_settings(
        tmp_path,
        redis_url=redis_url,
        rate_limit_per_minute=60,
        rate_limit_key_per_minute=60,
        rate_limit_burst=2,
    )
    apps = [create_app(settings), create_app(settings)]
    address = f"10.{os.getpid() % 250}.{int(time.time()) % 250}.{uuid.uuid4().int % 250}"
    codes = [call(apps[i % 2], "GET", "/v1/lessons", client=address) for i in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert int(codes[2].headers["retry-after"]) == 1
    assert codes[2].headers["content-type"] == "application/problem+json"
    key = {"X-API-Key": unique()}
    by_key = [
        call(apps[i % 2], "GET", "/v1/lessons", client=f"192.0.2.{i}", headers=key).status_code
        for i in range(3)
    ]
    assert by_key == [200, 200, 429]
    assert call(apps[1], "GET", "/healthz", client=address).status_code == 200


def test_redis_down_lets_requests_pass_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = conftest.make_settings(
        tmp_path, redis_url=DEAD_URL, rate_limit_per_minute=60, rate_limit_burst=1
    )
    app = create_app(settings)
    with caplog.at_level(logging.WARNING, logger="app.ratelimit_redis"):
        codes = [call(app, "GET", "/v1/lessons").status_code for _ in range(3)]
    assert codes == [200, 200, 200]  # the limit would have refused the second
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0], warnings


def test_redis_down_costs_one_try_per_cooldown() -> None:
    async def go() -> None:
        connection = RedisConnection(DEAD_URL, cooldown_s=30)
        buckets = RedisBuckets(connection, "address", 60, 1)
        assert await buckets.wait("a") == 0
        assert connection.down_until > time.monotonic()
        started = time.monotonic()
        assert [await buckets.wait("a") for _ in range(100)] == [0] * 100
        assert time.monotonic() - started < 0.05  # Redis not asked again meanwhile
        await connection.aclose()

    asyncio.run(go())


def test_back_after_an_outage(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        connection = RedisConnection(redis_url, prefix=f"test:{unique()}:", cooldown_s=0)
        connection.down_until = 1.0  # as if an outage had been seen
        buckets = RedisBuckets(connection, "address", 60, 1)
        assert await buckets.wait("a") == 0
        assert await buckets.wait("a") > 0  # limiting again
        assert connection.down_until == 0
        await connection.aclose()

    with caplog.at_level(logging.WARNING, logger="app.ratelimit_redis"):
        asyncio.run(go())
    assert any("back" in r.getMessage() for r in caplog.records)
