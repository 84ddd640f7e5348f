"""Two real API processes on one PostgreSQL database and one Redis behave as one service:
an LTI launch can start on one and land on the other, its nonce is refused on both after
that, its session grades on either, its score reaches the LMS once; a rate limit holds
across both; a teacher's review (or erasure) on one teaches the other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.batch_fixtures import pg_available, pg_schema_url
from tests.conftest import DATA, free_port
from tests.lti_platform import PlatformServer, start_launch
from tests.lti_tool import CUSTOM, GOOD, LESSON, launch_token
from tests.test_ratelimit_redis import REDIS_URL

pytestmark = [pytest.mark.integration, pytest.mark.scale]
ROOT = Path(__file__).resolve().parents[1]
PER_MINUTE = 5


class Api:
    """One ``rubricate serve`` subprocess with its own cache_dir, as on its own machine."""

    def __init__(self, name: str, tmp: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"{name}.log"
        env = {**env, "RUBRICATE_CACHE_DIR": str(tmp / name)}
        command = [sys.executable, "-c", "from app.cli import main; main()", "serve"]
        self.proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + self.log.read_text()[-3000:])
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("server did not start:\n" + self.log.read_text()[-3000:])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def unreachable() -> str | None:
    reason = pg_available()
    if reason:
        return reason
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {REDIS_URL}: {exc}"
    return None


@pytest.fixture(scope="module")
def platform() -> Iterator[PlatformServer]:
    with PlatformServer() as server:
        yield server


@pytest.fixture(scope="module")
def apis(
    platform: PlatformServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, Api]]:
    reason = unreachable()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("scale")
    platforms = tmp / "platforms.json"
    platforms.write_text(json.dumps([platform.lms.platform_json()]))
    for db_url in pg_schema_url():  # a fresh schema, dropped afterwards
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "RUBRICATE_LLM_ENABLED": "false",
            "RUBRICATE_BUILTIN_LESSONS": "false",
            "RUBRICATE_LESSON_DIRS": json.dumps([str(DATA / "lessons")]),
            "RUBRICATE_DATABASE_URL": db_url,
            "RUBRICATE_REDIS_URL": REDIS_URL,
            "RUBRICATE_RATE_LIMIT_PER_MINUTE": "0",  # the LTI flow below comes from loopback too
            "RUBRICATE_RATE_LIMIT_KEY_PER_MINUTE": str(PER_MINUTE),
            "RUBRICATE_RATE_LIMIT_BURST": str(PER_MINUTE),
            "RUBRICATE_LTI_PLATFORMS_FILE": str(platforms),
            "RUBRICATE_LTI_WORKER_INTERVAL_S": "0.2",
            "RUBRICATE_LTI_RETRY_BASE_S": "0.2",
            "RUBRICATE_TEACHING_SYNC_S": "0.3",
        }
        pair = Api("one", tmp, env), Api("two", tmp, env)
        try:
            deadline = time.monotonic() + 240  # slow only on a busy machine
            for api in pair:
                api.wait_ready(deadline)
            platform.lms.tool_url = pair[0].url  # the LMS knows the load balancer's address
            yield pair
        finally:
            for api in pair:
                api.stop()


def test_a_launch_nonce_is_used_once_across_processes(
    platform: PlatformServer, apis: tuple[Api, Api]
) -> None:
    one, two = apis
    action, fields = start_launch(platform.url, custom=CUSTOM, user="student-9")
    assert action == one.url + "/lti/launch"  # logged in on one ...
    with two.client() as client:  # ... the form lands on two: the login state is shared
        page = client.post("/lti/launch", data=fields)
    assert page.status_code == 200, page.text
    for api in apis:  # replayed to either: refused
        with api.client() as client:
            replay = client.post("/lti/launch", data=fields)
        assert replay.status_code == 401, replay.text
        assert "Replayed launch" in replay.json()["detail"]

    # The launch's session grades on the other process; the score reaches the LMS once,
    # signed with the one tool key both processes share.
    before = len(platform.lms.scores)
    headers = {"Authorization": f"Bearer {launch_token(page.text)}"}
    with one.client() as client:
        graded = client.post("/lti/grade", json={"answer": GOOD}, headers=headers)
    assert graded.status_code == 200, graded.text
    assert graded.json()["result"]["lesson_id"] == LESSON
    deadline = time.monotonic() + 20
    while len(platform.lms.scores) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)  # both passback workers had their turns
    received = platform.lms.scores[before:]
    assert [r.score["userId"] for r in received] == ["student-9"]
    with two.client() as client:
        queue = client.get("/v1/lti/passbacks").json()
    assert [(p["status"], p["attempts"]) for p in queue] == [("sent", 1)]


def test_a_rate_limit_holds_across_processes(apis: tuple[Api, Api]) -> None:
    key = {"X-API-Key": uuid.uuid4().hex}  # its own bucket, whatever ran before
    codes = []
    for i in range(PER_MINUTE):
        with apis[i % 2].client() as client:
            codes.append(client.get("/v1/lessons", headers=key).status_code)
    assert codes == [200] * PER_MINUTE
    for api in (apis[PER_MINUTE % 2], apis[(PER_MINUTE + 1) % 2]):  # the 6th, on either
        with api.client() as client:
            refused = client.get("/v1/lessons", headers=key)
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 60 // PER_MINUTE
        assert refused.json()["status"] == 429


def exemplar_set(api: Api, answer: str, student: str) -> str:
    body = {"lesson_id": LESSON, "question_id": "q1", "answer": answer, "student_id": student}
    with api.client() as client:
        response = client.post("/v1/grade", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["versions"]["exemplar_set"])


def eventually(api: Api, expected: str) -> None:
    deadline = time.monotonic() + 15
    while exemplar_set(api, "light", "probe") != expected:
        assert time.monotonic() < deadline, "the other process did not follow"
        time.sleep(0.3)


def test_a_review_on_one_process_teaches_the_other(apis: tuple[Api, Api]) -> None:
    one, two = apis
    before = exemplar_set(two, "light", "probe")
    body = {"lesson_id": LESSON, "question_id": "q1", "student_id": "taught-1", "answer": GOOD}
    with one.client() as client:
        graded = client.post("/v1/grade", json=body).json()
        client.put(f"/v1/grades/{graded['grade_id']}/review", json={"score": 4}).raise_for_status()
    taught = exemplar_set(one, "light", "probe")
    assert taught != before
    eventually(two, taught)
    with one.client() as client:  # the student's answers erased: forgotten on both
        client.delete("/v1/students/taught-1").raise_for_status()
    assert exemplar_set(one, "light", "probe") == before
    eventually(two, before)
