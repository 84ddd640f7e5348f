"""API keys for teacher-only endpoints: hashed with scrypt, checked by ``require_teacher``.

Keys travel as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. The service only
knows their hashes (``RUBRICATE_API_KEYS``, comma-separated; make one with
``rubricate keys create``). With no keys configured, teacher endpoints answer loopback
clients only: a fresh install works on a laptop and refuses the rest of the network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from typing import Annotated

import typer
from fastapi import Depends, Request

from app.settings import Settings
from graders.core.errors import RubricateError

PREFIX = "scrypt"
N, R, P = 2**14, 8, 1


class NotAuthenticated(RubricateError):
    title = "Authentication required"


class Forbidden(RubricateError):
    title = "Forbidden"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_key(key: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash``: what goes into ``RUBRICATE_API_KEYS``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(key.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"{PREFIX}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_key(key: str, hashed: str) -> bool:
    try:
        prefix, n, r, p, salt, digest = hashed.strip().split("$")
        if prefix != PREFIX:
            return False
        want = _unb64(digest)
        got = hashlib.scrypt(
            key.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(want)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def new_key() -> str:
    return "rk_" + secrets.token_urlsafe(32)


def configured_hashes(settings: Settings) -> list[str]:
    return [h.strip() for h in settings.api_keys.split(",") if h.strip()]


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class KeyChecker:
    """Verifies keys against the hashes; a key already verified is remembered by its SHA-256,
    so scrypt's deliberate cost is paid once per key and process, not per request."""

    def __init__(self, hashes: list[str]) -> None:
        self.hashes = hashes
        self._known: dict[str, bool] = {}

    def check(self, key: str) -> bool:
        fingerprint = hashlib.sha256(key.encode()).hexdigest()
        if fingerprint not in self._known:
            if len(self._known) > 1024:
                self._known.clear()
            self._known[fingerprint] = any(verify_key(key, h) for h in self.hashes)
        return self._known[fingerprint]


def _checker(request: Request) -> KeyChecker:
    checker: KeyChecker | None = getattr(request.app.state, "key_checker", None)
    if checker is None:
        checker = KeyChecker(configured_hashes(request.app.state.settings))
        request.app.state.key_checker = checker
    return checker


async def require_teacher(request: Request) -> str:
    """Dependency for teacher-only routes; returns who was let in ("key" or "loopback")."""
    checker = _checker(request)
    key = presented_key(request)
    if not checker.hashes:
        host = request.client.host if request.client else None
        if is_loopback(host):
            return "loopback"
        raise Forbidden(
            "No API keys are configured, so teacher endpoints answer loopback clients only. "
            "Create one with `rubricate keys create` and set RUBRICATE_API_KEYS."
        )
    if key is None:
        raise NotAuthenticated(
            "This endpoint needs a teacher API key: send 'Authorization: Bearer <key>'."
        )
    if not checker.check(key):
        raise NotAuthenticated("The API key is not valid.")
    return "key"


TeacherDep = Annotated[str, Depends(require_teacher)]

keys_cli = typer.Typer(help="Teacher API keys.", no_args_is_help=True)


@keys_cli.command("create")
def create_key() -> None:
    """Print a new API key (give it to the teacher) and its hash (put it in RUBRICATE_API_KEYS)."""
    key = new_key()
    typer.echo(f"key:  {key}")
    typer.echo(f"hash: {hash_key(key)}")
    typer.echo("Add the hash to RUBRICATE_API_KEYS (comma-separated); the key is not stored.")
