"""The adaptive grading limit: as many answers as the measured throughput finishes within the
deadline (never past the hard cap), and the quick 503 past it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from app.metrics import Metrics
from app.saturation import Saturation
from app.saturation_limit import GradingLimit


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run_requests(limit: GradingLimit, clock: FakeClock, count: int, each_s: float) -> None:
    """``count`` requests one after another, each taking ``each_s`` seconds."""
    for _ in range(count):
        limit.started()
        clock.now += each_s
        limit.finished()


def warm_up(limit: GradingLimit, clock: FakeClock, each_s: float) -> None:
    """Two windows of sequential requests (the first is skipped) and the one closing them."""
    run_requests(limit, clock, 2 * round(limit.window_s / each_s) + 1, each_s)


def test_before_any_measurement_only_the_hard_cap_applies() -> None:
    clock = FakeClock()
    limit = GradingLimit(8, deadline_s=1.0, clock=clock)
    run_requests(limit, clock, 2, 4.0)  # only the first window closed: it is not used
    assert limit.throughput is None
    for _ in range(8):
        assert limit.admits()
        limit.started()
    assert limit.limit() == 8 and not limit.admits()
    assert limit.expected_s() is None and limit.retry_after_s() == 1


def test_limit_is_what_the_measured_throughput_finishes_within_the_deadline() -> None:
    clock = FakeClock()
    limit = GradingLimit(128, deadline_s=0.5, clock=clock)
    warm_up(limit, clock, 1 / 16)
    assert limit.throughput == pytest.approx(16.0)
    assert limit.limit() == 8  # 0.5 s x 16/s
    for _ in range(7):
        limit.started()
    assert limit.admits()  # the 8th finishes in 8 / 16 = 0.5 s
    limit.started()
    assert not limit.admits()  # the 9th would take 0.5625 s
    assert limit.expected_s() == pytest.approx(0.5625)
    # the hard cap still binds below the adaptive limit
    capped = GradingLimit(3, deadline_s=0.5, clock=clock)
    warm_up(capped, clock, 1 / 16)
    assert capped.limit() == 3


def test_idle_time_does_not_count_as_slowness() -> None:
    clock = FakeClock()
    limit = GradingLimit(128, deadline_s=1.0, window_s=0.25, clock=clock)
    for _ in range(5):  # 0.125 s answers, 3 s apart: 8 answers per busy second
        run_requests(limit, clock, 1, 0.125)
        clock.now += 3
    assert limit.throughput == pytest.approx(8.0)
    assert limit.limit() == 8


def test_a_measurement_is_forgotten_after_an_idle_spell() -> None:
    """A slow spell (here: 2 answers/s) must not shed the next burst after a pause."""
    clock = FakeClock()
    limit = GradingLimit(128, deadline_s=0.5, clock=clock)
    warm_up(limit, clock, 0.5)
    assert limit.throughput == pytest.approx(2.0) and limit.limit() == 4
    clock.now += 4.9  # a short pause keeps it
    limit.started()
    assert limit.throughput == pytest.approx(2.0)
    clock.now += 0.5
    limit.finished()
    clock.now += 5.0  # idle for 5 s: measured afresh, the hard cap until then
    limit.started()
    assert limit.throughput is None and limit.limit() == 128 and limit.retry_after_s() == 1
    clock.now += 0.5
    limit.finished()
    warm_up(limit, clock, 1 / 16)
    assert limit.throughput == pytest.approx(16.0)


def test_overlapping_requests_measure_throughput_not_latency() -> None:
    clock = FakeClock()
    limit = GradingLimit(128, deadline_s=1.0, clock=clock)
    for _ in range(6):  # 4 at a time, each batch 0.25 s: 16 answers/s though each takes 0.25 s
        for _ in range(4):
            limit.started()
        clock.now += 0.25
        for _ in range(4):
            limit.finished()
    assert limit.throughput == pytest.approx(16.0)
    assert limit.limit() == 16


def test_the_first_window_does_not_count_the_pipeline_filling_up() -> None:
    clock = FakeClock()
    limit = GradingLimit(128, deadline_s=1.0, clock=clock)
    for _ in range(16):  # a burst of 16 arrives at once: nothing finishes for 0.75 s
        limit.started()
    clock.now += 0.75
    for _ in range(17):  # then one every 1/32 s, another arriving each time: 32 answers/s
        limit.finished()
        limit.started()
        clock.now += 1 / 32
    limit.finished()
    # not dragged down by the first window's 1 answer in 0.75 s (1.3/s)
    assert limit.throughput == pytest.approx(32.0)


def test_a_slow_service_still_admits_the_floor() -> None:
    clock = FakeClock()
    limit = GradingLimit(128, deadline_s=1.0, clock=clock)
    run_requests(limit, clock, 3, 4.0)  # 0.25 answers/s: nothing would fit in 1 s
    assert limit.throughput == pytest.approx(0.25)
    assert limit.limit() == 4
    for _ in range(4):
        assert limit.admits()
        limit.started()
    assert not limit.admits()
    # one more fits once (4 + 1 - 4) / 0.25 = 4 s of work is done
    assert limit.retry_after_s() == 4


def test_the_estimate_follows_a_change_smoothly() -> None:
    clock = FakeClock()
    limit = GradingLimit(128, deadline_s=1.0, smoothing=0.5, clock=clock)
    warm_up(limit, clock, 1 / 16)  # 16/s; the open window holds one answer
    run_requests(limit, clock, 7, 1 / 16)  # fills it
    run_requests(limit, clock, 5, 1 / 8)  # closes it (16/s), then a window of 8/s and closes it
    assert limit.throughput == pytest.approx(12.0)
    run_requests(limit, clock, 3, 1 / 8)  # window not closed yet: unchanged
    assert limit.throughput == pytest.approx(12.0)


def test_refusals_do_not_feed_the_estimate() -> None:
    clock = FakeClock()
    limit = GradingLimit(128, deadline_s=0.5, clock=clock)
    warm_up(limit, clock, 1 / 16)  # 16/s, so 8 fit
    for _ in range(8):
        limit.started()
    for _ in range(64):  # refused: asked, never started
        assert not limit.admits()
        clock.now += 1 / 128
    for _ in range(8):
        limit.finished()
    run_requests(limit, clock, 1, 1 / 16)  # closes the window: 9 answers in 0.5625 s
    assert limit.throughput == pytest.approx(16.0)  # not 73 completions' worth


def test_deadline_zero_leaves_only_the_hard_cap() -> None:
    clock = FakeClock()
    limit = GradingLimit(128, deadline_s=0.0, clock=clock)
    run_requests(limit, clock, 3, 4.0)
    assert limit.throughput == pytest.approx(0.25)
    assert limit.limit() == 128
    assert GradingLimit(0, deadline_s=0.0).limit() is None


def test_past_the_deadline_a_quick_503_while_admitted_answers_finish() -> None:
    clock = FakeClock()
    metrics = Metrics()
    release = asyncio.Event()

    async def blocked_app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"graded"})

    shedder = Saturation(blocked_app, limit=128, metrics=metrics, deadline_s=0.5, clock=clock)
    warm_up(shedder.grading, clock, 1 / 16)  # measured: 16 answers/s, so 8 fit in 0.5 s

    async def scenario() -> tuple[list[httpx.Response], list[httpx.Response]]:
        transport = httpx.ASGITransport(app=shedder)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            tasks = [asyncio.ensure_future(client.post("/v1/grade")) for _ in range(12)]
            pending = set(tasks)
            quick: list[httpx.Response] = []
            while len(quick) < 4:  # the refused ones answer while the others still grade
                done, pending = await asyncio.wait(
                    pending, timeout=10, return_when=asyncio.FIRST_COMPLETED
                )
                assert done, "no quick refusal"
                quick += [task.result() for task in done]
            assert shedder.in_flight == 8 and not release.is_set()
            assert metrics.registry.get_sample_value("rubricate_grading_in_flight") == 8
            release.set()
            return quick, list(await asyncio.gather(*pending))

    quick, graded = asyncio.run(scenario())
    assert [r.status_code for r in quick] == [503] * 4
    assert [r.status_code for r in graded] == [200] * 8
    busy = quick[0]
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"] == "application/problem+json"
    detail = busy.json()["detail"]
    assert "0.5 s deadline" in detail and "8 being graded" in detail and "retry" in detail
    assert shedder.shed == 4 and shedder.in_flight == 0
    assert metrics.registry.get_sample_value("rubricate_shed_total") == 4
    assert metrics.registry.get_sample_value("rubricate_grading_limit") == 8
