"""ReplicatedLLM over several fake vLLM replicas (httpx.MockTransport): routing, failover,
shards, readiness.  No server, no model; well under a second each."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.runtime import Backends, _llm_client, _servers
from app.settings import Settings
from graders.scoring.llm_grader import LLMGrader
from models.embedder import Embedder
from models.llm_errors import LLMRejected, LLMTimeout
from models.llm_replicas import ReplicatedLLM
from models.llm_settings import LLMSettings
from models.replica_routing import Replica, ReplicaRouter, hrw_order
from models.vllm_client import VLLMClient
from rubrics import load_lessons
from tests.conftest import LiveServer, make_settings
from tests.llm_stub import reply_for

SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
MESSAGES = [{"role": "user", "content": "answer"}]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Fleet:
    """``n`` fake replicas ``http://r<i>.test``; ``calls`` lists (host, X-Session-ID) served."""

    def __init__(self, n: int) -> None:
        self.urls = [f"http://r{i}.test" for i in range(n)]
        self.dead: set[str] = set()
        self.status: dict[str, int] = {}
        self.hang: set[str] = set()
        self.calls: list[tuple[str, str | None]] = []
        self.attempts: Counter[str] = Counter()

    def host(self, url: str) -> str:
        return httpx.URL(url).host

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
        message = {"role": "assistant", "content": json.dumps({"host": host})}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return httpx.Response(200, json={"choices": [choice]})

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


async def call(llm: ReplicatedLLM, key: str | None) -> str:
    reply = await llm.complete_json(MESSAGES, SCHEMA, name="v", max_tokens=8, route_key=key)
    return str(reply["host"])


def primary(fleet: Fleet, key: str, rank: int = 0) -> str:
    return fleet.host(fleet.urls[hrw_order(key, fleet.urls)[rank]])


@pytest.mark.anyio
async def test_keys_spread_over_replicas_and_stay_put() -> None:
    fleet = Fleet(4)
    async with fleet.client() as llm, fleet.client() as again:
        first = {f"lesson/q{i}": await call(llm, f"lesson/q{i}") for i in range(80)}
        for key, host in first.items():
            assert await call(llm, key) == host  # the same key, the same replica
            assert await call(again, key) == host  # and on another process too
            assert host == primary(fleet, key)
    load = Counter(first.values())
    assert set(load) == {fleet.host(u) for u in fleet.urls}
    assert min(load.values()) >= 10, load


@pytest.mark.anyio
async def test_hot_question_uses_its_shards_in_turn() -> None:
    fleet = Fleet(5)
    async with fleet.client(shards=2) as llm:
        hosts = [await call(llm, "lesson/hot") for _ in range(20)]
    assert Counter(hosts) == {
        primary(fleet, "lesson/hot", 0): 10,
        primary(fleet, "lesson/hot", 1): 10,
    }
    fleet3 = Fleet(5)
    async with fleet3.client(shards=3) as llm:
        assert len({await call(llm, "lesson/hot") for _ in range(9)}) == 3


@pytest.mark.anyio
async def test_dead_replica_keys_move_and_come_back() -> None:
    fleet = Fleet(3)
    keys = [f"l/q{i}" for i in range(30)]
    async with fleet.client(cooldown_s=60) as llm:
        home = {key: await call(llm, key) for key in keys}
        victim = home[keys[0]]
        fleet.dead.add(victim)
        moved = {key: await call(llm, key) for key in keys}
        for key in keys:
            if home[key] == victim:
                assert moved[key] == primary(fleet, key, 1)  # next in its HRW order
            else:
                assert moved[key] == home[key]  # the others do not move
        tried = fleet.attempts[victim]
        for key in keys:
            await call(llm, key)
        assert fleet.attempts[victim] == tried  # skipped while down, not retried per call
        ready, reason = await llm.ready()
        assert ready and "2/3 replicas ready" in reason
        fleet.dead.clear()
        assert (await llm.ready())[0]
        assert {key: await call(llm, key) for key in keys} == home


@pytest.mark.anyio
async def test_failed_replica_is_tried_again_after_cooldown() -> None:
    fleet = Fleet(2)
    async with fleet.client(cooldown_s=0.05) as llm:
        home = await call(llm, "k")
        fleet.status[home] = 503
        assert await call(llm, "k") != home
        del fleet.status[home]
        await asyncio.sleep(0.06)
        assert await call(llm, "k") == home


