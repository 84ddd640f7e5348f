"""Which LLM replica serves a request: rendezvous (HRW) hashing of a routing key, with shards.

Every replica gets a score ``hash(key, replica)``; the key's *order* is the replicas by
score, highest first.  The same key always gets the same order, on every rubricate process
(the hash is BLAKE2b, not Python's salted ``hash``), and adding or removing a replica moves
only the keys whose first places it takes or held.

A hot key is spread over ``shards`` places: shard ``s`` starts at the ``s``-th *available*
replica of the key's order and goes on down it, so each question's prompt prefix stays
cached on at most ``shards`` replicas.  A replica that failed (connection error, 5xx,
time-out) is skipped for ``cooldown_s`` seconds, one the health check reports down until it
reports it up again; its keys move to the next replicas in their order meanwhile, and come
back with it.  Replicas that are all unavailable are still tried, last, rather than none.

Bounded loads (Mirrokni, Thorup and Zadimoghaddam, "Consistent hashing with bounded loads"):
a replica already holding more than ``load_factor`` times its fair share of the calls in
flight goes to the back of the order, so a batch with few questions in flight does not pile
onto the replicas those questions hash to while others idle.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Replica", "ReplicaRouter", "hrw_order", "hrw_score"]

T = TypeVar("T")


def hrw_score(key: str, replica_id: str) -> int:
    """The rendezvous score of ``replica_id`` for ``key``: 64 stable pseudo-random bits."""
    digest = hashlib.blake2b(f"{key}\x00{replica_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def hrw_order(key: str, replica_ids: Sequence[str]) -> list[int]:
    """Indexes of ``replica_ids`` by descending score for ``key`` (ties: by id)."""
    return sorted(
        range(len(replica_ids)),
        key=lambda i: (hrw_score(key, replica_ids[i]), replica_ids[i]),
        reverse=True,
    )


@dataclass(eq=False)
class Replica(Generic[T]):
    """One upstream (``client``) and what rubricate knows of its health."""

    url: str
    client: T
    healthy: bool = True
    """The last health check's verdict (True until a check says otherwise)."""
    reason: str = "not checked yet"
    down_until: float = 0.0
    """Skipped until then after a failed request (monotonic clock)."""
    failures: int = 0
    requests: int = 0
    in_flight: int = 0

    def available(self, now: float) -> bool:
        return self.healthy and now >= self.down_until

    def report(self, now: float) -> dict[str, object]:
        return {
            "url": self.url,
            "state": "ready" if self.available(now) else "unavailable",
            "reason": self.reason,
            "requests": self.requests,
            "failures": self.failures,
        }


class ReplicaRouter(Generic[T]):
    """The replica order for each request; health bookkeeping for the replicas."""

    def __init__(
        self,
        replicas: Sequence[Replica[T]],
        *,
        shards: int = 2,
        cooldown_s: float = 5.0,
        load_factor: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not replicas:
            raise ValueError("at least one replica is needed")
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.replicas = list(replicas)
        self.shards = shards
        self.cooldown_s = cooldown_s
        self.load_factor = load_factor
        self.clock = clock
        self._ids = [r.url for r in self.replicas]
        self._turns: dict[str, int] = {}
        self._unkeyed = itertools.count()

    def next_shard(self, key: str | None) -> int:
        """The shard for the next request of ``key``: round-robin over ``shards``."""
        if key is None:
            return next(self._unkeyed) % max(self.shards, len(self.replicas))
        turn = self._turns.get(key, 0)
        self._turns[key] = turn + 1
        return turn % self.shards

    def order(self, key: str | None, shard: int) -> list[Replica[T]]:
        """The replicas to try for (``key``, ``shard``), best first; all of them, always.

        No key (a call that is not about one question) spreads round-robin: shard ``s``
        starts at the ``s``-th available replica of a fixed order."""
        ranked = [self.replicas[i] for i in hrw_order(key or "", self._ids)]
        now = self.clock()
        up = [r for r in ranked if r.available(now)]
        down = [r for r in ranked if not r.available(now)]
        if not up:
            return down
        start = shard % len(up)
        rotated = up[start:] + up[:start]
        bound = self.load_bound(len(up))
        fair = [r for r in rotated if r.in_flight < bound]
        return fair + [r for r in rotated if r.in_flight >= bound] + down

    def load_bound(self, available: int) -> int:
        """Calls in flight at which a replica counts as over its fair share (this call
        included); at least 1, so an idle tier keeps every key on its own replicas."""
        total = sum(r.in_flight for r in self.replicas) + 1
        return max(1, math.ceil(self.load_factor * total / max(available, 1)))

    def failed(self, replica: Replica[T], reason: str) -> None:
        """A request to ``replica`` failed: skip it for ``cooldown_s``."""
        replica.failures += 1
        replica.down_until = self.clock() + self.cooldown_s
        replica.reason = reason

    def checked(self, replica: Replica[T], ready: bool, reason: str) -> None:
        """The health check's verdict: down stays down until a check says ready."""
        replica.healthy, replica.reason = ready, reason
        if ready:
            replica.down_until = 0.0

    def report(self) -> list[dict[str, object]]:
        now = self.clock()
        return [r.report(now) for r in self.replicas]
