"""The errors the LLM backend raises: ours, never httpx's, all subclasses of ``LLMError``."""

from __future__ import annotations

__all__ = ["LLMBadResponse", "LLMError", "LLMRejected", "LLMTimeout", "LLMUnavailable"]


class LLMError(Exception):
    """Base of every error the LLM backend raises."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class LLMUnavailable(LLMError):
    """The server cannot be reached, or keeps answering 429/5xx after the retries."""


class LLMRejected(LLMUnavailable):
    """The server refused the request with a 4xx (bad key, unknown model, prompt too long)."""


class LLMTimeout(LLMError):
    """The call's total deadline (``LLMSettings.timeout_s``) passed."""


class LLMBadResponse(LLMError):
    """The reply is not a JSON object (or not an OpenAI chat completion at all)."""

    def __init__(
        self,
        message: str,
        *,
        raw: str = "",
        status_code: int | None = None,
        truncated: bool = False,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.raw = raw
        self.truncated = truncated
        """The reply hit max_tokens: asking again the same way gives the same cut-off."""