@pytest.mark.anyio
async def test_health_check_down_keeps_replica_out_until_ready() -> None:
    fleet = Fleet(2)
    async with fleet.client(cooldown_s=0.0) as llm:
        home = await call(llm, "k")
        fleet.dead.add(home)
        await llm.ready()
        fleet.attempts.clear()
        assert await call(llm, "k") != home
        assert fleet.attempts[home] == 0
        report = {r["url"]: r["state"] for r in llm.replica_report()}
        assert report[f"http://{home}"] == "unavailable"
        fleet.dead.clear()
        await llm.ready()
        assert await call(llm, "k") == home


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
        assert await call(llm, "k") in {"r0.test", "r1.test", "r2.test"}


@pytest.mark.anyio
async def test_rejection_is_not_a_failover_and_a_hang_times_out() -> None:
    fleet = Fleet(2)
    async with fleet.client(timeout_s=0.3) as llm:
        home = await call(llm, "k")
        fleet.status[home] = 400
        with pytest.raises(LLMRejected):
            await call(llm, "k")
        assert fleet.attempts[next(h for h in ("r0.test", "r1.test") if h != home)] == 0
        del fleet.status[home]
        fleet.hang.add(home)
        with pytest.raises(LLMTimeout):
            await call(llm, "k")
        assert await call(llm, "k") != home  # the hung replica is skipped next time


@pytest.mark.anyio
async def test_router_url_gets_key_and_shard_in_header() -> None:
    fleet = Fleet(1)
    async with fleet.client(shards=2, route_header="X-Session-ID") as llm:
        for _ in range(4):
            await call(llm, "lesson/q1")
        await call(llm, None)
    headers = [h for _, h in fleet.calls]
    assert headers == ["lesson/q1#0", "lesson/q1#1", "lesson/q1#0", "lesson/q1#1", None]


@pytest.mark.anyio
async def test_grader_sends_question_key() -> None:
    lesson = load_lessons()["instruction-tuning"]
    question = lesson.question("sc-2")
    assert question is not None
    fleet = Fleet(1)
    sent: list[str | None] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("X-Session-ID"))
        reply = reply_for(json.loads(request.content)["response_format"]["json_schema"]["schema"])
        choice = {"message": {"content": json.dumps(reply)}, "finish_reason": "stop"}
        return httpx.Response(200, json={"choices": [choice]})

    settings = LLMSettings(base_url=fleet.urls[0], model="m", route_header="X-Session-ID")
    async with VLLMClient(settings, transport=httpx.MockTransport(handle)) as client:
        grader = LLMGrader(client, "m")
        grader.mark(True, "ok")
        await grader.grade(lesson, question, "an answer")
    assert sent == [f"{lesson.id}/sc-2"]


def test_settings_read_url_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_LLM_URLS", "http://a:8000, http://b:8000/v1")
    assert Settings().llm_urls == ["http://a:8000", "http://b:8000/v1"]
    monkeypatch.setenv("RUBRICATE_LLM_URLS", '["http://a:8000"]')
    assert Settings().llm_urls == ["http://a:8000"]
    monkeypatch.setenv("RUBRICATE_LLM_URLS", "a:8000")
    with pytest.raises(ValueError, match="http://"):
        Settings()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("values", "urls"),
    [
        ({"llm_urls": ["http://a:1", "http://b:2/v1/"]}, ["http://a:1", "http://b:2"]),
        ({"llm_url": "http://a:1"}, None),
        ({"llm_url": "http://router:1", "llm_route_header": "X-Session-ID"}, ["http://router:1"]),
    ],
)
async def test_runtime_builds_the_right_client(
    values: dict[str, Any], urls: list[str] | None
) -> None:
    settings = Settings(local_vllm=False, **values)
    async with contextlib.AsyncExitStack() as stack:
        client, _ = await _llm_client(settings, Backends(), stack)
        assert _servers(client) == len(urls or [None])  # admission slots per server
        if urls is None:
            assert isinstance(client, VLLMClient)
        else:
            assert isinstance(client, ReplicatedLLM)
            assert [r.url for r in client.replicas] == urls


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


def test_a_replica_over_its_fair_share_goes_to_the_back() -> None:
    replicas: list[Replica[object]] = [
        Replica(url=f"http://r{i}", client=object()) for i in range(4)
    ]
    router = ReplicaRouter(replicas, shards=1)
    first = router.order("lesson/q1", 0)[0]
    assert router.order("lesson/q1", 0)[0] is first  # idle: the key keeps its replica
    first.in_flight = 3  # three calls on it, none elsewhere: bound ceil(1.0 * 4 / 4) = 1
    moved = router.order("lesson/q1", 0)
    assert moved[0] is not first and moved[-1] is first
    for replica in replicas:
        replica.in_flight = 1  # everyone equally busy: back to the key's own order
    assert router.order("lesson/q1", 0)[0] is first
