"""Reading what an OpenAI-compatible server sends back: the JSON object in a reply, the
detail of an error reply, ``Retry-After``, and the prefix-cache hit rate in ``/metrics``."""

from __future__ import annotations

import json
import math
import re

import httpx

from models.llm_errors import LLMBadResponse
from models.llm_protocol import JSONObject

__all__ = ["error_detail", "parse_json_object", "prefix_cache_hit_rate", "retry_after_s"]


def parse_json_object(content: str) -> JSONObject:
    """``content`` parsed as a JSON object; ``LLMBadResponse`` if it is not one."""
    try:
        value = json.loads(content)
    except ValueError as exc:
        raise LLMBadResponse(f"LLM reply is not valid JSON: {exc}", raw=content[:2000]) from exc
    if not isinstance(value, dict):
        raise LLMBadResponse(
            f"LLM reply is JSON but not an object ({type(value).__name__})", raw=content[:2000]
        )
    return value


def error_detail(response: httpx.Response) -> str:
    """The message of an error reply (OpenAI ``error.message``, else the body), cut short."""
    try:
        payload = response.json()
        if isinstance(payload, dict):
            err = payload.get("error", payload)
            if isinstance(err, dict):
                return str(err.get("message") or err.get("detail") or err)[:500]
            return str(err)[:500]
    except ValueError:
        pass
    return response.text[:500]


def retry_after_s(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds; ``None`` if absent, a date, or not sensible."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # HTTP-date form: fall back to our own back-off
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


_METRIC_RE = re.compile(r"^(vllm:prefix_cache_(?:hits|queries)_total)(?:\{[^}]*\})?\s+(\S+)$")


def prefix_cache_hit_rate(metrics_text: str) -> float | None:
    """Cached share of prompt tokens, from vLLM's ``/metrics``; ``None`` before any query."""
    totals = {"vllm:prefix_cache_hits_total": 0.0, "vllm:prefix_cache_queries_total": 0.0}
    for line in metrics_text.splitlines():
        match = _METRIC_RE.match(line.strip())
        if match:
            totals[match.group(1)] += float(match.group(2))
    queries = totals["vllm:prefix_cache_queries_total"]
    if queries <= 0:
        return None
    return totals["vllm:prefix_cache_hits_total"] / queries
