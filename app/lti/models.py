"""What the LTI store keeps: platform registrations, launch sessions, passbacks, holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

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
    """A launch's session: who launched, from which platform and deployment."""

    KIND: ClassVar[str]
    issuer: str
    client_id: str
    deployment_id: str
    user_id: str | None = None  # LTI's ``sub``; absent where the platform launches anonymously


class ResourceSession(Session):
    """A resource link launch: it may grade one question as one user."""

    KIND = "resource"
    lesson_id: str
    question_id: str
    lineitem: str | None = None  # the AGS line item; None where the link is not graded


class DeepLinkSession(Session):
    """A deep linking launch: it may answer the platform once, with the teacher's choice."""

    KIND = "deep_link"
    deep_link_return_url: str
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
