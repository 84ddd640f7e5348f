"""API keys (hashed), teacher-only endpoints, loopback default, rate limits, CORS, CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from typer.testing import CliRunner

from app.auth import hash_key, verify_key
from app.cli import cli
from app.factory import create_app
from app.ratelimit import TokenBuckets
from tests import conftest

ADMIN = "/v1/admin/lessons/demo-photosynthesis"


def call(
    app: object, method: str, path: str, client: str = "127.0.0.1", **kw: object
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client, 5555))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.request(method, path, **kw)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_hash_and_verify() -> None:
    hashed = hash_key("secret-key")
    assert hashed.startswith("scrypt$") and "secret-key" not in hashed
    assert verify_key("secret-key", hashed)
    assert not verify_key("other", hashed)
    assert not verify_key("secret-key", "garbage")


def test_teacher_endpoints_need_a_key_when_keys_are_configured(tmp_path: Path) -> None:
    settings = conftest.make_settings(tmp_path, api_keys=hash_key("k1") + "," + hash_key("k2"))
    app = create_app(settings)
    missing = call(app, "GET", ADMIN)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = call(app, "GET", ADMIN, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    ok = call(app, "GET", ADMIN, headers={"Authorization": "Bearer k2"})
    assert ok.status_code == 200 and ok.json()["questions"][0]["reference_answer"]
    assert call(app, "GET", ADMIN, headers={"X-API-Key": "k1"}).status_code == 200
    admin = call(app, "GET", "/v1/lti/platforms", client="10.1.2.3")
    assert admin.status_code == 401
    for method, path in [
        ("PUT", "/v1/grades/abc/review"),
        ("GET", "/v1/review?lesson_id=demo-photosynthesis"),
        ("GET", "/v1/agreement?lesson_id=demo-photosynthesis"),
        ("POST", "/v1/questions/demo-photosynthesis/q1/regrade"),
        ("DELETE", "/v1/students/s1"),
        ("GET", "/v1/grades/abc/history"),
    ]:
        assert call(app, method, path, json={"label": "correct"}).status_code == 401, path
    # Student endpoints stay open.
    assert call(app, "GET", "/v1/lessons").status_code == 200


def test_without_keys_teacher_endpoints_are_loopback_only(tmp_path: Path) -> None:
    app = create_app(conftest.make_settings(tmp_path))
    assert call(app, "GET", ADMIN).status_code == 200
    remote = call(app, "GET", ADMIN, client="203.0.113.9")
    assert remote.status_code == 403
    assert "loopback" in remote.json()["detail"]


def test_rate_limit_per_address_and_per_key(tmp_path: Path) -> None:
    settings = conftest.make_settings(
        tmp_path, rate_limit_per_minute=60, rate_limit_key_per_minute=60, rate_limit_burst=2
    )
    app = create_app(settings)
    for _ in range(2):
        assert call(app, "GET", "/v1/lessons", client="198.51.100.1").status_code == 200
    limited = call(app, "GET", "/v1/lessons", client="198.51.100.1")
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["title"] == "Too many requests"
    # Another address has its own bucket; health checks are never limited.
    assert call(app, "GET", "/v1/lessons", client="198.51.100.2").status_code == 200
    assert call(app, "GET", "/healthz", client="198.51.100.1").status_code == 200
    # One key used from many addresses is limited as one.
    key = {"Authorization": "Bearer shared"}
    codes = [
        call(app, "GET", "/v1/lessons", client=f"192.0.2.{i}", headers=key).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_token_bucket_refills() -> None:
    buckets = TokenBuckets(per_minute=60, burst=1)
    assert buckets.take("a", now=0.0) == 0
    assert buckets.take("a", now=0.1) > 0.5
    assert buckets.take("a", now=1.2) == 0


def test_cors_allow_list(tmp_path: Path) -> None:
    app = create_app(conftest.make_settings(tmp_path, cors_origins="https://school.example"))
    headers = {"Origin": "https://school.example", "Access-Control-Request-Method": "POST"}
    allowed = call(app, "OPTIONS", "/v1/grade", headers=headers)
    assert allowed.headers["access-control-allow-origin"] == "https://school.example"
    other = call(app, "OPTIONS", "/v1/grade", headers={**headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_keys_create_cli() -> None:
    result = CliRunner().invoke(cli, ["keys", "create"])
    assert result.exit_code == 0
    lines = dict(
        line.split(":  ", 1) if ":  " in line else line.split(": ", 1)
        for line in result.output.splitlines()
        if line.startswith(("key:", "hash:"))
    )
    assert verify_key(lines["key"].strip(), lines["hash"].strip())
