"""LTI passback once a grade is settled, the release policy, and the teacher's grade
replacing the LMS's: a real LTI platform (lti1p3platform) on loopback, the real
embedding model, and an LLM slower than the interactive budget (scripted at the
transport), so every launch's grade is refined in the background."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.runtime import Backends
from models.embedder import Embedder
from tests.batch_fixtures import Q1_REPLY
from tests.conftest import LiveServer
from tests.llm_stub import FakeVLLM, fake_client
from tests.lti_platform import PlatformServer, start_launch
from tests.lti_tool import CUSTOM, launch, launch_token, tool_settings, wait_for

pytestmark = pytest.mark.integration
ANSWER = "Plants need sunlight, carbon dioxide and water, and they give off oxygen."


@pytest.fixture(scope="module")
def tool(
    platform: PlatformServer, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    slow_vllm = FakeVLLM(lambda body: json.dumps(Q1_REPLY), 1.5)  # past the 1 s interactive budget
    client = fake_client(slow_vllm, timeout_s=10, max_retries=0)
    settings = tool_settings(
        platform,
        tmp_path_factory.mktemp("lti-release"),
        lti_passback_wait_s=60,
        llm_health_interval_s=0.2,
    )
    backends = Backends(embedder=embedder, llm=client, llm_model="fake")
    with LiveServer(settings, backends) as server:
        platform.lms.tool_url = server.url
        with server.client() as http:
            while http.get("/readyz").json()["llm"]["state"] != "ready":
                time.sleep(0.1)
        yield server


def answer_in_launch(platform: PlatformServer, tool: LiveServer, user: str) -> dict[str, Any]:
    token = launch_token(launch(tool, *start_launch(platform.url, custom=CUSTOM, user=user)).text)
    with tool.client() as http:
        response = http.post(
            "/lti/grade", json={"answer": ANSWER}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def scores_for(platform: PlatformServer, user: str) -> list[dict[str, Any]]:
    return [r.score for r in platform.lms.scores if r.score["userId"] == user]


def test_launch_grade_passes_back_once_after_refinement(
    platform: PlatformServer, tool: LiveServer
) -> None:
    body = answer_in_launch(platform, tool, "student-held")
    first = body["result"]
    assert first["refinement"] == "pending"
    assert body["passback"] == {
        "id": None,
        "status": "held",
        "attempts": 0,
        "lineitem": None,
        "last_error": None,
        "score": None,
    }
    assert scores_for(platform, "student-held") == []  # not the unrefined grade
    wait_for(lambda: scores_for(platform, "student-held"), seconds=30)
    with tool.client() as http:
        refined = http.get(f"/v1/grades/{first['grade_id']}").json()
    assert refined["revision"] == 2 and refined["refinement"] == "done"
    time.sleep(1.0)
    (score,) = scores_for(platform, "student-held")  # once
    assert score["scoreGiven"] == refined["score"]
    assert score["comment"] == refined["feedback"]["summary"]


def test_release_policy_then_the_teacher_grade_replaces_pending_manual(
    platform: PlatformServer, tool: LiveServer
) -> None:
    url = "/v1/questions/demo-photosynthesis/q1/release-policy"
    with tool.client() as http:
        state = http.put(url, json={"min_reviewed": 1, "min_accuracy": 0.9}).json()
    assert state["released"] is False and "0 of 1" in state["reason"]
    body = answer_in_launch(platform, tool, "student-policy")
    wait_for(lambda: scores_for(platform, "student-policy"), seconds=30)
    (machine,) = scores_for(platform, "student-policy")
    assert machine["gradingProgress"] == "PendingManual"  # the policy is not met yet

    grade_id = body["result"]["grade_id"]
    review = {"score": 4, "comment": "Glucose is implied; full marks."}
    with tool.client() as http:
        http.put(f"/v1/grades/{grade_id}/review", json=review).raise_for_status()
    wait_for(lambda: len(scores_for(platform, "student-policy")) == 2, seconds=15)
    teacher = scores_for(platform, "student-policy")[-1]
    assert teacher["gradingProgress"] == "FullyGraded" and teacher["scoreGiven"] == 4
    assert teacher["comment"].startswith("Your teacher: Glucose is implied")

    with tool.client() as http:
        state = http.get(url).json()
        assert state["reviewed"] == 1 and state["policy"]["min_reviewed"] == 1
        relaxed = http.put(url, json={"min_reviewed": 1, "min_accuracy": 0.0}).json()
    assert relaxed["released"] is True
    later = answer_in_launch(platform, tool, "student-released")["result"]
    wait_for(lambda: scores_for(platform, "student-released"), seconds=30)
    (released,) = scores_for(platform, "student-released")
    with tool.client() as http:
        sent = http.get(f"/v1/grades/{later['grade_id']}").json()
        expected = "PendingManual" if sent["needs_review"] else "FullyGraded"
        assert released["gradingProgress"] == expected  # the policy no longer holds it
        bad = http.put(url, json={"min_reviewed": -1, "min_accuracy": 2})
        assert bad.status_code == 422
        unknown = http.get("/v1/questions/demo-photosynthesis/nope/release-policy")
        assert unknown.status_code == 404
