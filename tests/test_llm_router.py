"""Several LLM upstreams, one killed mid-batch: every answer is still graded.

The upstreams are the real vLLM (``vllm_server``) and three stub OpenAI servers
(``tests/llm_stub.py``, subprocesses, so one can be SIGKILLed).  Two ways in front of them:

* the real ``vllm-router`` (PyPI ``vllm-router``, ``--policy consistent_hash``), rubricate
  sending the question key as ``X-Session-ID`` (``llm_url`` + ``llm_route_header``);
* rubricate's own rendezvous hashing and failover (``llm_urls``), no router.

The router is ``$RUBRICATE_VLLM_ROUTER``, else ``vllm-router`` on ``PATH`` or beside this
Python; the router test is skipped when there is none.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.runtime import Backends, _llm_client
from app.settings import Settings
from graders.scoring.llm_grader import LLMGrade, LLMGrader, LLMGradingFailed
from models.llm_errors import LLMBadResponse
from models.llm_replicas import ReplicatedLLM
from models.vllm_setup import free_port
from rubrics import load_lessons
from tests.llm_stub import Stub, stop, wait_http
from tests.vllm_fixtures import VLLMEndpoint

pytestmark = [pytest.mark.integration, pytest.mark.scale]

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [(lesson, q) for lesson in load_lessons().values() for q in lesson.questions][:3]
ANSWERS = [
    "It reuses what pretraining learned.",
    "I am not sure, maybe the loss changes.",
    "The model learns the format, not new facts.",
]


def router_binary() -> str | None:
    found = os.environ.get("RUBRICATE_VLLM_ROUTER") or shutil.which("vllm-router")
    beside = Path(sys.executable).parent / "vllm-router"
    return found or (str(beside) if beside.exists() else None)


@pytest.fixture()
def stubs(vllm_server: VLLMEndpoint) -> Iterator[list[Stub]]:
    started: list[Stub] = []
    try:
        started += [Stub(vllm_server.model, delay_s=0.3) for _ in range(3)]
        yield started
    finally:
        for stub in started:
            stop(stub.proc)


@pytest.fixture()
def router(stubs: list[Stub], vllm_server: VLLMEndpoint) -> Iterator[str]:
    binary = router_binary()
    if binary is None:
        pytest.skip("vllm-router is not installed (pip install vllm-router==0.1.17)")
    port = free_port()
    upstreams = [s.url for s in stubs] + [vllm_server.base_url]
    # Health checks every second and one failure marks a worker down, so the test is quick.
    args = [binary, "--host", "127.0.0.1", "--port", str(port), "--worker-urls", *upstreams]
    args += ["--policy", "consistent_hash", "--prometheus-port", str(free_port())]
    args += ["--health-check-interval-secs", "1", "--health-failure-threshold", "1"]
    args += ["--worker-startup-check-interval", "1", "--worker-startup-timeout-secs", "60"]
    args += ["--log-level", "warning"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


async def grade_batch(
    llm: LLMGrader, stubs: list[Stub]
) -> tuple[list[LLMGrade | BaseException], Stub, list[dict[str, Any]]]:
    """Grade two answers to every question at once (routing keys ``question#0`` and
    ``#1``); as soon as a stub holds a call, SIGKILL the busiest stub (its calls in flight
    die with it), then grade a third answer to each (``#0`` again, so some go where the
    dead stub was).  Returns the grades, the killed stub and every stub's stats just
    before the kill."""

    def start(answers: list[str]) -> list[asyncio.Future[LLMGrade]]:
        return [
            asyncio.ensure_future(llm.grade(lesson, question, answer))
            for answer in answers
            for lesson, question in QUESTIONS
        ]

    first = start(ANSWERS[:2])
    while True:
        stats = [await asyncio.to_thread(s.stats) for s in stubs]
        assert not all(t.done() for t in first), f"first wave over before the kill: {stats}"
        if any(st["calls"] for st in stats):
            break
        await asyncio.sleep(0.02)
    victim = max(zip(stubs, stats, strict=True), key=lambda pair: pair[1]["calls"])[0]
    victim.proc.kill()
    victim.proc.wait()
    results = await asyncio.gather(*first, *start(ANSWERS[2:]), return_exceptions=True)
    return list(results), victim, stats


async def make_grader(settings: Settings, stack: contextlib.AsyncExitStack) -> LLMGrader:
    client, model = await _llm_client(settings, Backends(), stack)
    assert isinstance(client, ReplicatedLLM)

    llm = LLMGrader(client, model)  # no phrasings given: quotes are not checked against them
    llm.mark(*await client.ready())
    assert llm.ready, llm.state_reason
    return llm


def check_all_graded(results: list[LLMGrade | BaseException]) -> None:
    """Every answer reached a live upstream and got its reply.

    The stubs always reply with a valid verdict; the real SmolLM2-135M now and then fills
    its JSON until ``max_tokens`` twice in a row (a model fault the grader reports as
    ``LLMGradingFailed`` caused by ``LLMBadResponse``).  Such a reply still proves the
    routing and failover worked, so it is allowed; a transport failure (the dead stub's
    calls not retried elsewhere: ``LLMUnavailable``/``LLMTimeout``) is not."""
    lost = [r for r in results if not isinstance(r, LLMGrade) and not model_fault(r)]
    assert not lost, lost
    assert len(results) == len(QUESTIONS) * len(ANSWERS)
    assert sum(isinstance(r, LLMGrade) for r in results) > len(results) // 2, results


def model_fault(result: BaseException) -> bool:
    return isinstance(result, LLMGradingFailed) and isinstance(result.__cause__, LLMBadResponse)


def check_keys_had_one_home(before: list[dict[str, Any]]) -> None:
    """Before the kill each routing key (``lesson/question#shard``) went to one upstream."""
    keys = [set(stats["keys"]) for stats in before]
    every = set().union(*keys)
    assert sum(map(len, keys)) == len(every), before
    assert all("/" in key and "#" in key for key in every), before


def settings_for(vllm_server: VLLMEndpoint, **values: Any) -> Settings:
    return Settings(
        llm_model=vllm_server.model,
        llm_api_key=vllm_server.api_key,
        llm_timeout_s=150,
        llm_retries=3,
        local_vllm=False,
        **values,
    )


@pytest.mark.anyio
async def test_vllm_router_consistent_hash_survives_a_killed_upstream(
    router: str, stubs: list[Stub], vllm_server: VLLMEndpoint
) -> None:
    settings = settings_for(vllm_server, llm_url=router, llm_route_header="X-Session-ID")
    async with contextlib.AsyncExitStack() as stack:
        llm = await make_grader(settings, stack)
        results, _, before = await grade_batch(llm, stubs)
    check_all_graded(results)
    check_keys_had_one_home(before)


@pytest.mark.anyio
async def test_own_rendezvous_failover_survives_a_killed_upstream(
    stubs: list[Stub], vllm_server: VLLMEndpoint
) -> None:
    urls = [s.url for s in stubs] + [vllm_server.base_url]
    settings = settings_for(vllm_server, llm_urls=urls, llm_route_header="X-Session-ID")
    async with contextlib.AsyncExitStack() as stack:
        llm = await make_grader(settings, stack)
        client = llm.client
        assert isinstance(client, ReplicatedLLM)
        results, victim, before = await grade_batch(llm, stubs)
        ready, reason = await client.ready()
        report = {r["url"]: r for r in client.replica_report()}
    check_all_graded(results)
    check_keys_had_one_home(before)
    assert ready and "3/4 replicas ready" in reason
    assert report[victim.url]["state"] == "unavailable"
    assert sum(int(str(r["requests"])) for r in report.values()) >= len(results)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
