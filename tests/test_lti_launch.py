"""LTI 1.3 launches against a real platform implementation (lti1p3platform) on loopback:
launch, grade with the real embedding model and pass the score back, in a browser too;
sessions, deep linking, refused launches and the admin endpoints."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from tests.conftest import LiveServer
from tests.lti_platform import (
    PlatformServer,
    form_fields,
    rsa_pem,
    start_launch,
)
from tests.lti_tool import CUSTOM, GOOD, LESSON, QUESTION, launch, launch_token, wait_for

pytestmark = pytest.mark.integration


def test_launch_grade_and_score_passback(platform: PlatformServer, tool: LiveServer) -> None:
    action, fields = start_launch(platform.url, custom=CUSTOM, user="student-7")
    page = launch(tool, action, fields)
    assert page.status_code == 200, page.text
    assert f'lesson="{LESSON}" question="{QUESTION}"' in page.text
    assert "What does a plant need for photosynthesis" in page.text
    assert "/widget.js" in page.text
    token = launch_token(page.text)

    before = len(platform.lms.scores)
    with tool.client() as client:
        response = client.post(
            "/lti/grade", json={"answer": GOOD}, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    result = body["result"]
    assert result["lesson_id"] == LESSON and result["student_id"] == "student-7"
    assert body["passback"]["status"] == "queued"

    wait_for(lambda: len(platform.lms.scores) > before)
    received = platform.lms.scores[-1]
    assert received.line_item_id == "li-1"
    assert received.content_type == "application/vnd.ims.lis.v1.score+json"
    score = received.score
    assert score["userId"] == "student-7"
    assert score["scoreGiven"] == result["score"] and score["scoreGiven"] > 0
    assert score["scoreMaximum"] == result["max_score"]
    assert score["activityProgress"] == "Completed"
    expected = "PendingManual" if result["needs_review"] else "FullyGraded"
    assert score["gradingProgress"] == expected
    assert score["comment"] == result["feedback"]["summary"]
    assert datetime.fromisoformat(score["timestamp"]).tzinfo is not None


def test_launch_in_a_browser_grades_and_passes_back(
    platform: PlatformServer, tool: LiveServer, browser: Any
) -> None:
    """The whole student path in Chromium: LMS link, OIDC login, launch, typing, the score."""
    page = browser.new_page()
    page.goto(platform.url + "/start?" + urlencode({"custom": CUSTOM, "user": "student-b"}))
    # The LMS's page holds the form that posts the id_token to the tool; an LMS submits it
    # by script, so does this.
    page.locator("form").evaluate("form => form.submit()")
    page.wait_for_url(tool.url + "/lti/launch")
    page.get_by_role("heading", name="What does a plant need for photosynthesis").wait_for()
    before = len(platform.lms.scores)
    page.get_by_label("Your answer").fill(GOOD)
    page.get_by_role("button", name="Check my answer").click()
    page.get_by_role("list", name="Feedback per key point").wait_for(timeout=60_000)
    shown = page.get_by_role("heading", name="Score:").inner_text()
    page.close()

    wait_for(lambda: len(platform.lms.scores) > before)
    score = platform.lms.scores[-1].score
    assert score["userId"] == "student-b" and score["scoreGiven"] > 0
    found = re.match(r"Score: ([0-9.]+) of ([0-9.]+)", shown)
    assert found, shown
    assert float(found.group(1)) == pytest.approx(score["scoreGiven"])
    assert float(found.group(2)) == pytest.approx(score["scoreMaximum"])


def test_session_is_scoped_to_its_launch(tool: LiveServer) -> None:
    with tool.client() as client:
        response = client.post(
            "/lti/grade", json={"answer": GOOD}, headers={"Authorization": "Bearer forged"}
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "relaunch" in response.json()["detail"]


def test_deep_linking_round_trip(platform: PlatformServer, tool: LiveServer) -> None:
    page = launch(tool, *start_launch(platform.url, kind="deeplink", user="teacher-1"))
    assert page.status_code == 200, page.text
    assert f'value="{LESSON}/{QUESTION}"' in page.text
    _, hidden = form_fields(page.text)
    with tool.client() as client:
        reply = client.post(
            "/lti/deep-link", data={"session": hidden["session"], "item": f"{LESSON}/q2"}
        )
        assert reply.status_code == 200, reply.text
        again = client.post(
            "/lti/deep-link", data={"session": hidden["session"], "item": f"{LESSON}/q2"}
        )
        assert again.status_code == 401  # a deep-linking session is single-use
    action, fields = form_fields(reply.text)
    assert action == platform.url + "/deeplink/return"
    claims = jwt.decode(fields["JWT"], options={"verify_signature": False})
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == {"opaque": "x1"}
    accepted = httpx.post(action, data=fields, timeout=30)  # the platform verifies our JWKS
    assert accepted.status_code == 200, accepted.text
    item = platform.lms.deep_link_items[-1]
    assert item["type"] == "ltiResourceLink"
    assert item["custom"] == {"lesson": LESSON, "question": "q2"}
    assert item["url"] == tool.url + "/lti/launch"
    assert item["lineItem"]["scoreMaximum"] > 0

    # The link the teacher just added launches that question.
    custom = ",".join(f"{k}={v}" for k, v in item["custom"].items())
    page = launch(tool, *start_launch(platform.url, custom=custom))
    assert f'lesson="{LESSON}" question="q2"' in page.text


def resign(fields: dict[str, str], key: str, kid: str | None = None, **changes: Any) -> str:
    header = jwt.get_unverified_header(fields["id_token"])
    claims = jwt.decode(fields["id_token"], options={"verify_signature": False})
    claims.update(changes)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid or header["kid"]})


DEPLOYMENT = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("bad-signature", "Bad signature"),
        ("wrong-audience", "Wrong audience"),
        ("expired", "expired"),
        ("unknown-deployment", "Deployment 'not-registered' is not registered"),
    ],
)
def test_refused_launches(
    platform: PlatformServer, tool: LiveServer, case: str, message: str
) -> None:
    action, fields = start_launch(platform.url, custom=CUSTOM)
    key = platform.lms.private_key
    if case == "bad-signature":
        fields["id_token"] = resign(fields, rsa_pem()[0])
    elif case == "wrong-audience":
        fields["id_token"] = resign(fields, key, aud="someone-else", azp="someone-else")
    elif case == "expired":
        past = int(time.time()) - 3600
        fields["id_token"] = resign(fields, key, iat=past - 300, exp=past)
    else:
        fields["id_token"] = resign(fields, key, **{DEPLOYMENT: "not-registered"})
    response = launch(tool, action, fields)
    assert response.status_code in (401, 403), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]
    status = 403 if case == "unknown-deployment" else 401
    assert response.status_code == status


def test_replayed_nonce_is_refused(platform: PlatformServer, tool: LiveServer) -> None:
    action, fields = start_launch(platform.url, custom=CUSTOM)
    assert launch(tool, action, fields).status_code == 200
    replay = launch(tool, action, fields)
    assert replay.status_code == 401
    assert replay.headers["content-type"] == "application/problem+json"
    assert "Replayed launch" in replay.json()["detail"]


def test_tool_jwks_and_platform_admin(tool: LiveServer) -> None:
    with tool.client() as client:
        keys = client.get("/.well-known/jwks.json").json()["keys"]
        assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and "d" not in keys[0]
        new = {
            "issuer": "https://lms.example",
            "client_id": "c1",
            "auth_login_url": "https://lms.example/auth",
            "auth_token_url": "https://lms.example/token",
            "jwks_url": "https://lms.example/jwks",
            "deployment_ids": ["d1"],
        }
        assert client.post("/v1/lti/platforms", json=new).status_code == 201
        listed = {(p["issuer"], p["source"]) for p in client.get("/v1/lti/platforms").json()}
        assert ("https://lms.example", "api") in listed
        params = {"issuer": "https://lms.example", "client_id": "c1"}
        assert client.delete("/v1/lti/platforms", params=params).status_code == 204
        assert client.delete("/v1/lti/platforms", params=params).status_code == 404
        unknown = client.get(
            "/lti/login",
            params={"iss": "https://nobody", "login_hint": "u", "target_link_uri": "x"},
        )
        assert unknown.status_code == 403 and "issuer" in unknown.json()["detail"]
