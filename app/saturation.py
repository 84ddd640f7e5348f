"""Load shedding: when the service already grades as many answers as it should, it says so.

A bounded number of grading requests (POST /v1/grade, LTI grading) run at once; one more
gets an immediate 503 problem with ``Retry-After`` instead of joining a queue without bound
that no client would wait out. Pure ASGI, in front of the routes.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from app.metrics import Metrics

GRADING = ("/v1/grade", "/lti/grade")


class Saturation:
    def __init__(
        self, app: ASGIApp, limit: int, metrics: Metrics | None = None, retry_after_s: int = 1
    ) -> None:
        self.app = app
        self.limit = limit
        self.metrics = metrics
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in GRADING or self.limit <= 0:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.shed += 1
            if self.metrics is not None:
                self.metrics.shed.inc()
            await self._refuse(scope, send)
            return
        self._track(+1)
        try:
            await self.app(scope, receive, send)
        finally:
            self._track(-1)

    def _track(self, change: int) -> None:
        self.in_flight += change
        if self.metrics is not None:
            self.metrics.grading_in_flight.set(self.in_flight)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Busy",
                "status": 503,
                "detail": f"{self.limit} answers are being graded; retry in "
                f"{self.retry_after_s} s.",
                "instance": scope["path"],
            }
        ).encode()
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(self.retry_after_s).encode()),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
