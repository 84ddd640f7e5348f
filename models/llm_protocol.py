"""The protocols an LLM backend meets: ``LLMClient`` for graders, ``LLMBackend`` for the app."""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

__all__ = ["ClosesOnExit", "JSONObject", "JsonRequest", "LLMBackend", "LLMClient", "Messages"]

Messages = list[dict[str, str]]
JSONObject = dict[str, Any]


@dataclass(frozen=True)
class JsonRequest:
    """One call for a JSON object: chat ``messages`` and the ``schema`` the reply follows.

    ``name`` names the schema (and the call, in errors); ``max_tokens`` caps the reply.
    ``route_key`` (optional, e.g. ``lesson/question``): calls with the same key share a
    prompt prefix, so backends with several servers send them to the same few."""

    messages: Messages
    schema: dict[str, Any]
    name: str
    max_tokens: int
    route_key: str | None = None

    def routed(self, route_key: str | None) -> JsonRequest:
        """The same request under another ``route_key``."""
        return replace(self, route_key=route_key)


@runtime_checkable
class LLMClient(Protocol):
    """What graders need: one JSON object that follows ``schema``."""

    async def complete_json(self, request: JsonRequest) -> JSONObject:
        """Send the request's chat messages; return the reply parsed as a JSON object."""
        ...


@runtime_checkable
class LLMBackend(LLMClient, Protocol):
    """An ``LLMClient`` the app also owns: readiness probe and shutdown."""

    name: str

    async def ready(self) -> tuple[bool, str]: ...

    async def aclose(self) -> None: ...


class ClosesOnExit:
    """A client used as ``async with client: ...``: leaving the block awaits ``aclose``."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        raise NotImplementedError
