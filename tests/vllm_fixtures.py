"""pytest plugin: a real vLLM for integration tests (``pytest_plugins = ["tests.vllm_fixtures"]``).

``vllm_server`` (session scope) uses the server named by ``RUBRICATE_LLM_URL`` when set
(model from ``RUBRICATE_LLM_MODEL``, else the first served one; key from
``RUBRICATE_LLM_API_KEY``).  Otherwise it starts the vLLM that ``scripts/prepare_vllm.sh``
prepared under ``.vllm/`` on a free port, and stops it when the session ends.  A missing
``.vllm/`` is a failure, not a skip: ``make test`` prepares it.

:class:`Fleet` fakes several vLLM replicas at httpx's transport, for ReplicatedLLM.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from models.llm_protocol import JsonRequest
from models.llm_replicas import ReplicatedLLM
from models.llm_settings import LLMSettings
from models.managed_vllm import ManagedVLLM
from models.replica_routing import hrw_order
from models.vllm_client import VLLMClient
from models.vllm_setup import VLLMServerError
from tests.llm_stub import MESSAGES, SCHEMA, completion

VLLM_READY_TIMEOUT_S = float(os.environ.get("RUBRICATE_VLLM_READY_TIMEOUT", "300"))


@dataclass
class VLLMEndpoint:
    """Where the test vLLM answers; ``server`` is None for an external one."""

    base_url: str
    model: str
    api_key: str | None = None
    server: ManagedVLLM | None = None
    ready_after_s: float | None = None

    def settings(self, **overrides: Any) -> LLMSettings:
        values: dict[str, Any] = {
            "base_url": self.base_url,
            "model": self.model,
            "api_key": self.api_key,
            "timeout_s": 120.0,
        }
        values.update(overrides)
        return LLMSettings(**values)


def _external_model(base_url: str, api_key: str | None) -> str:
    name = os.environ.get("RUBRICATE_LLM_MODEL")
    if name:
        return name
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = LLMSettings(base_url=base_url).base_url + "/v1/models"
    try:
        response = httpx.get(url, headers=headers, timeout=10.0)
        response.raise_for_status()
        return str(response.json()["data"][0]["id"])
    except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
        pytest.fail(f"RUBRICATE_LLM_URL={base_url} does not list a model: {exc!r}")


def start_prepared_vllm(**kwargs: Any) -> ManagedVLLM:
    """Start the vLLM under ``.vllm/`` (or $RUBRICATE_VLLM_HOME) and wait until it is ready."""
    try:
        server = ManagedVLLM.from_home(**kwargs)
    except VLLMServerError as exc:
        pytest.fail(f"{exc}\n(`make test` runs scripts/prepare_vllm.sh first)", pytrace=False)
    server.start()
    try:
        server.wait_ready_blocking(VLLM_READY_TIMEOUT_S)
    except VLLMServerError as exc:
        server.stop()
        pytest.fail(f"vLLM did not start: {exc}", pytrace=False)
    return server


@pytest.fixture(scope="session")
def vllm_server() -> Iterator[VLLMEndpoint]:
    url = os.environ.get("RUBRICATE_LLM_URL")
    if url:
        api_key = os.environ.get("RUBRICATE_LLM_API_KEY") or None
        yield VLLMEndpoint(base_url=url, model=_external_model(url, api_key), api_key=api_key)
        return
    start = time.monotonic()
    server = start_prepared_vllm(port=0)
    try:
        yield VLLMEndpoint(
            base_url=server.base_url,
            model=server.model_name,
            server=server,
            ready_after_s=time.monotonic() - start,
        )
    finally:
        server.stop()


class Fleet:
    """``n`` fake replicas ``http://r<i>.test``; ``calls`` lists (host, X-Session-ID) served,
    each reply ``{"host": <the replica's host>}``."""

    def __init__(self, n: int) -> None:
        self.urls = [f"http://r{i}.test" for i in range(n)]
        self.dead: set[str] = set()
        self.status: dict[str, int] = {}
        self.hang: set[str] = set()
        self.calls: list[tuple[str, str | None]] = []
        self.attempts: Counter[str] = Counter()

    def host(self, url: str) -> str:
        return httpx.URL(url).host

    def primary(self, key: str, rank: int = 0) -> str:
        """The host at ``rank`` in ``key``'s HRW order."""
        return self.host(self.urls[hrw_order(key, self.urls)[rank]])

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.dead:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        self.attempts[host] += 1
        if host in self.hang:
            await asyncio.sleep(3600)
        if host in self.status:
            return httpx.Response(self.status[host], json={"message": "no"})
        self.calls.append((host, request.headers.get("X-Session-ID")))
        return completion(json.dumps({"host": host}))

    def client(self, *, shards: int = 1, urls: list[str] | None = None, **kw: Any) -> ReplicatedLLM:
        settings = LLMSettings(
            base_url="http://unused.test",
            model="m",
            timeout_s=kw.pop("timeout_s", 2.0),
            backoff_base_s=0.01,
            max_retries=1,
            route_header=kw.pop("route_header", None),
        )
        transport = httpx.MockTransport(self.handle)
        return ReplicatedLLM(
            settings,
            urls or self.urls,
            lambda s: VLLMClient(s, transport=transport),
            shards=shards,
            **kw,
        )


async def ask(llm: ReplicatedLLM, key: str | None) -> str:
    """The host of the replica that answered a call routed by ``key``."""
    reply = await llm.complete_json(JsonRequest(MESSAGES, SCHEMA, "v", 8, route_key=key))
    return str(reply["host"])
