"""Polling a starting vLLM until it serves: ``/health``, then ``/v1/models``, answer 200."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping

import httpx

__all__ = ["poll_until_ready", "poll_until_ready_blocking"]


async def poll_until_ready(
    base_url: str,
    headers: Mapping[str, str],
    *,
    timeout: float,  # noqa: ASYNC109 - a deadline for polling, not one await
    interval: float,
    check_alive: Callable[[], None],
    on_ready: Callable[[], None],
) -> bool:
    """Poll every ``interval`` seconds; once both answer 200 call ``on_ready`` and return
    True, once ``timeout`` passes return False.  ``check_alive`` runs before each try (it
    raises to give up, e.g. when the server died)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=2.0) as client:
        while True:
            check_alive()
            with contextlib.suppress(httpx.HTTPError):
                health = await client.get("/health")
                if health.status_code == 200:
                    models = await client.get("/v1/models")
                    if models.status_code == 200:
                        on_ready()
                        return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(interval)


def poll_until_ready_blocking(
    base_url: str,
    headers: Mapping[str, str],
    *,
    timeout: float,
    interval: float,
    check_alive: Callable[[], None],
    on_ready: Callable[[], None],
) -> bool:
    """``poll_until_ready`` for synchronous callers."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, headers=headers, timeout=2.0) as client:
        while True:
            check_alive()
            with contextlib.suppress(httpx.HTTPError):
                health = client.get("/health")
                if health.status_code == 200:
                    models = client.get("/v1/models")
                    if models.status_code == 200:
                        on_ready()
                        return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
