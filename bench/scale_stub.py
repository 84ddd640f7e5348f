"""Stub LLM replicas with a latency model, for ``make bench-scale`` (bench/scale.py).

    python -m bench.scale_stub --ports 8101 8102 [--fixed-ms 20] [--prefill-ms 0.05]
        [--decode-ms 3] [--output-tokens 300] [--slots 4] [--prefix-lru 16]

One process serves one independent replica per port (its own slots, prefix cache and
counters), so four replicas cost one small Python process and no model competes with
rubricate for the CPU. Each speaks the OpenAI chat-completions API as ``tests/llm_stub.py``
does (the same reply builder: every key point "missing"), which rubricate's LLM grader
accepts. ``GET /stats`` gives a replica's counters, ``POST /reset`` clears them and its
prefix cache.

The latency of one request, once it holds a slot::

    fixed_ms + prefill_ms x uncached prompt tokens + decode_ms x output tokens

* tokens are characters / 4 (rounded up): close enough for English text and JSON;
* output tokens = min(the request's ``max_tokens``, ``--output-tokens``); the reply
  actually sent is short, its length is not what is timed;
* ``--slots`` S requests run at once (vLLM's running batch; its per-token time held fixed up
  to S); more wait their turn, first come first served;
* the prefix cache: the system message (rubricate's instructions and one question's rubric,
  the same for every answer to that question) is the shared prefix. Each replica keeps the
  last ``--prefix-lru`` distinct ones; a request whose prefix is cached when it gets a slot
  skips those tokens' prefill. A prefix is cached from the moment its request starts (vLLM
  can reuse blocks only once computed; at most one prefill's difference).

The defaults are a scaled-down 7B on one GPU: prefill 0.05 ms a token (about 20k tokens/s,
a 7B on an A100-class GPU), decode 3 ms a token (about a quarter of a 7B's ~12 ms a token
per sequence at a small batch, so that one answer takes about 1 s instead of about 4 s and
the benchmark fits in minutes), 300 output tokens (a verdict for a few key points, reasons
and feedback), 4 sequences at once, 16 prompt prefixes cached (several questions' rubrics
next to the running sequences' KV cache). Throughput relative to the ideal does not depend
on the time scale as long as the LLM tier, not the CPU, is the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import socket
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from models.peak import Peak
from tests.llm_stub import reply_for, served_model_routes

CHARS_PER_TOKEN = 4
MODEL = "stub-7b"


def tokens(text: str) -> int:
    """Tokens of ``text``: one per 4 characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Profile:
    """The latency model's parameters."""

    fixed_ms: float = 20.0
    prefill_ms: float = 0.05  # a prompt token not in the prefix cache
    decode_ms: float = 3.0  # an output token
    output_tokens: int = 300
    slots: int = 4
    prefix_lru: int = 16

    def latency_s(self, uncached_tokens: int, output_tokens: int) -> float:
        ms = self.fixed_ms + self.prefill_ms * uncached_tokens + self.decode_ms * output_tokens
        return ms / 1000

    @classmethod
    def zero(cls, slots: int = 4, prefix_lru: int = 16) -> Profile:
        """No latency at all: what the engine does when the LLM is free."""
        return cls(0.0, 0.0, 0.0, 0, slots, prefix_lru)


@dataclass(frozen=True)
class Served:
    """What one request cost."""

    prompt_tokens: int
    cached_tokens: int
    output_tokens: int
    latency_s: float
    waited_s: float


@dataclass
class Stats:
    """A replica's counters: what each request cost, how many ran and waited at once."""

    served: list[Served] = field(default_factory=list)
    running: Peak = field(default_factory=Peak)
    waiting: Peak = field(default_factory=Peak)
    prefixes: set[str] = field(default_factory=set)  # distinct prefixes seen

    def report(self) -> dict[str, Any]:
        """The totals ``GET /stats`` gives (seconds are modelled, summed over requests)."""
        return {
            "requests": len(self.served),
            "prompt_tokens": sum(s.prompt_tokens for s in self.served),
            "cached_tokens": sum(s.cached_tokens for s in self.served),
            "output_tokens": sum(s.output_tokens for s in self.served),
            "prefix_hits": sum(s.cached_tokens > 0 for s in self.served),
            "service_s": sum(s.latency_s for s in self.served),
            "queue_s": sum(s.waited_s for s in self.served),
            "running": self.running.now,
            "max_running": self.running.most,
            "waiting": self.waiting.now,
            "max_waiting": self.waiting.most,
            "prefixes": len(self.prefixes),
        }


