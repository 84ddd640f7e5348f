"""Token-bucket rate limits per client address and per API key; 429 problem with Retry-After.

A pure ASGI middleware in front of the API. Buckets live in memory (one process), or in
Redis when ``redis_url`` is set (app/ratelimit_redis.py: shared by every process); the
address bucket always applies, the key bucket too when a key is presented (it is told
apart by its SHA-256, never stored). Health, metrics and static files are not limited.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ratelimit_redis import RedisBuckets, RedisConnection

EXEMPT = ("/healthz", "/readyz", "/metrics", "/widget.js", "/static/")


class Buckets(Protocol):
    async def wait(self, key: str) -> float:
        """0 when allowed; otherwise the seconds until one token is available."""
        ...


@dataclass
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``rate`` tokens per second, at most ``burst`` saved up; ``take`` says how long to wait."""

    def __init__(self, per_minute: int, burst: int, max_entries: int = 50_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_entries = max_entries
        self.buckets: dict[str, Bucket] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """0 when allowed; otherwise the seconds until one token is available."""
        now = time.monotonic() if now is None else now
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_entries:
                self.buckets.clear()
            bucket = self.buckets[key] = Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    async def wait(self, key: str) -> float:
        return self.take(key)


def _key_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return hashlib.sha256(value[7:].strip()).hexdigest()
        if name == b"x-api-key":
            return hashlib.sha256(value.strip()).hexdigest()
    return None


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        key_per_minute: int,
        burst: int,
        redis_url: str | None = None,
    ) -> None:
        self.app = app
        self.redis = RedisConnection(redis_url) if redis_url else None

        def buckets(name: str, rate: int) -> Buckets | None:
            if not rate:
                return None
            if self.redis is not None:
                return RedisBuckets(self.redis, name, rate, burst)
            return TokenBuckets(rate, burst)

        self.by_address = buckets("address", per_minute)
        self.by_key = buckets("key", key_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self.redis is not None:
            await self.app(scope, receive, self._closing(send))
            return
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or path.startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        wait = 0.0
        client = scope.get("client")
        if self.by_address is not None:
            wait = await self.by_address.wait(client[0] if client else "unknown")
        key = _key_of(scope)
        if not wait and key is not None and self.by_key is not None:
            wait = await self.by_key.wait(key)
        if wait:
            await _too_many(send, path, wait)
            return
        await self.app(scope, receive, send)

    def _closing(self, send: Send) -> Send:
        """``send`` that closes the Redis client as the app shuts down."""
        redis = self.redis

        async def closing(message: Message) -> None:
            if message["type"].startswith("lifespan.shutdown") and redis is not None:
                await redis.aclose()
            await send(message)

        return closing


async def _too_many(send: Send, path: str, wait: float) -> None:
    retry = max(1, math.ceil(wait))
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Too many requests",
            "status": 429,
            "detail": f"Rate limit reached; retry in {retry} s.",
            "instance": path,
            "retry_after": retry,
        }
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
