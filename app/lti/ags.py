"""Assignment and Grade Services: score payloads, access tokens, and the passback worker.

Scores are queued in SQLite first and delivered by the worker; a failed delivery stays
pending and is retried with exponential backoff (capped), so a score is never lost to a
platform outage or a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from app.lti.keys import ToolKey
from app.lti.launch import SCORE_SCOPE
from app.lti.models import Passback, Platform
from app.lti.store import LtiStore
from graders.core.result import GradeResult

log = logging.getLogger(__name__)

SCORE_MEDIA_TYPE = "application/vnd.ims.lis.v1.score+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def score_payload(result: GradeResult, user_id: str, final: bool | None = None) -> dict[str, Any]:
    """The AGS score; ``final`` (default: not flagged for review) sets FullyGraded."""
    if final is None:
        final = not result.needs_review
    return {
        "userId": user_id,
        "scoreGiven": result.score,
        "scoreMaximum": result.max_score,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded" if final else "PendingManual",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "comment": result.feedback.summary,
    }


def scores_url(lineitem: str) -> str:
    """``{lineitem}/scores``, keeping any query string of the line item URL."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


class TokenClient:
    """OAuth2 client-credentials grant with a signed JWT assertion; tokens cached to expiry."""

    def __init__(self, http: httpx.AsyncClient, key: ToolKey) -> None:
        self.http = http
        self.key = key
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    async def token(self, platform: Platform, scope: str) -> str:
        cache_key = (platform.issuer, platform.client_id, scope)
        cached = self._tokens.get(cache_key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        response = await self.http.post(
            platform.auth_token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.key.client_assertion(
                    platform.client_id, platform.auth_token_url
                ),
                "scope": scope,
            },
            timeout=15,
        )
        if response.is_error:
            raise RuntimeError(
                f"token endpoint answered {response.status_code}: {response.text[:300]}"
            )
        body = response.json()
        token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 3600))
        self._tokens[cache_key] = (token, time.monotonic() + max(0.0, lifetime - 60))
        return token

    def forget(self, platform: Platform, scope: str) -> None:
        self._tokens.pop((platform.issuer, platform.client_id, scope), None)


@dataclass(eq=False)
class PassbackWorker:
    """Sends the queued scores that are due, every ``interval_s`` or when ``wake`` is set; a
    failed one waits ``retry_base_s`` doubled per attempt (at most ``retry_max_s``)."""

    store: LtiStore
    tokens: TokenClient
    http: httpx.AsyncClient
    _: KW_ONLY
    retry_base_s: float
    retry_max_s: float
    interval_s: float
    wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    async def deliver(self, item: Passback) -> None:
        platform = self.store.platform(item.issuer, item.client_id)
        if platform is None:
            raise RuntimeError(f"platform {item.issuer} / {item.client_id} is not registered")
        token = await self.tokens.token(platform, SCORE_SCOPE)
        response = await self.http.post(
            scores_url(item.lineitem),
            json=item.score,
            headers={"Authorization": f"Bearer {token}", "Content-Type": SCORE_MEDIA_TYPE},
            timeout=15,
        )
        if response.status_code == 401:
            self.tokens.forget(platform, SCORE_SCOPE)
        if response.is_error:
            raise RuntimeError(
                f"scores endpoint answered {response.status_code}: {response.text[:300]}"
            )

    async def run_once(self) -> int:
        """Deliver what is due; returns how many were sent."""
        sent = 0
        for item in self.store.due():
            try:
                await self.deliver(item)
            except Exception as exc:  # any failure is retried later
                delay = min(self.retry_max_s, self.retry_base_s * 2**item.attempts)
                delay *= random.uniform(0.8, 1.2)
                log.warning("score passback %d failed (retry in %.0fs): %s", item.id, delay, exc)
                self.store.mark_retry(item.id, delay, f"{type(exc).__name__}: {exc}")
            else:
                self.store.mark_sent(item.id)
                sent += 1
        return sent

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("score passback worker failed; continuing")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.interval_s)
            self.wake.clear()
