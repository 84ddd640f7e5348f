"""What the LTI store keeps: platform registrations, launch sessions, passbacks, holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field


class Platform(BaseModel):
    """An LMS registration: the values the LMS shows when rubricate is added to it."""

    issuer: str = Field(min_length=1, examples=["https://canvas.instructure.com"])
    client_id: str = Field(min_length=1)
    auth_login_url: str = Field(min_length=1, description="The platform's OIDC auth endpoint.")
    auth_token_url: str = Field(min_length=1, description="OAuth2 token endpoint (AGS).")
    jwks_url: str = Field(min_length=1, description="The platform's public keyset URL.")
    deployment_ids: list[str] = Field(min_length=1)
    name: str = ""


class Session(BaseModel):
    """What one launch may do: grade one question as one user, or answer one deep link."""

    kind: str
    issuer: str
    client_id: str
    deployment_id: str
    user_id: str | None = None
    lesson_id: str | None = None
    question_id: str | None = None
    lineitem: str | None = None
    deep_link_return_url: str | None = None
    deep_link_data: Any = None  # opaque: echoed back as the platform sent it


@dataclass
class Passback:
    id: int
    issuer: str
    client_id: str
    lineitem: str
    score: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None


@dataclass
class Hold:
    """A launch's grade, kept back from the LMS until its LLM pass settles or ``due_at``."""

    grade_id: str
    issuer: str
    client_id: str
    lineitem: str
    user_id: str
    due_at: float
