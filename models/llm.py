"""The LLM backend: chat messages and a JSON schema in, one parsed JSON object out.

``VLLMClient`` talks to vLLM's OpenAI-compatible ``/v1/chat/completions`` with structured
output (``response_format={"type": "json_schema", ...}``), so the reply always follows the
schema the grader hands in.  One ``httpx.AsyncClient`` lives as long as the client; a
semaphore caps the requests in flight; each call has one total deadline (queueing, retries
and back-off included) and never waits past it.

Errors are ours, not httpx's: ``LLMTimeout`` (deadline passed), ``LLMUnavailable`` (cannot
reach the server, or it keeps answering 429/5xx; ``LLMRejected`` is the 4xx subclass),
``LLMBadResponse`` (the reply is not the JSON object asked for), all ``LLMError``.

The parts live beside this module: ``llm_errors`` (the errors), ``llm_protocol`` (what
graders and the app ask for), ``llm_settings`` (how to reach the server), ``vllm_client``
(the client itself) and ``llm_replies`` (reading what the server answers).  Every name is
importable from here; this module keeps the registry of backends, ``LLM_CLIENTS``.
"""

from __future__ import annotations

from collections.abc import Callable

from models.llm_errors import LLMBadResponse, LLMError, LLMRejected, LLMTimeout, LLMUnavailable
from models.llm_protocol import JSONObject as JSONObject
from models.llm_protocol import LLMBackend, LLMClient
from models.llm_protocol import Messages as Messages
from models.llm_replies import prefix_cache_hit_rate
from models.llm_settings import LLMSettings
from models.vllm_client import RETRY_STATUS as RETRY_STATUS
from models.vllm_client import LLMStats, VLLMClient

__all__ = [
    "LLM_CLIENTS",
    "LLMBackend",
    "LLMBadResponse",
    "LLMClient",
    "LLMError",
    "LLMRejected",
    "LLMSettings",
    "LLMStats",
    "LLMTimeout",
    "LLMUnavailable",
    "VLLMClient",
    "create_llm_client",
    "prefix_cache_hit_rate",
]


LLM_CLIENTS: dict[str, Callable[[LLMSettings], LLMBackend]] = {"vllm": VLLMClient}


def create_llm_client(settings: LLMSettings) -> LLMBackend:
    """Build the backend named by ``settings.backend`` from ``LLM_CLIENTS``."""
    try:
        factory = LLM_CLIENTS[settings.backend]
    except KeyError:
        raise ValueError(
            f"unknown LLM backend {settings.backend!r}; known: {sorted(LLM_CLIENTS)}"
        ) from None
    return factory(settings)
