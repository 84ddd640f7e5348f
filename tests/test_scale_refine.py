"""Background LLM refinement on ``rubricate worker`` processes (batch_engine=procrastinate).

The API grades within its budget and stores a grade ``pending`` together with its
refinement job (one transaction, real PostgreSQL); a worker process with the LLM refines
it; the API process refines nothing itself. With the LLM down the grades wait (pending,
not failed) and are refined once it is back. The LLM is the stub OpenAI server
(``tests/llm_stub.py``), slower than the API's budget, so every interactive verdict is
skipped; the real vLLM's refinement is ``tests/test_vllm_refinement.py``.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.runtime import Backends
from graders.batch.procrastinate_queue import ensure_schema, make_app
from graders.store.grade_store import GradeStore
from graders.workflow.refine_jobs import TASK, RefineJobs
from models.embedder import Embedder
from tests.batch_fixtures import LESSON, new_grade, pg_available, pg_schema_url
from tests.conftest import LiveServer, make_settings
from tests.llm_stub import Stub, stop
from tests.worker_fixtures import scalar, start_worker

pytestmark = [pytest.mark.scale, pytest.mark.integration]
MODEL = "stub-grader"
ANSWERS = [
    "Plants use sunlight, water and carbon dioxide to make glucose and oxygen.",
    "they make food from light",
    "Photosynthesis happens in the roots at night.",
    "Carbon dioxide and water become sugar, and oxygen is released.",
]


@pytest.fixture()
def pg_url() -> Iterator[str]:
    if reason := pg_available():
        pytest.skip(reason)
    yield from pg_schema_url()


def test_refinement_jobs_commit_with_their_grades(pg_url: str) -> None:
    store = GradeStore(pg_url)
    engine = create_engine(pg_url)
    try:
        ensure_schema(store.engine)
        store.on_pending = RefineJobs(make_app(pg_url)).defer
        ids = store.add_many([new_grade(a, "pending") for a in ANSWERS] + [new_grade("x", "none")])
        with engine.connect() as conn:
            query = text("SELECT args FROM procrastinate_jobs WHERE task_name = :t")
            args = [r[0] for r in conn.execute(query, {"t": TASK})]
        assert [a["grade_ids"] for a in args] == [ids[:4]]  # the pending ones, in one job

        def broken(conn: Any, grade_ids: list[str]) -> None:
            RefineJobs(make_app(pg_url)).defer(conn, grade_ids)
            raise RuntimeError("the database went away")

        store.on_pending = broken
        with pytest.raises(RuntimeError):
            store.add_many([new_grade("lost with its job", "pending")])
        assert scalar(engine, "SELECT count(*) FROM rubricate_grades") == 5
        assert scalar(engine, "SELECT count(*) FROM procrastinate_jobs") == 1
    finally:
        store.close()
        engine.dispose()


def post_class(http: httpx.Client, answers: list[str], student: str) -> list[dict[str, Any]]:
    out = []
    for n, answer in enumerate(answers):
        body = {"lesson_id": LESSON, "question_id": "q1", "answer": answer}
        response = http.post("/v1/grade", json={**body, "student_id": f"{student}{n}"})
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


def settled(http: httpx.Client, grade_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        params = {"after_revision": 1, "wait": 5}
        body = http.get(f"/v1/grades/{grade_id}", params=params).json()
        if body["refinement"] not in ("pending", "running"):
            return body
    raise AssertionError(f"grade {grade_id} not refined in {timeout} s: {body}")


def wait_llm_state(http: httpx.Client, state: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while http.get("/readyz").json()["llm"]["state"] != state:
        assert time.monotonic() < deadline, http.get("/readyz").text
        time.sleep(0.2)


def test_workers_refine_what_the_api_skipped(
    pg_url: str, embedder: Embedder, tmp_path: Path
) -> None:
    stub = Stub(MODEL, delay_s=1.0)  # slower than the API's 0.2 s budget
    llm_env = {
        "RUBRICATE_LLM_ENABLED": "true",
        "RUBRICATE_LLM_URL": stub.url,
        "RUBRICATE_LLM_MODEL": MODEL,
        "RUBRICATE_LLM_HEALTH_INTERVAL_S": "0.5",
    }
    worker, log = start_worker(tmp_path, pg_url, "refiner", **llm_env)
    settings = make_settings(
        tmp_path,
        database_url=pg_url,
        batch_engine="procrastinate",
        llm_enabled=True,
        llm_url=stub.url,
        llm_model=MODEL,
        llm_budget_s=0.2,
        llm_health_interval_s=0.5,
    )
    try:
        with LiveServer(settings, Backends(embedder=embedder)) as server, server.client() as http:
            assert server.app.state.refiner is None  # the API process refines nothing
            wait_llm_state(http, "ready")
            first = post_class(http, ANSWERS, "a")
            assert [r["refinement"] for r in first] == ["pending"] * len(ANSWERS)
            assert {r["graders"]["llm"]["state"] for r in first} == {"skipped"}
            for result in first:
                after = settled(http, result["grade_id"], timeout=120)
                assert after["refinement"] == "done", after
                assert after["revision"] == 2 and after["graded_by"] == "embedding+llm"
                assert after["graders"]["llm"]["state"] == "used"
                assert after["student_id"] == result["student_id"]
            assert "refinement job:" in log.read_text()
            assert worker.poll() is None

            # The LLM goes down: grades wait, pending, and are refined once it is back.
            stop(stub.proc)
            wait_llm_state(http, "unavailable")
            down = post_class(http, ANSWERS[:2], "b")
            assert [r["graders"]["llm"]["state"] for r in down] == ["unavailable"] * 2
            time.sleep(3)
            waiting = [http.get(f"/v1/grades/{r['grade_id']}").json() for r in down]
            assert [w["refinement"] for w in waiting] == ["pending", "pending"]
            stub.restart()
            for result in down:
                after = settled(http, result["grade_id"], timeout=150)
                assert after["refinement"] == "done" and after["revision"] == 2, after
            assert stub.stats()["calls"] >= 2
    finally:
        stop(stub.proc)
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
        if worker.poll() is None:
            worker.kill()
