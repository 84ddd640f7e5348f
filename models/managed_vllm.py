"""``ManagedVLLM``: one vLLM OpenAI-compatible server that this Python process starts,
waits for and stops, configured from the layout ``scripts/prepare_vllm.sh`` makes.

It spawns ``<venv>/bin/python -m vllm.entrypoints.openai.api_server`` as its own process
group (see ``models.process_group``), logs to a file, and an ``atexit`` hook stops every
server still running.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypeVar

from models.llm_protocol import ClosesOnExit
from models.process_group import spawn_group, start_watchdog, stop_group
from models.vllm_readiness import poll_until_ready, poll_until_ready_blocking
from models.vllm_setup import (
    DEFAULT_ENV,
    DEFAULT_MODEL_NAME,
    DEFAULT_STRUCTURED_OUTPUTS,
    VLLMServerError,
    free_port,
    prepared_vllm,
)

__all__ = ["ManagedVLLM"]

_LIVE: weakref.WeakSet[ManagedVLLM] = weakref.WeakSet()
T = TypeVar("T")


class ManagedVLLM(ClosesOnExit):
    """One vLLM server process (group) that this Python process owns."""

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        *,
        python: str | os.PathLike[str] | None = None,
        venv: str | os.PathLike[str] | None = None,
        served_model_name: str = DEFAULT_MODEL_NAME,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        max_model_len: int = 4096,  # a 5,000-character answer plus the rubric fits
        enforce_eager: bool = True,
        structured_outputs: Mapping[str, object] | None = DEFAULT_STRUCTURED_OUTPUTS,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        stop_grace_s: float = 15.0,
    ) -> None:
        self.model_dir = Path(model_dir)
        if python is not None:
            self.python = Path(python)
        elif venv is not None:
            self.python = Path(venv) / "bin" / "python"
        else:
            self.python = Path(sys.executable)
        self.model_name = served_model_name
        self.host = host
        self.port = port
        self.api_key = api_key
        self.max_model_len = max_model_len
        self.enforce_eager = enforce_eager
        self.structured_outputs = dict(structured_outputs) if structured_outputs else None
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self._log_path = Path(log_path) if log_path is not None else None
        self.log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.gettempdir())
        self.stop_grace_s = stop_grace_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()
        self.started_at: float | None = None
        self.ready_after_s: float | None = None

    @classmethod
    def from_home(cls, home: str | os.PathLike[str] | None = None, **kwargs: object) -> Self:
        """The layout ``scripts/prepare_vllm.sh`` makes: ``venv/`` and ``models/<name>/``.

        Honours ``RUBRICATE_VLLM_HOME``, ``RUBRICATE_VLLM_VENV`` and
        ``RUBRICATE_VLLM_MODEL_DIR``; logs go to ``<home>/logs/``.  Other keyword arguments
        go to the constructor.
        """
        venv, model_dir, log_dir = prepared_vllm(home)
        kwargs.setdefault("log_dir", log_dir)
        return cls(model_dir, venv=venv, **kwargs)  # type: ignore[arg-type]

    # -- facts

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        if self._log_path is None:
            name = f"rubricate-vllm-{os.getpid()}-{self.port or 'unstarted'}.log"
            self._log_path = self.log_dir / name
        return self._log_path

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        cmd = [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", self.model_name,
            "--host", self.host,
            "--port", str(self.port),
            "--max-model-len", str(self.max_model_len),
        ]  # fmt: skip
        if self.enforce_eager:
            cmd.append("--enforce-eager")
        if self.structured_outputs:
            cmd += ["--structured-outputs-config", json.dumps(self.structured_outputs)]
        if self.api_key:
            cmd += ["--api-key", self.api_key]
        return cmd + self.extra_args

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 64_000))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle

    def start(self) -> Self:
        """Spawn the server (no-op if it runs); returns at once, see ``wait_ready``."""
        with self._lock:
            if self.is_running:
                return self
            if not self.python.exists():
                raise VLLMServerError(f"no python at {self.python}; run scripts/prepare_vllm.sh")
            if not self.model_dir.is_dir():
                raise VLLMServerError(f"no model folder {self.model_dir}")
            if self.port == 0:
                self.port = free_port(self.host)
            env = {**os.environ, **DEFAULT_ENV, **self.env}
            env.pop("PYTHONPATH", None)  # our venv's packages must not leak into vLLM's
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
            self._log.write(f"$ {' '.join(self.command())}\n".encode())
            self._log.flush()
            self._proc = spawn_group(self.command(), env=env, log=self._log)
            self._watchdog = start_watchdog(self._proc.pid)
            self.started_at = time.monotonic()
            self.ready_after_s = None
            _LIVE.add(self)
            return self

    def _check_alive(self) -> None:
        if self._proc is None:
            raise VLLMServerError("vLLM was not started")
        code = self._proc.poll()
        if code is not None:
            raise VLLMServerError(
                f"vLLM exited with code {code} (log {self.log_path}):\n{self.log_tail()}"
            )

    def _mark_ready(self) -> None:
        if self.ready_after_s is None and self.started_at is not None:
            self.ready_after_s = time.monotonic() - self.started_at

    def _poll_ready(self, poll: Callable[..., T], timeout: float, interval: float) -> T:
        """``poll`` (poll_until_ready, or its blocking twin) of this server's readiness."""
        return poll(
            self.base_url,
            self._headers(),
            timeout=timeout,
            interval=interval,
            check_alive=self._check_alive,
            on_ready=self._mark_ready,
        )

    def _ready_or_raise(self, ready: bool, timeout: float) -> Self:
        if not ready:
            raise VLLMServerError(
                f"vLLM not ready after {timeout:g}s (log {self.log_path}):\n{self.log_tail()}"
            )
        return self

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def wait_ready(
        self,
        timeout: float = 300.0,  # noqa: ASYNC109 - a deadline for polling, not one await
        *,
        interval: float = 0.5,
    ) -> Self:
        """Poll ``/health`` then ``/v1/models`` until both answer 200; raise VLLMServerError
        with the log tail if the process dies or ``timeout`` passes."""
        ready = await self._poll_ready(poll_until_ready, timeout, interval)
        return self._ready_or_raise(ready, timeout)

    def wait_ready_blocking(self, timeout: float = 300.0, *, interval: float = 0.5) -> Self:
        """``wait_ready`` for synchronous callers (fixtures, CLI)."""
        ready = self._poll_ready(poll_until_ready_blocking, timeout, interval)
        return self._ready_or_raise(ready, timeout)

    def stop(self, grace_s: float | None = None) -> int | None:
        """SIGTERM the process group, SIGKILL what is left after ``grace_s``; idempotent.

        Returns the server's exit code (``None`` if it was never started)."""
        grace = self.stop_grace_s if grace_s is None else grace_s
        with self._lock:
            proc, self._proc = self._proc, None
            _LIVE.discard(self)
            if proc is None:
                return None
            code = stop_group(proc, grace)
            watchdog, self._watchdog = self._watchdog, None
            if watchdog is not None:  # it would exit within a second; reap it now
                watchdog.kill()
                watchdog.wait()
            if self._log is not None:
                self._log.close()
                self._log = None
            return code

    def __enter__(self) -> Self:
        self.start()
        try:
            return self.wait_ready_blocking()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        self.start()
        try:
            return await self.wait_ready()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """``stop`` off the event loop (leaving ``async with`` calls it)."""
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"ManagedVLLM({self.model_name!r} at {self.base_url}, pid={self.pid}, {state})"


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop(grace_s=5.0)
