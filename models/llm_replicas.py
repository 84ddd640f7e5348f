"""``ReplicatedLLM``: one ``LLMBackend`` over several LLM servers (vLLM replicas, or a router).

Each call names a routing key (the grading call sends ``lesson/question``); the
``ReplicaRouter`` turns (key, shard) into an order of replicas by rendezvous hashing, so a
question's shared prompt prefix stays in the prefix cache of at most ``shards`` replicas.
The call goes to the first replica of the order; a connection error, a 408/429/5xx after
that replica's own retries, or a time-out moves it to the next one, and the failed replica
is skipped for a while (it comes back after ``cooldown_s``, or when the health check says
it is ready again).  A 4xx (``LLMRejected``) or an unreadable reply (``LLMBadResponse``)
says nothing about the replica and is raised at once.

With one URL that points at vllm-router (``--policy consistent_hash``), build this with that
single URL and ``LLMSettings.route_header="X-Session-ID"``: the key and shard travel as the
header and the router does the hashing and failover.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence

from models.llm_errors import LLMError, LLMRejected, LLMTimeout, LLMUnavailable
from models.llm_protocol import ClosesOnExit, JSONObject, JsonRequest, LLMBackend
from models.llm_settings import LLMSettings
from models.replica_routing import Replica, ReplicaRouter

__all__ = ["ReplicatedLLM"]

BackendFactory = Callable[[LLMSettings], LLMBackend]


class ReplicatedLLM(ClosesOnExit):
    """``LLMBackend`` that spreads calls over ``urls`` and fails over between them.

    ``settings`` is the template every replica's client is built from (``factory``, e.g.
    ``VLLMClient``) with its own ``base_url``; ``settings.timeout_s`` is the whole call's
    deadline, failovers included, and ``settings.max_retries`` counts rounds over the
    replicas (the replica clients themselves do not retry, so failover is quick).
    """

    def __init__(
        self,
        settings: LLMSettings,
        urls: Sequence[str],
        factory: BackendFactory,
        *,
        shards: int = 2,
        cooldown_s: float = 5.0,
    ) -> None:
        if not urls:
            raise ValueError("ReplicatedLLM needs at least one URL")
        self.settings = settings
        self.model = settings.model
        replicas: list[Replica[LLMBackend]] = []
        for url in dict.fromkeys(urls):  # drop repeats, keep the order
            one = LLMSettings.model_validate(
                {**settings.model_dump(), "base_url": url, "max_retries": 0}
            )
            replicas.append(Replica(one.base_url, factory(one)))
        self.router: ReplicaRouter[LLMBackend] = ReplicaRouter(
            replicas, shards=shards, cooldown_s=cooldown_s
        )
        self.replicas = self.router.replicas
        self.name = f"{replicas[0].client.name} x{len(replicas)}"

    # -- lifecycle

    async def aclose(self) -> None:
        await asyncio.gather(*(r.client.aclose() for r in self.replicas))

    # -- the one call graders make

    async def complete_json(self, request: JsonRequest) -> JSONObject:
        shard = self.router.next_shard(request.route_key)
        timeout_s = self.settings.timeout_s
        current: list[Replica[LLMBackend]] = []
        try:
            async with asyncio.timeout(timeout_s):
                return await self._failover(request, shard, current)
        except TimeoutError as exc:
            if current:
                self.router.failed(current[-1], f"no reply within {timeout_s:g}s")
            raise LLMTimeout(f"LLM call {request.name!r} exceeded {timeout_s:g}s") from exc

    async def _failover(
        self, request: JsonRequest, shard: int, current: list[Replica[LLMBackend]]
    ) -> JSONObject:
        """Try the replicas in the key's order, ``max_retries + 1`` rounds with back-off.

        Each replica is sent the request under the key ``route_key#shard``."""
        route_key = request.route_key
        sent = request.routed(None if route_key is None else f"{route_key}#{shard}")
        error: LLMError | None = None
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff_s(attempt - 1))
            for replica in self.router.order(route_key, shard):
                current.append(replica)
                replica.requests += 1
                replica.in_flight += 1
                try:
                    return await replica.client.complete_json(sent)
                except LLMRejected:
                    raise
                except (LLMUnavailable, LLMTimeout) as exc:
                    self.router.failed(replica, f"{type(exc).__name__}: {exc}")
                    error = exc
                finally:
                    replica.in_flight -= 1
        assert error is not None
        raise error

    def _backoff_s(self, attempt: int) -> float:
        base = min(self.settings.backoff_base_s * (2**attempt), self.settings.backoff_max_s)
        return float(base * (1.0 + random.uniform(0.0, 0.1)))

    # -- probes

    async def ready(self) -> tuple[bool, str]:
        """Probe every replica at once; ready when any replica is."""
        results = await asyncio.gather(
            *(r.client.ready() for r in self.replicas), return_exceptions=True
        )
        for replica, result in zip(self.replicas, results, strict=True):
            if isinstance(result, BaseException):
                ready, reason = False, f"health check failed: {type(result).__name__}"
            else:
                ready, reason = result
            self.router.checked(replica, ready, reason)
        now = time.monotonic()
        up = [r for r in self.replicas if r.available(now)]
        detail = "; ".join(f"{r.url}: {r.reason}" for r in self.replicas)
        return bool(up), f"{len(up)}/{len(self.replicas)} replicas ready ({detail})"

    def replica_report(self) -> list[dict[str, object]]:
        """Each replica's URL, state, last reason and counters (for ``/readyz``)."""
        return self.router.report()
