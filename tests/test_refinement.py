"""Progressive grading: a grade at once, the LLM's refined revision later (scripted vLLM).

The real embedding model grades over real HTTP; only vLLM's replies are scripted at the
transport (the same runs against a real vLLM in tests/test_vllm_refinement.py).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import GOOD, LESSON, LiveServer, grade, verdicts
from tests.llm_stub import FakeVLLM

pytestmark = pytest.mark.integration


def refined(http: httpx.Client, grade_id: str, timeout: float = 20) -> dict[str, Any]:
    """Long-poll until the grade's refinement settles."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = http.get(f"/v1/grades/{grade_id}", params={"after_revision": 1, "wait": 5})
        assert response.status_code == 200, response.text
        body = response.json()
        if body["refinement"] not in ("pending", "running"):
            return body
    raise AssertionError(f"not refined in {timeout} s: {body.get('refinement')}")


def test_skipped_llm_refines_in_the_background(serve: Callable[..., LiveServer]) -> None:
    fake = FakeVLLM(lambda body: verdicts(GOOD, "met", "SFT teaches when to apply it"), 3.0)
    with serve(fake, timeout_s=10).client() as http:
        start = time.monotonic()
        first = grade(http, GOOD).json()
        assert time.monotonic() - start < 2.5  # the answer does not wait for the LLM (3 s)
        assert first["graders"]["llm"]["state"] == "skipped"
        assert (first["revision"], first["graded_by"]) == (1, "embedding")
        assert first["refinement"] == "pending"
        started = time.monotonic()
        after = refined(http, first["grade_id"])
        assert time.monotonic() - started < 10  # woken by the refiner, not by a timeout
        assert after["refinement"] == "done"
        assert after["revision"] == 2 and after["graded_by"] == "embedding+llm"
        assert after["graders"]["llm"]["state"] == "used"
        assert after["graders"]["llm"]["comment"] == "Well done."
        assert after["grade_id"] == first["grade_id"]
        history = http.get(f"/v1/grades/{first['grade_id']}/history").json()
        assert [r["graded_by"] for r in history["revisions"]] == ["embedding", "embedding+llm"]
        assert history["answer"] == GOOD
        # Without waiting, the latest revision at once.
        now = http.get(f"/v1/grades/{first['grade_id']}").json()
        assert now["revision"] == 2
        metrics = http.get("/metrics").text
        assert 'rubricate_grades_by_refinement{state="done"} 1.0' in metrics
        assert "rubricate_refinement_lag_seconds 0.0" in metrics
        lag = [line for line in metrics.splitlines() if line.startswith("rubricate_refined_lag")]
        assert 1.0 < float(lag[0].split()[-1]) < 10


def test_llm_answering_in_time_needs_no_refinement(serve: Callable[..., LiveServer]) -> None:
    fake = FakeVLLM(lambda body: verdicts(GOOD, "met", "SFT teaches when to apply it"))
    with serve(fake).client() as http:
        result = grade(http, GOOD).json()
        assert result["graders"]["llm"]["state"] == "used"
        assert (result["refinement"], result["graded_by"]) == ("none", "embedding+llm")
        start = time.monotonic()
        same = http.get(f"/v1/grades/{result['grade_id']}", params={"wait": 5}).json()
        assert time.monotonic() - start < 1  # nothing to wait for: settled
        assert same["revision"] == 1 and same["score"] == result["score"]


def test_refinement_waits_out_an_llm_outage(serve: Callable[..., LiveServer]) -> None:
    up = {"ok": True}
    fake = FakeVLLM(lambda body: verdicts(GOOD, "met", "SFT teaches when to apply it"))
    original = fake.handle

    async def flaky(request: httpx.Request) -> httpx.Response:
        if not up["ok"]:
            raise httpx.ConnectError("connection refused", request=request)
        return await original(request)

    fake.handle = flaky  # type: ignore[method-assign]
    with serve(fake).client() as http:
        up["ok"] = False
        deadline = time.monotonic() + 10
        while http.get("/readyz").json()["llm"]["state"] != "unavailable":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        calls = len(fake.calls)
        ids = [grade(http, f"{GOOD} ({n})").json() for n in range(3)]
        assert {r["graders"]["llm"]["state"] for r in ids} == {"unavailable"}
        assert {r["refinement"] for r in ids} == {"pending"}
        time.sleep(1.5)
        assert len(fake.calls) == calls  # nothing claimed while the LLM is down
        up["ok"] = True
        for result in ids:
            after = refined(http, result["grade_id"])
            assert after["refinement"] == "done" and after["revision"] == 2


