"""A vLLM OpenAI-compatible server run as a managed child process.

vLLM lives in its own virtual environment (``scripts/prepare_vllm.sh`` builds ``.vllm/``), so
this module only spawns ``<venv>/bin/python -m vllm.entrypoints.openai.api_server`` and
talks to it over HTTP.  The child gets its own process group; ``stop()`` sends SIGTERM to the
whole group (vLLM's engine core is a grandchild), then SIGKILL after a grace period.  An
``atexit`` hook, on Linux a parent-death signal, and a small watchdog process (it outlives
a SIGKILLed parent, which neither of the others does) make sure no vLLM outlives us.

    with ManagedVLLM.from_home(port=0) as server:      # start() + wait_ready_blocking()
        print(server.base_url, server.model_name)

``python -m models.vllm_server`` runs one in the foreground until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

__all__ = ["DEFAULT_MODEL_NAME", "ManagedVLLM", "VLLMServerError", "default_vllm_home"]

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
DEFAULT_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "2",  # GiB of KV cache on CPU
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",  # the model is a local folder; never reach for a hub
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

# Without "any whitespace" a small model cannot pad its JSON with endless newlines.  The
# default backend (xgrammar) does not enforce maxLength; callers check lengths themselves.
# (backend "guidance" enforces maxLength but made SmolLM2 fill strings with "1111...".)
DEFAULT_STRUCTURED_OUTPUTS: Mapping[str, object] = {
    "backend": "xgrammar",  # disable_any_whitespace is refused with backend "auto"
    "disable_any_whitespace": True,
}

_LIVE: weakref.WeakSet[ManagedVLLM] = weakref.WeakSet()


class VLLMServerError(RuntimeError):
    """vLLM did not start, died, or did not become ready in time (message has the log tail)."""


def default_vllm_home() -> Path:
    """``$RUBRICATE_VLLM_HOME``, else ``<repo>/.vllm`` (next to this package), else ``./.vllm``."""
    env = os.environ.get("RUBRICATE_VLLM_HOME")
    if env:
        return Path(env).expanduser().resolve()
    beside_repo = Path(__file__).resolve().parents[1] / ".vllm"
    if beside_repo.exists():
        return beside_repo
    return Path.cwd() / ".vllm"


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (tests, benchmarks and a managed vLLM start on one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _set_parent_death_signal() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# Run with ``python -c`` beside the server: when the owner process is gone (killed, so no
# atexit ran, and the death signal reached only the group leader, not vLLM's engine core),
# it ends the whole group, SIGTERM then SIGKILL.  It exits by itself when the group is gone.
_WATCHDOG = """
import os, signal, sys, time
owner, group = int(sys.argv[1]), int(sys.argv[2])
def alive(pid, group=False):
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
while alive(group, True):
    if not alive(owner):
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 0.0)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                sys.exit(0)
            end = time.monotonic() + wait
            while alive(group, True) and time.monotonic() < end:
                time.sleep(0.2)
        sys.exit(0)
    time.sleep(1.0)
"""


def _start_watchdog(group: int) -> subprocess.Popen[bytes] | None:
    with contextlib.suppress(OSError):
        return subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(group)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a signal to our group must not reach it
            close_fds=True,
        )
    return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ManagedVLLM:
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
        root = Path(home) if home is not None else default_vllm_home()
        venv = Path(os.environ.get("RUBRICATE_VLLM_VENV") or root / "venv")
        model_dir = Path(
            os.environ.get("RUBRICATE_VLLM_MODEL_DIR") or root / "models" / DEFAULT_MODEL_NAME
        )
        missing = [
            str(p) for p in (venv / "bin" / "python", model_dir / "config.json") if not p.exists()
        ]
        if missing:
            raise VLLMServerError(
                f"vLLM is not prepared (missing {', '.join(missing)}); "
                "run `bash scripts/prepare_vllm.sh` (or `make vllm`)"
            )
        kwargs.setdefault("log_dir", root / "logs")
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
            # The death signal fires when the spawning *thread* ends, so only from main.
            in_main = threading.current_thread() is threading.main_thread()
            preexec = _set_parent_death_signal if in_main and sys.platform == "linux" else None
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own session and process group: pgid == pid
                preexec_fn=preexec,
                close_fds=True,
            )
            self._watchdog = _start_watchdog(self._proc.pid)
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

    def _timeout_error(self, timeout: float) -> VLLMServerError:
        return VLLMServerError(
            f"vLLM not ready after {timeout:g}s (log {self.log_path}):\n{self.log_tail()}"
        )

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
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers(), timeout=2.0
        ) as client:
            while True:
                self._check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    health = await client.get("/health")
                    if health.status_code == 200:
                        models = await client.get("/v1/models")
                        if models.status_code == 200:
                            self._mark_ready()
                            return self
                if time.monotonic() >= deadline:
                    raise self._timeout_error(timeout)
                await asyncio.sleep(interval)

    def wait_ready_blocking(self, timeout: float = 300.0, *, interval: float = 0.5) -> Self:
        """``wait_ready`` for synchronous callers (fixtures, CLI)."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, headers=self._headers(), timeout=2.0) as client:
            while True:
                self._check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    health = client.get("/health")
                    if health.status_code == 200:
                        models = client.get("/v1/models")
                        if models.status_code == 200:
                            self._mark_ready()
                            return self
                if time.monotonic() >= deadline:
                    raise self._timeout_error(timeout)
                time.sleep(interval)

    def stop(self, grace_s: float | None = None) -> int | None:
        """SIGTERM the process group, SIGKILL what is left after ``grace_s``; idempotent.

        Returns the server's exit code (``None`` if it was never started)."""
        grace = self.stop_grace_s if grace_s is None else grace_s
        with self._lock:
            proc, self._proc = self._proc, None
            _LIVE.discard(self)
            if proc is None:
                return None
            pgid = proc.pid  # start_new_session: the group id is the leader's pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
            # The engine core (a grandchild) may still be going down; give it the rest.
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _group_alive(pgid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            code = proc.wait()
            end = time.monotonic() + 5.0
            while _group_alive(pgid) and time.monotonic() < end:
                time.sleep(0.05)
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
            await asyncio.to_thread(self.stop)
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"ManagedVLLM({self.model_name!r} at {self.base_url}, pid={self.pid}, {state})"


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop(grace_s=5.0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the prepared vLLM in the foreground: ``python -m models.vllm_server [PORT]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    port = int(args[0]) if args else 8001
    server = ManagedVLLM.from_home(port=port, api_key=os.environ.get("RUBRICATE_LLM_API_KEY"))
    server.start()
    print(f"vLLM starting at {server.base_url} (log {server.log_path})", flush=True)
    try:
        server.wait_ready_blocking(300)
        print(f"vLLM ready in {server.ready_after_s:.1f}s: {server.base_url}", flush=True)
        while server.is_running:
            time.sleep(1.0)
        print(f"vLLM exited:\n{server.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
