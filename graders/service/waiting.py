"""Where a grading request stops using the service's own capacity: the LLM wait.

An interactive request first takes the embedding grade (CPU: the service's capacity) and
may then wait for the LLM, whose capacity admission control (graders/service/llm_admission.py) and
the interactive budget bound. Load shedding in front of the routes counts a request only
for its own part: the HTTP layer sets a hook for the request (``on_llm_wait``), and the
grader calls ``waiting_for_llm()`` when it starts waiting. The hook may be called more
than once and must act only the first time; outside a request (batches, refinement) there
is none and nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_hook: ContextVar[Callable[[], None] | None] = ContextVar("llm_wait_hook", default=None)


@contextmanager
def on_llm_wait(hook: Callable[[], None]) -> Iterator[None]:
    """Within this block, ``waiting_for_llm()`` calls ``hook``."""
    token = _hook.set(hook)
    try:
        yield
    finally:
        _hook.reset(token)


def waiting_for_llm() -> None:
    hook = _hook.get()
    if hook is not None:
        hook()