def test_unknown_grade_is_a_problem(serve: Callable[..., LiveServer]) -> None:
    fake = FakeVLLM(lambda body: verdicts(GOOD, "met", "x"))
    with serve(fake).client() as http:
        response = http.get("/v1/grades/0123456789abcdef0123456789abcdef")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"] == "Unknown grade"


def test_grades_kept_without_an_llm(http: httpx.Client) -> None:
    body = {"lesson_id": LESSON.id, "question_id": "sc-2", "answer": GOOD, "student_id": "s-9"}
    result = http.post("/v1/grade", json=body).json()
    assert result["graders"]["llm"]["state"] == "disabled"
    assert result["refinement"] == "none" and result["grade_id"]
    stored = http.get(f"/v1/grades/{result['grade_id']}").json()
    assert stored == result


def test_batch_rows_graded_at_once_then_refined(serve: Callable[..., LiveServer]) -> None:
    """Phase one grades every row without waiting for the LLM; phase two refines them; the
    results show each row's current grade (refined, or the teacher's), and erasing a
    student clears their rows."""
    fake = FakeVLLM(lambda body: verdicts(GOOD, "met", "SFT teaches when to apply it"), 1.2)
    answers = [GOOD, "SFT teaches when to apply knowledge the model already has.", GOOD]
    lines = ["row_id,student_id,lesson_id,question_id,answer"] + [
        f'r{i},s{i},{LESSON.id},sc-2,"{a}"' for i, a in enumerate(answers)
    ]
    with serve(fake, timeout_s=10).client() as http:
        created = http.post(
            "/v1/batches", content="\n".join(lines).encode(), headers={"Content-Type": "text/csv"}
        ).json()
        deadline = time.monotonic() + 120
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            info = http.get(f"/v1/batches/{created['id']}").json()
            if info["status"] == "done" and info["refinement"]["waiting"] == 0:
                break
            time.sleep(0.5)
        assert info["progress"]["done"] == 3
        assert info["refinement"]["refined"] + info["refinement"]["final"] == 3, info
        assert info["refinement"]["refined"] >= 1
        rows = [
            json.loads(line)
            for line in http.get(f"/v1/batches/{created['id']}/results").text.splitlines()
        ]
        assert [r["student_id"] for r in rows] == ["s0", "s1", "s2"]
        for row in rows:
            assert row["result"]["graders"]["llm"]["state"] == "used"
            assert row["result"]["graded_by"] == "embedding+llm"
            assert row["result"]["student_id"] == row["student_id"]
        ids = [row["result"]["grade_id"] for row in rows]
        assert len(set(ids)) == 3  # one stored grade per student, identical answers too
        http.put(f"/v1/grades/{ids[1]}/review", json={"score": 0}).raise_for_status()
        table = http.get(f"/v1/batches/{created['id']}/results", params={"format": "csv"}).text
        reviewed = next(r for r in csv.DictReader(io.StringIO(table)) if r["student_id"] == "s1")
        assert (reviewed["graded_by"], reviewed["score"], reviewed["label"]) == (
            "teacher",
            "0.0",
            "incorrect",
        )
        erased = http.delete("/v1/students/s2").json()
        assert erased == {"student_id": "s2", "erased": 1, "batch_rows": 1}
        rows = [
            json.loads(line)
            for line in http.get(f"/v1/batches/{created['id']}/results").text.splitlines()
        ]
        assert rows[2]["status"] == "failed" and rows[2]["result"] is None
        assert rows[2]["student_id"] is None and "erased" in rows[2]["error"]
        info = http.get(f"/v1/batches/{created['id']}").json()
        assert (info["progress"]["done"], info["progress"]["failed"]) == (2, 1)
