"""The registry of LLM backends: ``LLM_CLIENTS`` by name, and ``llm_factory`` to pick one.

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


def llm_factory(backend: str) -> Callable[[LLMSettings], LLMBackend]:
    """What builds the backend named ``backend``; a clear error for a name not registered."""
    try:
        return LLM_CLIENTS[backend]
    except KeyError:
        raise ValueError(f"unknown LLM backend {backend!r}; known: {sorted(LLM_CLIENTS)}") from None
