"""How to reach the LLM server: ``LLMSettings``, the validated, frozen connection settings."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_settings import NoDecode

__all__ = ["LLMSettings", "URLList", "parse_url_list"]


def parse_url_list(value: Any) -> Any:
    """A list of server URLs from the environment: a JSON list or comma-separated."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _check_urls(urls: list[str]) -> list[str]:
    for url in urls:
        if not url.strip().startswith(("http://", "https://")):
            raise ValueError(f"{url!r}: a server URL must start with http:// or https://")
    return [url.strip() for url in urls]


URLList = Annotated[
    list[str], NoDecode, BeforeValidator(parse_url_list), AfterValidator(_check_urls)
]
"""Server URLs; ``RUBRICATE_LLM_URLS=http://a:8000,http://b:8000`` or a JSON list."""


class LLMSettings(BaseModel):
    """How to reach the LLM server.  Plain pydantic model; the app's settings nest it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str = "vllm"
    base_url: str = "http://127.0.0.1:8001"
    """Server root, e.g. ``http://vllm:8000``; a trailing ``/v1`` is accepted and dropped."""
    model: str = "smollm2-135m-instruct"
    """The served model name (vLLM ``--served-model-name``)."""
    api_key: str | None = None
    """Sent as ``Authorization: Bearer ...`` when set (vLLM ``--api-key``)."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Total time one ``complete_json`` may take: queueing, every attempt and back-off."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_concurrency: int = Field(default=8, ge=1)
    max_retries: int = Field(default=2, ge=0)
    """Extra attempts after the first, on 408/429/5xx, connection errors and attempt time-outs."""
    backoff_base_s: float = Field(default=0.25, ge=0)
    backoff_max_s: float = Field(default=4.0, ge=0)
    ready_timeout_s: float = Field(default=2.0, gt=0)
    temperature: float = Field(default=0.0, ge=0)
    seed: int | None = None
    route_header: str | None = None
    """Send each call's routing key in this header, e.g. ``X-Session-ID`` for vllm-router's
    ``consistent_hash`` policy (unset: the key is not sent)."""

    @field_validator("base_url")
    @classmethod
    def _strip_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value.endswith("/v1"):
            value = value[: -len("/v1")]
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value
