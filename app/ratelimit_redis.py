"""Token buckets kept in Redis, so every API process with the same ``redis_url`` shares them.

One Lua script per request does the whole refill-and-take atomically on the server, with
the server's clock (API machines need not agree on the time); a bucket that would be full
again expires, so idle clients cost nothing. A plain redis-py ``register_script`` does it:
the rate-limit libraries offer fixed or sliding windows rather than these token-bucket
semantics (rate plus burst, exact Retry-After), and would add a dependency for 20 lines.

Redis must never stop grading: when it cannot be reached the request passes (fail open),
a warning is logged once, and Redis is left alone for ``cooldown_s`` before it is tried
again, so an outage costs no extra latency per request.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis import asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(saved[1]) or burst
local updated = tonumber(saved[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisConnection:
    """One client per event loop, the script, and the fail-open state; shared by buckets."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "rubricate:ratelimit:",
        timeout_s: float = 0.5,
        cooldown_s: float = 5.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self.down_until = 0.0
        self._client: aioredis.Redis | None = None
        self._script: AsyncScript | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _script_here(self) -> AsyncScript:
        loop = asyncio.get_running_loop()
        if self._script is None or self._loop is not loop:
            self._client = aioredis.Redis.from_url(
                self.url,
                socket_timeout=self.timeout_s,
                socket_connect_timeout=self.timeout_s,
                retry_on_timeout=False,
            )
            self._script = self._client.register_script(TAKE)
            self._loop = loop
        return self._script

    async def take(self, key: str, rate: float, burst: float) -> float:
        """Seconds to wait (0: allowed); 0 as well when Redis cannot be reached."""
        if time.monotonic() < self.down_until:
            return 0.0
        try:
            wait = await self._script_here()(keys=[self.prefix + key], args=[rate, burst])
        except (RedisError, OSError) as exc:
            if not self.down_until:
                log.warning(
                    "rate limits off: Redis at %s unreachable (%s); requests pass until it is back",
                    self.url,
                    exc,
                )
            self.down_until = time.monotonic() + self.cooldown_s
            return 0.0
        if self.down_until:
            log.warning("rate limits on again: Redis at %s is back", self.url)
            self.down_until = 0.0
        return float(wait)

    async def aclose(self) -> None:
        client, self._client, self._script, self._loop = self._client, None, None, None
        if client is not None:
            await client.aclose()


class RedisBuckets:
    """The ``TokenBuckets`` contract (``per_minute``, ``burst``) with the state in Redis."""

    def __init__(self, redis: RedisConnection, name: str, per_minute: int, burst: int) -> None:
        self.redis = redis
        self.name = name
        self.rate = per_minute / 60.0
        self.burst = float(burst)

    async def wait(self, key: str) -> float:
        return await self.redis.take(f"{self.name}:{key}", self.rate, self.burst)