class Replica:
    """One stub LLM server's state: slots, prefix LRU, counters."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.slots = asyncio.Semaphore(profile.slots)
        self.cache: OrderedDict[str, None] = OrderedDict()
        self.stats = Stats()

    def reset(self) -> None:
        self.cache.clear()
        self.stats = Stats()

    def _lookup(self, prefix: str) -> bool:
        """Whether ``prefix`` is cached; either way it is the most recent one now."""
        key = hashlib.blake2b(prefix.encode(), digest_size=16).hexdigest()
        self.stats.prefixes.add(key)
        hit = key in self.cache
        self.cache[key] = None
        self.cache.move_to_end(key)
        while len(self.cache) > self.profile.prefix_lru:
            self.cache.popitem(last=False)
        return hit

    async def serve(self, prefix: str, rest: str, max_tokens: int | None) -> Served:
        """Wait for a slot, then as long as the model says."""
        profile, stats = self.profile, self.stats
        prefix_tokens, rest_tokens = tokens(prefix), tokens(rest)
        output = (
            profile.output_tokens if max_tokens is None else min(max_tokens, profile.output_tokens)
        )
        arrived = time.monotonic()
        with stats.waiting.holding():
            await self.slots.acquire()
        try:
            with stats.running.holding():
                waited = time.monotonic() - arrived
                hit = bool(prefix) and self._lookup(prefix)
                cached = prefix_tokens if hit else 0
                latency = profile.latency_s(prefix_tokens + rest_tokens - cached, output)
                served = Served(prefix_tokens + rest_tokens, cached, output, latency, waited)
                stats.served.append(served)
                if latency > 0:
                    await asyncio.sleep(latency)
                return served
        finally:
            self.slots.release()


def split_prompt(messages: list[dict[str, Any]]) -> tuple[str, str]:
    """(the shared prefix: the system messages at the start, everything after it)."""
    prefix, rest, leading = [], [], True
    for message in messages:
        content = str(message.get("content", ""))
        if leading and message.get("role") == "system":
            prefix.append(content)
        else:
            leading = False
            rest.append(content)
    return "\n".join(prefix), "\n".join(rest)


def make_app(replicas: dict[int, Replica], model: str = MODEL) -> Starlette:
    """One app for every replica; the port a request came in on picks the replica."""

    def replica(request: Request) -> Replica:
        server = request.scope.get("server") or ("", 0)
        return replicas.get(int(server[1] or 0)) or next(iter(replicas.values()))

    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        prefix, rest = split_prompt(body.get("messages", []))
        max_tokens = body.get("max_tokens")
        served = await replica(request).serve(prefix, rest, max_tokens)
        schema = body.get("response_format", {}).get("json_schema", {}).get("schema", {})
        message = {"role": "assistant", "content": json.dumps(reply_for(schema))}
        usage = {
            "prompt_tokens": served.prompt_tokens,
            "completion_tokens": served.output_tokens,
            "total_tokens": served.prompt_tokens + served.output_tokens,
            "prompt_tokens_details": {"cached_tokens": served.cached_tokens},
        }
        return JSONResponse(
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
            }
        )

    async def stats(request: Request) -> JSONResponse:
        one = replica(request)
        return JSONResponse({**one.stats.report(), "profile": asdict(one.profile)})

    async def reset(request: Request) -> JSONResponse:
        replica(request).reset()
        return JSONResponse({})

    return Starlette(
        routes=[
            *served_model_routes(model, max_model_len=8192),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/stats", stats),
            Route("/reset", reset, methods=["POST"]),
        ]
    )


def profile_options(parser: argparse.ArgumentParser) -> None:
    """The latency model's options (also bench/scale.py's)."""
    default = Profile()
    add = parser.add_argument
    add("--fixed-ms", type=float, default=default.fixed_ms, help="per request")
    add("--prefill-ms", type=float, default=default.prefill_ms, help="per uncached prompt token")
    add("--decode-ms", type=float, default=default.decode_ms, help="per output token")
    add("--output-tokens", type=int, default=default.output_tokens, help="per reply, at most")
    add("--slots", type=int, default=default.slots, help="requests a replica runs at once")
    add("--prefix-lru", type=int, default=default.prefix_lru, help="prefixes a replica caches")


def profile_of(args: argparse.Namespace) -> Profile:
    return Profile(
        args.fixed_ms,
        args.prefill_ms,
        args.decode_ms,
        args.output_tokens,
        args.slots,
        args.prefix_lru,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ports", type=int, nargs="+", required=True, help="one replica each")
    parser.add_argument("--model", default=MODEL)
    profile_options(parser)
    args = parser.parse_args()
    profile = profile_of(args)
    sockets = []
    for port in args.ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sockets.append(sock)
    app = make_app({port: Replica(profile) for port in args.ports}, args.model)
    config = uvicorn.Config(app, log_level="warning", access_log=False, backlog=1024)
    uvicorn.Server(config).run(sockets=sockets)


if __name__ == "__main__":
    main()
