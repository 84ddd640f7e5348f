"""A vLLM OpenAI-compatible server run as a managed child process.

vLLM lives in its own virtual environment (``scripts/prepare_vllm.sh`` builds ``.vllm/``), so
this module only spawns ``<venv>/bin/python -m vllm.entrypoints.openai.api_server`` and
talks to it over HTTP.  The child gets its own process group; ``stop()`` sends SIGTERM to the
whole group (vLLM's engine core is a grandchild), then SIGKILL after a grace period.  An
``atexit`` hook, on Linux a parent-death signal, and a small watchdog process (it outlives
a SIGKILLed parent, which neither of the others does) make sure no vLLM outlives us.

    with ManagedVLLM.from_home(port=0) as server:      # start() + wait_ready_blocking()
        print(server.base_url, server.model_name)

This module is only that command: ``python -m models.vllm_server`` runs one in the foreground
until Ctrl-C. The parts live beside it, each imported from where it is defined:
``vllm_setup`` (folders, defaults, ports, the error), ``process_group`` (spawning, watching
and ending the process group), ``vllm_readiness`` (waiting until it serves) and
``managed_vllm`` (``ManagedVLLM``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from models.managed_vllm import ManagedVLLM


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
