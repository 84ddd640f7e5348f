"""The registry of LLM backends: ``LLM_CLIENTS`` by name, and ``create_llm_client``.

The LLM backend itself (chat messages and a JSON schema in, one parsed JSON object out) lives
beside this module: ``llm_protocol`` (what graders and the app ask for: ``LLMClient``,
``LLMBackend``), ``llm_errors`` (``LLMTimeout``, ``LLMUnavailable`` and its 4xx subclass
``LLMRejected``, ``LLMBadResponse``, all ``LLMError``), ``llm_settings`` (how to reach the
server), ``vllm_client`` (``VLLMClient``: vLLM's OpenAI-compatible ``/v1/chat/completions``
with structured output, one ``httpx.AsyncClient``, a semaphore on requests in flight, one total
deadline a call) and ``llm_replies`` (reading what the server answers). Import each name from
the module that defines it.
"""

from __future__ import annotations

from collections.abc import Callable

from models.llm_protocol import LLMBackend
from models.llm_settings import LLMSettings
from models.vllm_client import VLLMClient

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
