"""Why a launch or an LTI request was refused; each maps to a problem+json status."""

from __future__ import annotations

from graders.core.errors import RubricateError


class LtiError(RubricateError):
    title = "LTI request refused"


class InvalidLaunch(LtiError):
    """The id_token failed validation: signature, issuer, audience, expiry, nonce, state."""

    title = "Invalid LTI launch"


class UnknownPlatform(LtiError):
    title = "Unknown LTI platform"


class UnknownDeployment(LtiError):
    title = "Unknown LTI deployment"


class InvalidSession(LtiError):
    """A launch session token that is missing, expired, or used outside its launch."""

    title = "Invalid LTI session"


class PlatformNotFound(LtiError):
    title = "No such LTI platform"


STATUSES: dict[type[RubricateError], int] = {
    LtiError: 400,
    InvalidLaunch: 401,
    UnknownPlatform: 403,
    UnknownDeployment: 403,
    InvalidSession: 401,
    PlatformNotFound: 404,
}
