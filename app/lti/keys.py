"""The tool's own RSA key: signs deep-linking responses and client assertions; published
as a JWKS so platforms can verify them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint, used as the key id."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class ToolKey:
    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        public = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        self.kid = _thumbprint(public)
        self.public_jwk: dict[str, Any] = {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}

    @classmethod
    def from_pem(cls, pem: bytes, where: str) -> ToolKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{where}: the LTI tool key must be an RSA private key")
        return cls(key)

    @staticmethod
    def new_pem() -> bytes:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def load_or_create(cls, path: Path) -> ToolKey:
        """Read the PEM at ``path``; the first run generates one (mode 0600)."""
        if path.exists():
            return cls.from_pem(path.read_bytes(), str(path))
        pem = cls.new_pem()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return cls.from_pem(pem, str(path))

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {"keys": [self.public_jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def client_assertion(self, client_id: str, token_url: str) -> str:
        """The signed JWT of the client-credentials grant (IMS Security Framework 4.1)."""
        now = int(time.time())
        return self.sign(
            {
                "iss": client_id,
                "sub": client_id,
                "aud": token_url,
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            }
        )
