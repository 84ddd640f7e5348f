"""Load shedding: past the limit of grading requests in flight, a quick 503 with Retry-After."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import Receive, Scope, Send

from app.metrics import Metrics
from app.saturation import Saturation


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
