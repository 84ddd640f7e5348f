"""The service's degradation when the LLM hangs, is slow or is unreachable: embeddings within
the budget, the LLM awaited only when required (vLLM scripted at the transport, or a hanging
loopback socket; the real embedding model grading)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from app.runtime import Backends
from models.embedder import Embedder
from tests.conftest import GOOD, LiveServer, grade, make_settings, verdicts
from tests.llm_stub import FakeVLLM

pytestmark = pytest.mark.integration


def test_hanging_llm_never_holds_a_request(serve: Callable[..., LiveServer]) -> None:
    fake = FakeVLLM(lambda body: None)
    with serve(fake, timeout_s=1.5).client() as http:
        start = time.monotonic()
        result = grade(http, GOOD).json()
        assert time.monotonic() - start < 2.5  # the 1 s interactive budget, not the 1.5 s timeout
        assert result["graders"]["llm"]["state"] == "skipped"
        assert "budget" in result["graders"]["llm"]["reason"]
        assert result["percent"] >= 0.5
        # Now the LLM is known to be slow: the next answer does not even ask it.
        start = time.monotonic()
        again = grade(http, GOOD).json()
        assert time.monotonic() - start < 0.8
        assert again["graders"]["llm"]["state"] == "skipped"
        assert "past the 1 s budget" in again["graders"]["llm"]["reason"]


def test_slow_llm_is_skipped_within_the_budget_and_awaited_when_required(
    serve: Callable[..., LiveServer],
) -> None:
    # slower than the 1 s interactive budget
    fake = FakeVLLM(lambda body: verdicts(GOOD, "met", "SFT teaches when to apply it"), 1.6)
    with serve(fake, timeout_s=10).client() as http:
        first = grade(http, GOOD).json()  # a probe, cut at the budget
        assert first["graders"]["llm"]["state"] == "skipped"
        required = grade(http, GOOD, require_llm=True)
        assert required.status_code == 200
        assert required.json()["graders"]["llm"]["state"] == "used"


def test_fast_idle_llm_answers_within_the_budget(serve: Callable[..., LiveServer]) -> None:
    fake = FakeVLLM(lambda body: verdicts(GOOD, "met", "SFT teaches when to apply it"))
    with serve(fake).client() as http:
        for _ in range(3):
            start = time.monotonic()
            result = grade(http, GOOD).json()
            assert time.monotonic() - start < 1.5
            assert result["graders"]["llm"]["state"] == "used"


def test_unreachable_server_reported(embedder: Embedder, tmp_path: Any) -> None:
    with socket.socket() as sock:  # a loopback port that accepts and never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = make_settings(
            tmp_path, llm_enabled=True, llm_url=url, llm_timeout_s=1.0, llm_health_interval_s=0.2
        )
        with LiveServer(settings, Backends(embedder=embedder)) as server, server.client() as http:
            ready = http.get("/readyz").json()
            assert ready["status"] == "ready" and ready["llm"]["state"] == "unavailable"
            start = time.monotonic()
            result = grade(http, GOOD).json()
            assert time.monotonic() - start < 3
            assert result["graders"]["llm"]["state"] == "unavailable"
            assert grade(http, GOOD, require_llm=True).status_code == 503
