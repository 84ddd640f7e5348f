"""Why a launch or an LTI request was refused; each maps to a problem+json status, its
``status`` (STATUSES hands them to app/problems.py)."""

from __future__ import annotations

from graders.core.errors import RubricateError


class LtiError(RubricateError):
    title = "LTI request refused"
    status = 400


class InvalidLaunch(LtiError):
    """The id_token failed validation: signature, issuer, audience, expiry, nonce, state."""

    title, status = "Invalid LTI launch", 401


class UnknownPlatform(LtiError):
    title, status = "Unknown LTI platform", 403


class UnknownDeployment(LtiError):
    title, status = "Unknown LTI deployment", 403


class InvalidSession(LtiError):
    """A launch session token that is missing, expired, or used outside its launch."""

    title, status = "Invalid LTI session", 401


class PlatformNotFound(LtiError):
    title, status = "No such LTI platform", 404


STATUSES: dict[type[RubricateError], int] = {
    error: error.status
    for error in (
        LtiError,
        InvalidLaunch,
        UnknownPlatform,
        UnknownDeployment,
        InvalidSession,
        PlatformNotFound,
    )
}
