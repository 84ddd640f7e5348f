"""Admission control for the LLM: ask it only what it can answer within the deadline.

The embedding grade is ready in tens of milliseconds; the LLM refines it when it can. A
request with a deadline asks the LLM only when the LLM's queue lets it answer in time:
``expected = service time x (1 + requests ahead of it / slots)``, where the service time
is a moving average of recent successful calls. Otherwise the result says
``llm: skipped`` with the reason, at once, instead of waiting and timing out.

- A call cut off by its deadline still teaches: its time is at least the deadline.
- With no measurement yet, or none for ``probe_every_s``, one request at a time is let
  through as a probe, so a server that became fast again is noticed.
- ``require_llm`` callers and offline evaluation pass no deadline: they wait as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    admitted: bool
    reason: str
    expected_s: float | None


class Admission:
    """One per LLM backend: in-flight calls and recent service times."""

    def __init__(
        self,
        slots: int,
        *,
        smoothing: float = 0.3,
        probe_every_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = max(1, slots)
        self.smoothing = smoothing
        self.probe_every_s = probe_every_s
        self.clock = clock
        self.in_flight = 0
        self.service_s: float | None = None
        self.skipped = 0
        self._measured_at = -float("inf")
        self._probing = False

    def expected(self) -> float | None:
        """Seconds a call started now is expected to take, or None before any measurement."""
        if self.service_s is None:
            return None
        return self.service_s * (1 + self.in_flight / self.slots)

    def decide(self, budget_s: float) -> Decision:
        expected = self.expected()
        stale = self.clock() - self._measured_at > self.probe_every_s
        if (expected is None or stale) and not self._probing and self.in_flight < self.slots:
            return Decision(True, "probe", expected)
        if expected is not None and expected <= budget_s:
            return Decision(True, "in time", expected)
        self.skipped += 1
        if expected is None:
            reason = "LLM busy with a first call; its speed is not known yet"
        else:
            reason = (
                f"LLM would answer in about {expected:.1f} s ({self.in_flight} in flight), "
                f"past the {budget_s:g} s budget"
            )
        return Decision(False, reason, expected)

    def _observe(self, seconds: float) -> None:
        if self.service_s is None:
            self.service_s = seconds
        else:
            self.service_s += self.smoothing * (seconds - self.service_s)
        self._measured_at = self.clock()

    @contextmanager
    def call(self, decision: Decision) -> Iterator[Outcome]:
        """Track one admitted call. The caller marks it ``ok`` or ``cut`` (by its deadline);
        a call that failed otherwise teaches nothing about speed."""
        probe = decision.reason == "probe"
        if probe:
            self._probing = True
        self.in_flight += 1
        outcome = Outcome(self.clock())
        try:
            yield outcome
        finally:
            self.in_flight -= 1
            if probe:
                self._probing = False
            elapsed = self.clock() - outcome.started
            if outcome.state == "ok":
                self._observe(elapsed)
            elif outcome.state == "cut":
                # Cut at its deadline, it would have taken longer: count it as twice as long.
                self._observe(max(elapsed * 2, self.service_s or 0.0))


@dataclass
class Outcome:
    started: float
    state: str = "failed"

    def ok(self) -> None:
        self.state = "ok"

    def cut(self) -> None:
        self.state = "cut"
