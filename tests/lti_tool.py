"""The tool's side of the LTI tests: a launch to the demo question, the tool's settings,
its launch token, waiting for the platform to receive a score (tests/lti_platform.py is
the platform's side)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

from app.lti.models import Platform
from app.settings import Settings
from tests.conftest import LiveServer, make_settings
from tests.lti_platform import PlatformServer

LESSON, QUESTION = "demo-photosynthesis", "q1"
GOOD = "Plants need sunlight, carbon dioxide and water; they make glucose and release oxygen."
CUSTOM = f"lesson={LESSON},question={QUESTION}"


def platform_record(issuer: str, client_id: str = "c1", deployment: str = "d1") -> Platform:
    """A platform's registration, its endpoints under ``issuer``."""
    return Platform(
        issuer=issuer,
        client_id=client_id,
        auth_login_url=issuer + "/auth",
        auth_token_url=issuer + "/token",
        jwks_url=issuer + "/jwks",
        deployment_ids=[deployment],
    )


def tool_settings(platform: PlatformServer, tmp: Path, **changes: Any) -> Settings:
    """Settings for a tool that trusts ``platform`` and retries passbacks quickly."""
    platforms = tmp / "platforms.json"
    platforms.write_text(json.dumps([platform.lms.platform_json()]))
    return make_settings(
        tmp,
        lti_platforms_file=platforms,
        lti_retry_base_s=0.2,
        lti_worker_interval_s=0.2,
        **changes,
    )


def launch(tool: LiveServer, action: str, fields: dict[str, str]) -> httpx.Response:
    assert action == tool.url + "/lti/launch"
    with tool.client() as client:
        return client.post("/lti/launch", data=fields)


def launch_token(page: str) -> str:
    found = re.search(r'launch-token="([^"]+)"', page)
    assert found, page
    return found.group(1)


def wait_for(predicate: Any, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
