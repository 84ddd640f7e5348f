"""Validating an LTI 1.3 id_token: signature against the platform's JWKS, iss, aud, exp,
nonce not replayed and bound to our login state, deployment registered."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from app.lti.errors import InvalidLaunch, UnknownDeployment, UnknownPlatform
from app.lti.models import Platform
from app.lti.store import LtiStore

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
LEEWAY_S = 30


class JwksCache:
    """Platform keysets by URL, refreshed after ``ttl`` or when a kid is not found."""

    def __init__(self, http: httpx.AsyncClient, ttl: float = 600) -> None:
        self.http = http
        self.ttl = ttl
        self._sets: dict[str, tuple[float, dict[str, Any]]] = {}

    async def _fetch(self, url: str) -> dict[str, Any]:
        try:
            response = await self.http.get(url, timeout=10)
            response.raise_for_status()
            data: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise InvalidLaunch(f"Could not fetch the platform's JWKS at {url}: {exc}") from exc
        self._sets[url] = (time.monotonic(), data)
        return data

    async def key(self, url: str, kid: str | None) -> jwt.PyJWK:
        cached = self._sets.get(url)
        fresh = cached is None or time.monotonic() - cached[0] > self.ttl
        data = await self._fetch(url) if fresh or cached is None else cached[1]
        found = _find(data, kid)
        if found is None and not fresh:
            found = _find(await self._fetch(url), kid)
        if found is None:
            raise InvalidLaunch(f"The platform's JWKS has no key with kid {kid!r}.")
        return found


def _find(data: dict[str, Any], kid: str | None) -> jwt.PyJWK | None:
    keys = [k for k in data.get("keys", []) if isinstance(k, dict)]
    for k in keys:
        if (kid is None and len(keys) == 1) or k.get("kid") == kid:
            try:
                return jwt.PyJWK(k, algorithm="RS256")
            except jwt.PyJWTError:
                return None
    return None


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidLaunch(f"The id_token is not a readable JWT: {exc}") from exc
    return header, claims


def _client_id(claims: dict[str, Any]) -> str | None:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return aud
    if isinstance(aud, list) and aud:
        azp = claims.get("azp")
        return azp if isinstance(azp, str) and azp in aud else str(aud[0])
    return None


async def validate_id_token(
    token: str, state: str, store: LtiStore, jwks: JwksCache
) -> tuple[Platform, dict[str, Any]]:
    """The platform and the verified claims, or an LtiError saying exactly what failed."""
    header, raw = unverified(token)
    issuer = raw.get("iss")
    if not isinstance(issuer, str):
        raise InvalidLaunch("The id_token has no issuer (iss).")
    client_id = _client_id(raw)
    candidates = [p for p, _ in store.platforms() if p.issuer == issuer]
    if not candidates:
        raise UnknownPlatform(f"No LTI platform is registered with issuer {issuer!r}.")
    # With no client_id match, verify against the issuer's registration anyway, so a token
    # signed by the platform but meant for another tool is refused as a wrong audience.
    platform = next((p for p in candidates if p.client_id == client_id), candidates[0])
    key = await jwks.key(platform.jwks_url, header.get("kid"))
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_S,
            options={"require": ["iss", "aud", "exp", "iat", "nonce"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise InvalidLaunch(
            "Bad signature: the id_token does not verify against the platform's JWKS."
        ) from exc
    except jwt.ExpiredSignatureError as exc:
        raise InvalidLaunch("The id_token has expired (exp is in the past).") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidLaunch(
            f"Wrong audience: the id_token is not for client_id {platform.client_id!r}."
        ) from exc
    except jwt.PyJWTError as exc:
        raise InvalidLaunch(f"The id_token is not valid: {exc}") from exc
    aud = claims["aud"]
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != platform.client_id:
        raise InvalidLaunch("Wrong audience: several audiences and azp is not our client_id.")
    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in platform.deployment_ids:
        raise UnknownDeployment(
            f"Deployment {deployment!r} is not registered for {platform.issuer}; "
            "an administrator must add it to the platform's deployment_ids."
        )
    if claims.get(CLAIM + "version") != "1.3.0":
        raise InvalidLaunch("Only LTI version 1.3.0 launches are accepted.")
    if claims.get(CLAIM + "message_type") not in (RESOURCE_LINK, DEEP_LINKING):
        raise InvalidLaunch(f"Unsupported message type {claims.get(CLAIM + 'message_type')!r}.")
    nonce = str(claims["nonce"])
    if not store.use_nonce(nonce, platform.issuer):
        raise InvalidLaunch("Replayed launch: this id_token's nonce was already used.")
    login = store.take_state(state)
    if login is None:
        raise InvalidLaunch("Unknown or expired state: start the launch from the LMS again.")
    if login[0] != nonce or login[1] != platform.issuer:
        raise InvalidLaunch("The id_token's nonce does not belong to this login (state).")
    return platform, claims
