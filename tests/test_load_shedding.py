"""Load shedding at the hard cap: a quick 503 past it, and an answer waiting for the LLM gives
its place up (the route's slot, the LLM step's report)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.deps import SlotDep
from app.metrics import Metrics
from app.saturation import GradingSlot, Saturation, grading_slot
from graders.scoring.llm_grader import LLMGrade
from graders.service.llm_admission import Admission
from graders.service.llm_step import LLMStep
from rubrics import load_lessons
from rubrics.loader import BUILTIN_DIR


async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(0.3)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"graded"})


def test_one_request_past_the_limit_is_shed_at_once() -> None:
    metrics = Metrics()
    shedder = Saturation(slow_app, limit=2, metrics=metrics)

    async def run() -> tuple[list[httpx.Response], httpx.Response]:
        transport = httpx.ASGITransport(app=shedder)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            graded = await asyncio.gather(*(client.post("/v1/grade") for _ in range(3)))
            other = await asyncio.gather(*(client.get("/v1/lessons") for _ in range(3)))
            return list(graded), other[0]

    graded, other = asyncio.run(run())
    statuses = sorted(r.status_code for r in graded)
    assert statuses == [200, 200, 503]
    busy = next(r for r in graded if r.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.json()["status"] == 503 and "retry" in busy.json()["detail"]
    assert other.status_code == 200  # only grading is limited
    assert shedder.shed == 1 and shedder.in_flight == 0
    # /metrics shows the shedding and the queue's depth (back to 0 once all answered)
    assert metrics.registry.get_sample_value("rubricate_shed_total") == 1
    assert metrics.registry.get_sample_value("rubricate_grading_in_flight") == 0


def test_no_limit_when_zero() -> None:
    shedder = Saturation(slow_app, limit=0)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=shedder)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [
                r.status_code
                for r in await asyncio.gather(*(client.post("/v1/grade") for _ in range(5)))
            ]

    assert asyncio.run(run()) == [200] * 5


def test_a_request_waiting_for_the_llm_no_longer_holds_the_service() -> None:
    """The embedding grade is the service's capacity; the LLM wait has its own bounds."""
    release = asyncio.Event()
    all_waiting = asyncio.Event()
    waits: list[int] = []
    slots: list[GradingSlot] = []

    async def grading_app(scope: Scope, receive: Receive, send: Send) -> None:
        slot = grading_slot(scope)  # the route hands it down as the engine's Progress
        assert slot is not None
        slots.append(slot)
        slot.waiting_for_llm()  # embedding grade done, the LLM asked
        slot.waiting_for_llm()  # a second call changes nothing
        waits.append(shedder.in_flight)
        if len(waits) == 3:
            all_waiting.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"graded"})

    shedder = Saturation(grading_app, limit=1)

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=shedder)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            tasks = [asyncio.ensure_future(client.post("/v1/grade")) for _ in range(3)]
            # all three admitted one after the other (limit 1)
            await asyncio.wait_for(all_waiting.wait(), 10)
            release.set()
            return [r.status_code for r in await asyncio.gather(*tasks)]

    assert asyncio.run(scenario()) == [200] * 3
    assert waits == [0, 0, 0] and shedder.shed == 0 and shedder.in_flight == 0
    slots[0].waiting_for_llm()  # after its request: nothing left to release
    assert shedder.in_flight == 0


def test_without_the_llm_wait_a_request_holds_its_place_to_the_end() -> None:
    shedder = Saturation(slow_app, limit=1)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=shedder)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = await asyncio.gather(*(client.post("/v1/grade") for _ in range(2)))
            return sorted(r.status_code for r in responses)

    assert asyncio.run(run()) == [200, 503]


def test_the_llm_step_reports_the_wait_into_the_call_s_progress() -> None:
    """The engine side: told only when the answer actually waits for the LLM."""

    class Told:
        def __init__(self) -> None:
            self.waits = 0

        def waiting_for_llm(self) -> None:
            self.waits += 1

    class FakeLLM:
        model, ready, state_reason = "fake", True, "ok"

        async def grade(self, *_: object) -> LLMGrade:
            assert told.waits == 1  # reported before the wait
            return LLMGrade({}, {}, "fine")

    lesson = next(iter(load_lessons([BUILTIN_DIR]).values()))
    question = lesson.questions[0]
    step = LLMStep(FakeLLM(), Admission(slots=1))  # type: ignore[arg-type]

    async def ask(answer: str, progress: Told) -> str:
        _, status = await step.verdict(
            lesson, question, answer, empty=not answer, budget_s=None, progress=progress
        )
        return status.state

    told = Told()
    assert asyncio.run(ask("an answer", told)) == "used" and told.waits == 1
    skipped = Told()
    assert asyncio.run(ask("", skipped)) == "skipped" and skipped.waits == 0


def test_a_route_finds_its_request_s_slot() -> None:
    """Through FastAPI: the route's ``SlotDep`` is the slot load shedding counts."""
    api = FastAPI()

    @api.post("/v1/grade")
    async def grade(slot: SlotDep) -> dict[str, int]:
        assert slot is not None
        before = shedder.in_flight
        slot.waiting_for_llm()
        return {"before": before, "after": shedder.in_flight}

    @api.get("/v1/lessons")
    async def lessons(slot: SlotDep) -> dict[str, bool]:
        return {"slot": slot is not None}

    shedder = Saturation(api, limit=1)

    async def run() -> tuple[dict[str, int], dict[str, bool]]:
        transport = httpx.ASGITransport(app=shedder)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            graded = (await client.post("/v1/grade")).json()
            return graded, (await client.get("/v1/lessons")).json()

    assert asyncio.run(run()) == ({"before": 1, "after": 0}, {"slot": False})
    assert shedder.in_flight == 0
