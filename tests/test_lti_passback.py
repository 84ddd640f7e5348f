"""LTI score passback: a failed passback is retried from the queue, and a queued one
survives a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from app.lti.ags import PassbackWorker, TokenClient
from app.lti.keys import ToolKey
from app.lti.store import LtiStore
from tests.conftest import LiveServer
from tests.lti_platform import (
    CLIENT_ID,
    PlatformServer,
    start_launch,
)
from tests.lti_tool import CUSTOM, launch, launch_token, platform_record, wait_for

pytestmark = pytest.mark.integration


def test_failed_passback_is_retried_from_the_queue(
    platform: PlatformServer, tool: LiveServer
) -> None:
    token = launch_token(launch(tool, *start_launch(platform.url, custom=CUSTOM)).text)
    platform.lms.fail_scores = 2
    before = len(platform.lms.scores)
    with tool.client() as client:
        response = client.post(
            "/lti/grade", json={"answer": "no idea"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        item_id = response.json()["passback"]["id"]
        wait_for(lambda: len(platform.lms.scores) > before)
        queue = {p["id"]: p for p in client.get("/v1/lti/passbacks").json()}
    assert queue[item_id]["status"] == "sent"
    assert queue[item_id]["attempts"] == 3


def test_queued_passback_survives_a_restart(tmp_path: Path) -> None:
    """A score the platform could not take stays in SQLite across a restart."""
    asyncio.run(_queued_passback_survives_a_restart(tmp_path))


async def _queued_passback_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "lti.sqlite3"
    store = LtiStore(db)
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    store.put_platform(platform_record(dead, CLIENT_ID, "d"), source="file")
    item = store.enqueue(dead, CLIENT_ID, dead + "/lineitems/1", {"userId": "u", "scoreGiven": 1})
    async with httpx.AsyncClient() as http:
        key = ToolKey.load_or_create(tmp_path / "key.pem")
        worker = PassbackWorker(
            store, TokenClient(http, key), http, retry_base_s=0.01, retry_max_s=1, interval_s=1
        )
        assert await worker.run_once() == 0
    store.close()
    reopened = LtiStore(db)
    await asyncio.sleep(0.05)
    (pending,) = reopened.due()
    assert pending.id == item and pending.attempts == 1 and pending.last_error
    assert pending.score == {"userId": "u", "scoreGiven": 1}
    reopened.close()
