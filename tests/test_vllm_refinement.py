"""Progressive grading against a real vLLM (SmolLM2-135M on CPU): a class is answered at
once, the LLM's refined revisions stream in, and refinement survives vLLM dying."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.embedder import Embedder
from tests.test_vllm_grading import LESSON, llm_server, wait_llm
from tests.vllm_fixtures import VLLMEndpoint, start_prepared_vllm

pytestmark = pytest.mark.integration
ANSWERS = [
    "A base model only continues text; an instruction-tuned model follows the request.",
    "SFT does not add knowledge, it teaches the format of answers.",
    "LoRA trains small low-rank matrices and keeps the base weights frozen.",
    "The chat template marks who speaks, so the model knows where its turn starts.",
]


def refined(http: httpx.Client, grade_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = http.get(f"/v1/grades/{grade_id}", params={"after_revision": 1, "wait": 10}).json()
        if body["refinement"] not in ("pending", "running"):
            return body
    raise AssertionError(f"grade {grade_id} not refined in {timeout} s: {body.get('refinement')}")


def class_bodies(n: int, question_id: str = "sc-1") -> list[dict[str, Any]]:
    return [
        {
            "lesson_id": LESSON.id,
            "question_id": question_id,
            "answer": f"{ANSWERS[i % len(ANSWERS)]} (student {i})",
            "student_id": f"s{i}",
        }
        for i in range(n)
    ]


def test_class_answered_at_once_then_refined(
    vllm_server: VLLMEndpoint, embedder: Embedder, tmp_path: Path
) -> None:
    with llm_server(vllm_server, embedder, tmp_path) as server:
        with server.client() as http:
            wait_llm(http)
        bodies = class_bodies(8)
        start = time.monotonic()
        with server.client() as http, ThreadPoolExecutor(8) as pool:
            first = [r.json() for r in pool.map(lambda b: http.post("/v1/grade", json=b), bodies)]
        assert time.monotonic() - start < 15
        pending = [r for r in first if r["refinement"] == "pending"]
        assert all(r["graders"]["llm"]["state"] in ("used", "skipped") for r in first)
        assert all(r["refinement"] in ("none", "pending") for r in first)
        with server.client(timeout=60) as http:
            for result in pending:
                after = refined(http, result["grade_id"], timeout=240)
                assert after["refinement"] == "done", after["graders"]["llm"]
                assert after["revision"] == 2 and after["graders"]["llm"]["state"] == "used"
                assert after["student_id"] == result["student_id"]


def test_refinement_resumes_after_vllm_restarts(embedder: Embedder, tmp_path: Path) -> None:
    if os.environ.get("RUBRICATE_LLM_URL"):
        pytest.skip("uses its own local vLLM to kill; RUBRICATE_LLM_URL points elsewhere")
    vllm = start_prepared_vllm(port=0)
    port = vllm.port
    endpoint = VLLMEndpoint(base_url=vllm.base_url, model=vllm.model_name, server=vllm)
    try:
        with llm_server(endpoint, embedder, tmp_path, refine_concurrency=2) as server:
            with server.client() as http:
                wait_llm(http)
                os.killpg(vllm.pid or 0, signal.SIGKILL)
                deadline = time.monotonic() + 15
                while http.get("/readyz").json()["llm"]["state"] != "unavailable":
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
                down = [http.post("/v1/grade", json=b).json() for b in class_bodies(4, "sc-4")]
                assert {r["graders"]["llm"]["state"] for r in down} == {"unavailable"}
                assert {r["refinement"] for r in down} == {"pending"}
                assert all(r["score"] is not None for r in down)
            vllm.stop()
            vllm = start_prepared_vllm(port=port)
            with server.client(timeout=60) as http:
                for result in down:
                    after = refined(http, result["grade_id"], timeout=240)
                    assert after["refinement"] == "done"
                    assert after["graders"]["llm"]["state"] == "used"
    finally:
        vllm.stop()
