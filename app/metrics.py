"""Prometheus metrics, one registry per app (no import-time globals)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graders.core.result import GradeResult
from graders.service.llm_admission import Admission


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "rubricate_http_request_seconds",
            "HTTP request latency.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30),
        )
        self.grades = Counter(
            "rubricate_grades_total", "Answers graded.", ["lesson", "label"], registry=self.registry
        )
        self.llm = Counter(
            "rubricate_llm_grader_total",
            "LLM grader outcome per graded answer.",
            ["state"],
            registry=self.registry,
        )
        self.needs_review = Counter(
            "rubricate_needs_review_total", "Grades sent for review.", registry=self.registry
        )
        self.llm_ready = Gauge(
            "rubricate_llm_ready", "1 when the LLM server answers.", registry=self.registry
        )
        self.llm_in_flight = Gauge(
            "rubricate_llm_in_flight",
            "LLM calls in flight (admission control).",
            registry=self.registry,
        )
        self.llm_expected = Gauge(
            "rubricate_llm_expected_seconds",
            "How long a new LLM call is expected to take now; -1 before any measurement.",
            registry=self.registry,
        )
        self.llm_skipped = Gauge(
            "rubricate_llm_skipped",
            "LLM calls skipped by admission control since start.",
            registry=self.registry,
        )
        self.shed = Counter(
            "rubricate_shed_total",
            "Grading requests refused at once with 503 and Retry-After (service saturated).",
            registry=self.registry,
        )
        self.grading_in_flight = Gauge(
            "rubricate_grading_in_flight",
            "Grading requests being answered now (the load-shedding queue's depth).",
            registry=self.registry,
        )
        self.grading_limit = Gauge(
            "rubricate_grading_limit",
            "Grading requests admitted at once now: the hard cap or, lower, as many as finish "
            "within the grading deadline at the measured throughput (0: no limit).",
            registry=self.registry,
        )
        self.refinement = Gauge(
            "rubricate_grades_by_refinement",
            "Stored grades by the state of their background LLM pass.",
            ["state"],
            registry=self.registry,
        )
        self.refinement_lag = Gauge(
            "rubricate_refinement_lag_seconds",
            "Age of the oldest grade still waiting for its LLM pass (0: none waiting).",
            registry=self.registry,
        )
        self.refined_lag = Gauge(
            "rubricate_refined_lag_seconds",
            "From first grade to refined revision, for the last grade refined.",
            registry=self.registry,
        )

    def observe_refinement(
        self, counts: dict[str, int], oldest_pending_at: float | None, last_lag: float | None
    ) -> None:
        for state in ("none", "pending", "running", "done", "failed", "superseded"):
            self.refinement.labels(state).set(counts.get(state, 0))
        self.refinement_lag.set(0 if oldest_pending_at is None else time.time() - oldest_pending_at)
        if last_lag is not None:
            self.refined_lag.set(last_lag)

    def observe_llm_queue(self, admission: Admission) -> None:
        expected = admission.expected()
        self.llm_in_flight.set(admission.in_flight)
        self.llm_expected.set(-1 if expected is None else expected)
        self.llm_skipped.set(admission.skipped)

    def record(self, result: GradeResult) -> None:
        self.grades.labels(result.lesson_id, result.label.value).inc()
        self.llm.labels(result.graders["llm"].state).inc()
        if result.needs_review:
            self.needs_review.inc()


class MetricsMiddleware:
    """Times every HTTP request, labelled by route template (not raw path, to bound labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], path, str(status)).observe(
                time.perf_counter() - start
            )
