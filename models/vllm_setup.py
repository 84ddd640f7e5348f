"""How the local vLLM is set up: the folders ``scripts/prepare_vllm.sh`` makes, the default
model name, environment and structured-output config, a free port to serve on, and
``VLLMServerError`` for a vLLM that is not prepared or will not run."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "DEFAULT_ENV",
    "DEFAULT_MODEL_NAME",
    "DEFAULT_STRUCTURED_OUTPUTS",
    "VLLMServerError",
    "default_vllm_home",
    "free_port",
    "prepared_vllm",
]

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


def prepared_vllm(home: str | os.PathLike[str] | None = None) -> tuple[Path, Path, Path]:
    """``(venv, model_dir, log_dir)`` of the vLLM prepared under ``home`` (default
    ``default_vllm_home()``); ``RUBRICATE_VLLM_VENV`` and ``RUBRICATE_VLLM_MODEL_DIR``
    override the first two.  ``VLLMServerError`` if its python or model is missing."""
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
    return venv, model_dir, root / "logs"


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (tests, benchmarks and a managed vLLM start on one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
