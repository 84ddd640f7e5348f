"""Stub LLMs: in process, scripted vLLM replies at httpx's transport (:class:`FakeVLLM`,
:class:`Replies`); and a tiny OpenAI-compatible server for scale tests,
``python -m tests.llm_stub --port N``.

The server serves ``/health``, ``/v1/models`` and ``/v1/chat/completions``; the reply follows the
request's JSON schema (every key point "missing", no misconception, short feedback), so
rubricate's LLM grader accepts it.  ``GET /stats`` tells how many chat calls it served and
the ``X-Session-ID`` header values they carried.  Run as a subprocess so a test can kill it
(:class:`Stub` starts one and waits until it answers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

if TYPE_CHECKING:  # the stub subprocess imports none of these
    import pytest

    from models.vllm_client import VLLMClient

ROOT = Path(__file__).resolve().parent.parent


def reply_for(schema: dict[str, Any]) -> dict[str, Any]:
    """The simplest object that follows a rubricate verdict schema."""
    props = schema.get("properties", {})
    key_points = props.get("key_points", {}).get("properties", {})
    misconceptions = props.get("misconceptions", {}).get("properties", {})
    return {
        "key_points": {
            k: {"verdict": "missing", "evidence": "", "reason": "stub"} for k in key_points
        },
        "misconceptions": {m: {"present": False, "evidence": ""} for m in misconceptions},
        "feedback": "Graded by the stub.",
    }


def served_model_routes(model: str, max_model_len: int) -> list[Route]:
    """What a vLLM server answers besides chat: ``/health`` and ``/v1/models``."""

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({})

    async def models(_: Request) -> JSONResponse:
        data = [{"id": model, "object": "model", "root": model, "max_model_len": max_model_len}]
        return JSONResponse({"object": "list", "data": data})

    return [Route("/health", health), Route("/v1/models", models)]


def make_app(model: str, delay_s: float) -> Starlette:
    calls: Counter[str] = Counter()

    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        calls[request.headers.get("x-session-id", "")] += 1
        await asyncio.sleep(delay_s)
        schema = body.get("response_format", {}).get("json_schema", {}).get("schema", {})
        message = {"role": "assistant", "content": json.dumps(reply_for(schema))}
        return JSONResponse(
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse({"calls": sum(calls.values()), "keys": dict(calls)})

    return Starlette(
        routes=[
            *served_model_routes(model, max_model_len=2048),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/stats", stats),
        ]
    )


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args!r} exited with {proc.returncode}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout:g}s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Terminated, killed if still running after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Stub:
    """This stub as a subprocess on a loopback port (a free one unless given)."""

    def __init__(self, model: str, *, delay_s: float, port: int | None = None) -> None:
        from models.vllm_setup import free_port

        self.model, self.delay_s = model, delay_s
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        args = ["--port", str(self.port), "--model", self.model, "--delay", str(self.delay_s)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.llm_stub", *args], cwd=ROOT, stdout=subprocess.DEVNULL
        )
        wait_http(self.url + "/health", proc)
        return proc

    def restart(self) -> None:
        """Started again on the same port (after :func:`stop` or a kill)."""
        stop(self.proc)
        self.proc = self._start()

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/stats", timeout=5).json())


# -- in process: scripted replies at httpx's transport ----------------------------------------
Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
Reply = Callable[[dict[str, Any]], str | None]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["met", "not_met"]}},
    "required": ["verdict"],
    "additionalProperties": False,
}
MESSAGES = [{"role": "system", "content": "Grade."}, {"role": "user", "content": "answer"}]


def completion(content: str, finish_reason: str = "stop") -> httpx.Response:
    """vLLM's chat completion carrying ``content``."""
    choice = {"index": 0, "message": {"role": "assistant", "content": content}}
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "m",
            "choices": [{**choice, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
        },
    )


def chat(content: str) -> httpx.Response:
    """A completion; cut off at max_tokens when ``content`` starts ``{"key_points": {"cut``."""
    return completion(content, "length" if content.startswith('{"key_points": {"cut') else "stop")


class FakeVLLM:
    """Scripted vLLM replies (``None``: hang), each chat taking ``delay_s``; ``calls`` records
    every chat request body."""

    def __init__(self, reply: Reply, delay_s: float = 0.0) -> None:
        self.reply, self.delay_s = reply, delay_s
        self.calls: list[dict[str, Any]] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "fake-model"}]})
        await asyncio.sleep(self.delay_s)
        body = json.loads(request.content)
        self.calls.append(body)
        content = self.reply(body)
        if content is None:
            await asyncio.sleep(3600)
        return chat(content or "")


class Replies:
    """A handler answering the n-th call with the n-th of ``replies``, the last one from then
    on (a copy of that response, or that transport error raised); ``calls`` counts the calls."""

    def __init__(self, *replies: httpx.Response | type[httpx.TransportError]) -> None:
        self.replies = replies
        self.calls = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        if isinstance(reply, type):
            raise reply("connection refused", request=request)
        return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)


def fake_client(fake: FakeVLLM, **settings: Any) -> VLLMClient:
    """A VLLMClient of model "fake-model" that ``fake`` answers (``settings``: LLMSettings)."""
    from models.llm_settings import LLMSettings
    from models.vllm_client import VLLMClient

    values: dict[str, Any] = {"base_url": "http://vllm.test", "model": "fake-model", **settings}
    return VLLMClient(LLMSettings(**values), transport=httpx.MockTransport(fake.handle))


def make_client(handler: Handler, **overrides: Any) -> VLLMClient:
    """A VLLMClient for model ``m`` whose requests ``handler`` answers; quick back-off."""
    from models.llm_settings import LLMSettings
    from models.vllm_client import VLLMClient

    values: dict[str, Any] = {
        "base_url": "http://llm.test/v1/",
        "model": "m",
        "timeout_s": 2.0,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    }
    values.update(overrides)
    return VLLMClient(LLMSettings(**values), transport=httpx.MockTransport(handler))


async def call(client: VLLMClient) -> dict[str, Any]:
    from models.llm_protocol import JsonRequest

    return await client.complete_json(JsonRequest(MESSAGES, SCHEMA, name="verdict", max_tokens=32))


async def call_fails(
    handler: Handler, error: type[Exception], match: str | None = None, **overrides: Any
) -> pytest.ExceptionInfo[Exception]:
    """What one call raises, as it must, through ``make_client(handler, **overrides)``."""
    import pytest

    async with make_client(handler, **overrides) as client:
        with pytest.raises(error, match=match) as info:
            await call(client)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per chat reply")
    args = parser.parse_args()
    app = make_app(args.model, args.delay)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
