"""A tiny OpenAI-compatible LLM server for scale tests: ``python -m tests.llm_stub --port N``.

Serves ``/health``, ``/v1/models`` and ``/v1/chat/completions``; the reply follows the
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
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

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


def make_app(model: str, delay_s: float) -> Starlette:
    calls: Counter[str] = Counter()

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({})

    async def models(_: Request) -> JSONResponse:
        data = [{"id": model, "object": "model", "root": model, "max_model_len": 2048}]
        return JSONResponse({"object": "list", "data": data})

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
            Route("/health", health),
            Route("/v1/models", models),
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


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Stub:
    """This stub as a subprocess on a loopback port (a free one unless given)."""

    def __init__(self, model: str, *, delay_s: float, port: int | None = None) -> None:
        from models.vllm_server import free_port

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
