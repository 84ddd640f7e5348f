"""ReplicatedLLM's routing over fake vLLM replicas (httpx.MockTransport): a key keeps its
replica, a hot one uses its shards in turn, a router hears key and shard in a header, a busy
replica goes to the back; how the runtime builds the client from the settings."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from app.runtime import Backends, _llm_client, _servers
from app.settings import Settings
from graders.scoring.llm_grader import LLMGrader
from models.llm_replicas import ReplicatedLLM
from models.llm_settings import LLMSettings
from models.replica_routing import Replica, ReplicaRouter
from models.vllm_client import VLLMClient
from rubrics import load_lessons
from tests.llm_stub import reply_for
from tests.vllm_fixtures import Fleet, ask


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_keys_spread_over_replicas_and_stay_put() -> None:
    fleet = Fleet(4)
    async with fleet.client() as llm, fleet.client() as again:
        first = {f"lesson/q{i}": await ask(llm, f"lesson/q{i}") for i in range(80)}
        for key, host in first.items():
            assert await ask(llm, key) == host  # the same key, the same replica
            assert await ask(again, key) == host  # and on another process too
            assert host == fleet.primary(key)
    load = Counter(first.values())
    assert set(load) == {fleet.host(u) for u in fleet.urls}
    assert min(load.values()) >= 10, load


@pytest.mark.anyio
async def test_hot_question_uses_its_shards_in_turn() -> None:
    fleet = Fleet(5)
    async with fleet.client(shards=2) as llm:
        hosts = [await ask(llm, "lesson/hot") for _ in range(20)]
    assert Counter(hosts) == {
        fleet.primary("lesson/hot", 0): 10,
        fleet.primary("lesson/hot", 1): 10,
    }
    fleet3 = Fleet(5)
    async with fleet3.client(shards=3) as llm:
        assert len({await ask(llm, "lesson/hot") for _ in range(9)}) == 3


@pytest.mark.anyio
async def test_router_url_gets_key_and_shard_in_header() -> None:
    fleet = Fleet(1)
    async with fleet.client(shards=2, route_header="X-Session-ID") as llm:
        for _ in range(4):
            await ask(llm, "lesson/q1")
        await ask(llm, None)
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
