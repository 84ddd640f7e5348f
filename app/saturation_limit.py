"""How many grading requests can run at once and still finish within the deadline.

Little's law: with ``n`` requests in flight and the service completing ``X`` of them a
second, a new one finishes in about ``(n + 1) / X``. It is admitted only while that is
within ``deadline_s``, that is while ``n < max(floor, int(deadline_s * X))`` (and under
the hard cap). ``X`` is measured while busy: completions over the seconds during which at
least one grading request was in flight, in windows of at least ``window_s`` busy seconds
that run from one completion to a later one, smoothed by an EWMA. Idle time does not
dilute it, and refused requests never enter: they are neither in flight nor completions.
The first window (the pipeline filling up, few completions yet) is not used; until the
next one closes only the hard cap applies. The floor keeps a slow spell from shedding all.
After ``forget_after_s`` idle seconds the measurement is dropped and made afresh: it
described a past load (on a CPU machine, for instance, the LLM decoding on the same cores),
not the next one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class GradingLimit:
    def __init__(
        self,
        hard_limit: int,
        deadline_s: float = 0.0,
        *,
        floor: int = 4,
        window_s: float = 0.5,
        smoothing: float = 0.3,
        forget_after_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hard_limit = hard_limit  # 0: no hard cap
        self.deadline_s = deadline_s  # 0: no adaptive limit
        self.floor = floor
        self.window_s = window_s
        self.smoothing = smoothing
        self.forget_after_s = forget_after_s
        self.clock = clock
        self.in_flight = 0
        self.throughput: float | None = None  # completions per busy second (EWMA)
        self._busy_since = 0.0
        self._busy_s = 0.0  # busy seconds in the open window, up to _busy_since
        self._completed = 0  # completions in the open window
        self._warm = False  # a first window has been measured (and skipped)
        self._idle_since = -math.inf  # when the last request in flight finished

    def limit(self) -> int | None:
        """Requests allowed in flight now; None for no limit at all."""
        caps = [self.hard_limit] if self.hard_limit > 0 else []
        if self.deadline_s > 0 and self.throughput is not None:
            caps.append(max(self.floor, int(self.deadline_s * self.throughput)))
        return min(caps) if caps else None

    def expected_s(self) -> float | None:
        """Seconds a request admitted now is expected to take, or None before a measurement."""
        return None if self.throughput is None else (self.in_flight + 1) / self.throughput

    def admits(self) -> bool:
        limit = self.limit()
        return limit is None or self.in_flight < limit

    def retry_after_s(self, most: int = 30) -> int:
        """Whole seconds until enough requests should have finished for one more to fit."""
        limit = self.limit()
        if self.throughput is None or limit is None:
            return 1
        excess = self.in_flight + 1 - limit
        return max(1, min(most, math.ceil(excess / self.throughput)))

    def started(self) -> None:
        if self.in_flight == 0:
            self._busy_since = self.clock()
            if self._busy_since - self._idle_since >= self.forget_after_s:
                self._forget()
        self.in_flight += 1

    def finished(self) -> None:
        now = self.clock()
        if self._busy_s >= self.window_s and now > self._busy_since:
            self._close_window()  # it ends at the last completion: this one opens the next
        self._busy_s += now - self._busy_since
        self._busy_since = now
        self.in_flight -= 1
        self._completed += 1
        if self.in_flight == 0:
            self._idle_since = now

    def _forget(self) -> None:
        self.throughput, self._warm = None, False
        self._busy_s, self._completed = 0.0, 0

    def _close_window(self) -> None:
        sample = self._completed / self._busy_s
        if not self._warm:  # the first window holds the pipeline's filling: skip it
            self._warm = True
        elif self.throughput is None:
            self.throughput = sample
        else:
            self.throughput += self.smoothing * (sample - self.throughput)
        self._busy_s, self._completed = 0.0, 0
