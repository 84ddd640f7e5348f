"""ReplicatedLLM's failover over fake vLLM replicas (httpx.MockTransport): a failed or hung
replica's keys move and come back, a rejection is no failover; readiness counts the replicas
(and /readyz lists them)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.runtime import Backends
from models.embedder import Embedder
from models.llm_errors import LLMRejected, LLMTimeout
from models.llm_replicas import ReplicatedLLM
from tests.conftest import LiveServer, make_settings
from tests.vllm_fixtures import Fleet, ask


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextlib.asynccontextmanager
async def two_replicas(**kw: Any) -> AsyncIterator[tuple[Fleet, ReplicatedLLM, str]]:
    """Two replicas, their client (``kw`` its options) and the host key "k" is first sent to."""
    fleet = Fleet(2)
    async with fleet.client(**kw) as llm:
        yield fleet, llm, await ask(llm, "k")


@pytest.mark.anyio
async def test_dead_replica_keys_move_and_come_back() -> None:
    fleet = Fleet(3)
    keys = [f"l/q{i}" for i in range(30)]
    async with fleet.client(cooldown_s=60) as llm:
        home = {key: await ask(llm, key) for key in keys}
        victim = home[keys[0]]
        fleet.dead.add(victim)
        moved = {key: await ask(llm, key) for key in keys}
        for key in keys:
            if home[key] == victim:
                assert moved[key] == fleet.primary(key, 1)  # next in its HRW order
            else:
                assert moved[key] == home[key]  # the others do not move
        tried = fleet.attempts[victim]
        for key in keys:
            await ask(llm, key)
        assert fleet.attempts[victim] == tried  # skipped while down, not retried per call
        ready, reason = await llm.ready()
        assert ready and "2/3 replicas ready" in reason
        fleet.dead.clear()
        assert (await llm.ready())[0]
        assert {key: await ask(llm, key) for key in keys} == home


@pytest.mark.anyio
async def test_failed_replica_is_tried_again_after_cooldown() -> None:
    async with two_replicas(cooldown_s=0.05) as (fleet, llm, home):
        fleet.status[home] = 503
        assert await ask(llm, "k") != home
        del fleet.status[home]
        await asyncio.sleep(0.06)
        assert await ask(llm, "k") == home


@pytest.mark.anyio
async def test_health_check_down_keeps_replica_out_until_ready() -> None:
    async with two_replicas(cooldown_s=0.0) as (fleet, llm, home):
        fleet.dead.add(home)
        await llm.ready()
        fleet.attempts.clear()
        assert await ask(llm, "k") != home
        assert fleet.attempts[home] == 0
        report = {r["url"]: r["state"] for r in llm.replica_report()}
        assert report[f"http://{home}"] == "unavailable"
        fleet.dead.clear()
        await llm.ready()
        assert await ask(llm, "k") == home


@pytest.mark.anyio
async def test_ready_if_any_replica_is_ready() -> None:
    fleet = Fleet(3)
    async with fleet.client() as llm:
        fleet.dead.update({"r0.test", "r1.test"})
        ready, reason = await llm.ready()
        assert ready and reason.startswith("1/3 replicas ready")
        assert [r["state"] for r in llm.replica_report()] == ["unavailable", "unavailable", "ready"]
        fleet.dead.add("r2.test")
        ready, reason = await llm.ready()
        assert not ready and reason.startswith("0/3")
        fleet.dead.clear()  # every replica marked down is still tried, last
        assert await ask(llm, "k") in {"r0.test", "r1.test", "r2.test"}


@pytest.mark.anyio
async def test_rejection_is_not_a_failover_and_a_hang_times_out() -> None:
    async with two_replicas(timeout_s=0.3) as (fleet, llm, home):
        fleet.status[home] = 400
        with pytest.raises(LLMRejected):
            await ask(llm, "k")
        assert fleet.attempts[next(h for h in ("r0.test", "r1.test") if h != home)] == 0
        del fleet.status[home]
        fleet.hang.add(home)
        with pytest.raises(LLMTimeout):
            await ask(llm, "k")
        assert await ask(llm, "k") != home  # the hung replica is skipped next time


@pytest.mark.integration
def test_readyz_lists_replicas(embedder: Embedder, tmp_path: Path) -> None:
    fleet = Fleet(2)
    fleet.dead.add("r1.test")
    llm = fleet.client()
    settings = make_settings(tmp_path, llm_health_interval_s=0.1)
    server = LiveServer(settings, Backends(embedder=embedder, llm=llm, llm_model="m"))
    with server, server.client() as http:
        deadline = time.monotonic() + 30
        while (body := http.get("/readyz").json())["llm"]["state"] != "ready":
            assert time.monotonic() < deadline, body
            time.sleep(0.05)
    replicas = body["llm"]["replicas"]
    assert [(r["url"], r["state"]) for r in replicas] == [
        ("http://r0.test", "ready"),
        ("http://r1.test", "unavailable"),
    ]
    assert body["llm"]["reason"].startswith("1/2 replicas ready")
