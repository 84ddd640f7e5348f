"""A count of things in one state now, and the most there ever were (requests in flight)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Peak:
    """How many are in one state now, and the most there ever were."""

    now: int = 0
    most: int = 0

    @contextmanager
    def holding(self) -> Iterator[None]:
        """One more in this state while the block runs."""
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            yield
        finally:
            self.now -= 1
