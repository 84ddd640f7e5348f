"""Load shedding: a grading request the service cannot answer in time is told so at once.

Grading requests (POST /v1/grade, LTI grading) are admitted while fewer than the limit run:
the hard cap ``max_grading_in_flight``, and, with ``deadline_s``, as many as the measured
throughput finishes within the deadline (``app/saturation_limit.py``). One more gets an
immediate 503 problem with ``Retry-After`` instead of joining a queue it would wait past
its deadline in. A request counts until its embedding grade is done: its wait for the
LLM, bounded by admission control and the LLM budget, does not hold the service's
capacity. Each admitted request gets a ``GradingSlot`` in its ASGI scope
(``grading_slot(scope)``); the route hands it to the grade book as the engine's
``Progress`` (graders/service/llm_step.py), which reports into it when the LLM wait
starts, and the slot frees its place. Pure ASGI, in front of the routes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.metrics import Metrics
from app.saturation_limit import GradingLimit

GRADING = ("/v1/grade", "/lti/grade")
SLOT = "grading_slot"  # the key of a request's slot in its scope's state


class GradingSlot:
    """One admitted grading request's place in the limit; given back once, whichever first:
    when its answer starts waiting for the LLM (``waiting_for_llm``, the engine's
    ``Progress``) or when the response is sent."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def waiting_for_llm(self) -> None:
        self.release()

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def grading_slot(scope: Scope) -> GradingSlot | None:
    """The request's slot; None on a path that is not limited (or without load shedding)."""
    slot = scope.get("state", {}).get(SLOT)
    return slot if isinstance(slot, GradingSlot) else None


class Saturation:
    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        metrics: Metrics | None = None,
        deadline_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.grading = GradingLimit(limit, deadline_s, clock=clock)
        self.shed = 0
        self._gauges()

    @property
    def in_flight(self) -> int:
        return self.grading.in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in GRADING:
            await self.app(scope, receive, send)
            return
        if not self.grading.admits():
            self.shed += 1
            if self.metrics is not None:
                self.metrics.shed.inc()
            await self._refuse(scope, send)
            return
        self.grading.started()
        self._gauges()
        slot = GradingSlot(self._finished)
        scope.setdefault("state", {})[SLOT] = slot
        try:
            await self.app(scope, receive, send)
        finally:
            slot.release()

    def _finished(self) -> None:
        self.grading.finished()
        self._gauges()

    def _gauges(self) -> None:
        if self.metrics is not None:
            self.metrics.grading_in_flight.set(self.grading.in_flight)
            self.metrics.grading_limit.set(self.grading.limit() or 0)

    def _reason(self, retry_after_s: int) -> str:
        grading, expected = self.grading, self.grading.expected_s()
        if grading.in_flight >= grading.hard_limit > 0 or expected is None:
            return f"{grading.in_flight} answers are being graded; retry in {retry_after_s} s."
        return (
            f"a new answer would take about {expected:.1f} s ({grading.in_flight} being graded, "
            f"{grading.throughput or 0:.1f} answers/s), past the {grading.deadline_s:g} s "
            f"deadline; retry in {retry_after_s} s."
        )

    async def _refuse(self, scope: Scope, send: Send) -> None:
        retry_after_s = self.grading.retry_after_s()
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Busy",
                "status": 503,
                "detail": self._reason(retry_after_s),
                "instance": scope["path"],
            }
        ).encode()
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after_s).encode()),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
