"""``VLLMClient``: chat completions with structured output from vLLM's OpenAI-compatible API.

One ``httpx.AsyncClient`` lives as long as the client; a semaphore caps the requests in
flight; each call has one total deadline (queueing, retries and back-off included) and
retries 408/429/5xx, connection errors and attempt time-outs with jittered back-off.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from models.llm_errors import LLMBadResponse, LLMError, LLMRejected, LLMTimeout, LLMUnavailable
from models.llm_protocol import ClosesOnExit, JSONObject, JsonRequest
from models.llm_replies import error_detail, parse_json_object, retry_after_s
from models.llm_settings import LLMSettings
from models.peak import Peak

__all__ = ["RETRY_STATUS", "LLMStats", "VLLMClient"]

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class LLMStats:
    """Counters since the client was made (cheap; read them for logs or metrics)."""

    requests: int = 0
    """Calls to ``complete_json``."""
    successes: int = 0
    """Calls that returned a JSON object."""
    retries: int = 0
    """Attempts after a call's first (408, 429, 5xx, connection errors, attempt time-outs)."""
    timeouts: int = 0
    """Calls that ran past ``timeout_s``, retries included."""
    failures: int = 0
    """Calls that raised another LLMError."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    in_flight: Peak = field(default_factory=Peak)
    """Requests at the server: ``now`` (at most ``max_concurrency``) and the ``most`` at once."""


# --------------------------------------------------------------------------- vLLM client


class VLLMClient(ClosesOnExit):
    """``LLMClient`` over vLLM's OpenAI-compatible API.

    Use as ``async with VLLMClient(settings) as llm: await llm.complete_json(...)``, or call
    ``aclose()`` yourself.  ``transport`` replaces the network (tests pass
    ``httpx.MockTransport``).
    """

    def __init__(
        self,
        settings: LLMSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.name = f"vllm:{settings.model}"
        self.stats = LLMStats()
        headers = {"Accept": "application/json"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            headers=headers,
            timeout=httpx.Timeout(
                settings.timeout_s, connect=min(settings.connect_timeout_s, settings.timeout_s)
            ),
            limits=httpx.Limits(
                max_connections=settings.max_concurrency + 4,
                max_keepalive_connections=settings.max_concurrency + 4,
            ),
            transport=transport,
        )
        self._sem = asyncio.Semaphore(settings.max_concurrency)

    # -- lifecycle

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    # -- the one call graders make

    async def complete_json(self, request: JsonRequest) -> JSONObject:
        name = request.name
        body: dict[str, Any] = {
            "model": self.settings.model,
            "messages": request.messages,
            "temperature": self.settings.temperature,
            "max_tokens": request.max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": request.schema, "strict": True},
            },
        }
        if self.settings.seed is not None:
            body["seed"] = self.settings.seed
        self.stats.requests += 1
        timeout_s = self.settings.timeout_s
        deadline = time.monotonic() + timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                content = await self._post_with_retries(body, deadline, request.route_key)
        except TimeoutError as exc:
            self.stats.timeouts += 1
            raise LLMTimeout(f"LLM call {name!r} exceeded {timeout_s:g}s") from exc
        except LLMError:
            self.stats.failures += 1
            raise
        result = parse_json_object(content)
        self.stats.successes += 1
        return result

    async def _post_with_retries(
        self, body: dict[str, Any], deadline: float, route_key: str | None = None
    ) -> str:
        header = self.settings.route_header
        headers = {header: route_key} if header and route_key is not None else None
        attempt = 0
        while True:
            retry_after: float | None = None
            error: LLMError
            try:
                async with self._sem:
                    with self.stats.in_flight.holding():
                        response = await self._http.post(
                            "/v1/chat/completions", json=body, headers=headers
                        )
            except httpx.TimeoutException as exc:
                error = LLMTimeout(f"LLM attempt timed out: {type(exc).__name__}")
                error.__cause__ = exc
            except httpx.TransportError as exc:
                error = LLMUnavailable(
                    f"LLM server {self.settings.base_url} unreachable: {type(exc).__name__}: {exc}"
                )
                error.__cause__ = exc
            else:
                status = response.status_code
                if status < 400:
                    return self._extract_content(response)
                detail = error_detail(response)
                if status not in RETRY_STATUS:
                    raise LLMRejected(
                        f"LLM server refused the request ({status}): {detail}", status_code=status
                    )
                error = LLMUnavailable(
                    f"LLM server answered {status}: {detail}", status_code=status
                )
                retry_after = retry_after_s(response)
            if attempt >= self.settings.max_retries:
                raise error
            delay = self._backoff_s(attempt, retry_after)
            if time.monotonic() + delay >= deadline:
                raise error  # waiting could only end in a time-out; say what went wrong
            attempt += 1
            self.stats.retries += 1
            await asyncio.sleep(delay)

    def _backoff_s(self, attempt: int, retry_after: float | None) -> float:
        base = self.settings.backoff_base_s * (2**attempt)
        if retry_after is not None:
            base = max(base, retry_after)
        jitter = 1.0 + random.uniform(0.0, 0.1)
        return float(min(base, self.settings.backoff_max_s) * jitter)

    def _extract_content(self, response: httpx.Response) -> str:
        try:
            payload = response.json()
            choice = payload["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMBadResponse(
                "LLM reply is not a chat completion",
                raw=response.text[:2000],
                status_code=response.status_code,
            ) from exc
        if not isinstance(content, str):
            raise LLMBadResponse("LLM reply has no text content", raw=repr(content)[:2000])
        usage = payload.get("usage") or {}
        if isinstance(usage, Mapping):
            self.stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.stats.completion_tokens += int(usage.get("completion_tokens") or 0)
        if choice.get("finish_reason") == "length":
            try:
                parse_json_object(content)
            except LLMBadResponse as exc:
                raise LLMBadResponse(
                    "LLM reply was cut off at max_tokens before the JSON closed",
                    raw=content,
                    truncated=True,
                ) from exc
        return content

    # -- probes

    async def ready(self) -> tuple[bool, str]:
        """Cheap readiness probe: ``GET /v1/models`` and check our model is served."""
        try:
            response = await self._http.get("/v1/models", timeout=self.settings.ready_timeout_s)
        except httpx.HTTPError as exc:
            return False, f"vLLM unreachable at {self.settings.base_url}: {type(exc).__name__}"
        if response.status_code != 200:
            return False, f"vLLM /v1/models answered {response.status_code}"
        try:
            served = [str(m["id"]) for m in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            return False, "vLLM /v1/models reply is malformed"
        if self.settings.model not in served:
            return False, f"model {self.settings.model!r} not served (served: {served})"
        return True, f"vLLM serving {self.settings.model!r}"

    async def metrics_text(self) -> str:
        """vLLM's Prometheus ``/metrics`` text (see ``prefix_cache_hit_rate``)."""
        return (await self._get("/metrics")).text

    async def _get(self, path: str) -> httpx.Response:
        try:
            response = await self._http.get(path, timeout=self.settings.ready_timeout_s * 5)
        except httpx.TimeoutException as exc:
            raise LLMTimeout(f"GET {path} timed out") from exc
        except httpx.HTTPError as exc:
            raise LLMUnavailable(f"GET {path} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise LLMUnavailable(
                f"GET {path} answered {response.status_code}", status_code=response.status_code
            )
        return response
