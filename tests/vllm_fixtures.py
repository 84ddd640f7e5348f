"""pytest plugin: a real vLLM for integration tests (``pytest_plugins = ["tests.vllm_fixtures"]``).

``vllm_server`` (session scope) uses the server named by ``RUBRICATE_LLM_URL`` when set
(model from ``RUBRICATE_LLM_MODEL``, else the first served one; key from
``RUBRICATE_LLM_API_KEY``).  Otherwise it starts the vLLM that ``scripts/prepare_vllm.sh``
prepared under ``.vllm/`` on a free port, and stops it when the session ends.  A missing
``.vllm/`` is a failure, not a skip: ``make test`` prepares it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from models.llm_settings import LLMSettings
from models.vllm_server import ManagedVLLM, VLLMServerError

VLLM_READY_TIMEOUT_S = float(os.environ.get("RUBRICATE_VLLM_READY_TIMEOUT", "300"))


@dataclass
class VLLMEndpoint:
    """Where the test vLLM answers; ``server`` is None for an external one."""

    base_url: str
    model: str
    api_key: str | None = None
    server: ManagedVLLM | None = None
    ready_after_s: float | None = None

    def settings(self, **overrides: Any) -> LLMSettings:
        values: dict[str, Any] = {
            "base_url": self.base_url,
            "model": self.model,
            "api_key": self.api_key,
            "timeout_s": 120.0,
        }
        values.update(overrides)
        return LLMSettings(**values)


def _external_model(base_url: str, api_key: str | None) -> str:
    name = os.environ.get("RUBRICATE_LLM_MODEL")
    if name:
        return name
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = LLMSettings(base_url=base_url).base_url + "/v1/models"
    try:
        response = httpx.get(url, headers=headers, timeout=10.0)
        response.raise_for_status()
        return str(response.json()["data"][0]["id"])
    except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
        pytest.fail(f"RUBRICATE_LLM_URL={base_url} does not list a model: {exc!r}")


def start_prepared_vllm(**kwargs: Any) -> ManagedVLLM:
    """Start the vLLM under ``.vllm/`` (or $RUBRICATE_VLLM_HOME) and wait until it is ready."""
    try:
        server = ManagedVLLM.from_home(**kwargs)
    except VLLMServerError as exc:
        pytest.fail(f"{exc}\n(`make test` runs scripts/prepare_vllm.sh first)", pytrace=False)
    server.start()
    try:
        server.wait_ready_blocking(VLLM_READY_TIMEOUT_S)
    except VLLMServerError as exc:
        server.stop()
        pytest.fail(f"vLLM did not start: {exc}", pytrace=False)
    return server


@pytest.fixture(scope="session")
def vllm_server() -> Iterator[VLLMEndpoint]:
    url = os.environ.get("RUBRICATE_LLM_URL")
    if url:
        api_key = os.environ.get("RUBRICATE_LLM_API_KEY") or None
        yield VLLMEndpoint(base_url=url, model=_external_model(url, api_key), api_key=api_key)
        return
    start = time.monotonic()
    server = start_prepared_vllm(port=0)
    try:
        yield VLLMEndpoint(
            base_url=server.base_url,
            model=server.model_name,
            server=server,
            ready_after_s=time.monotonic() - start,
        )
    finally:
        server.stop()
