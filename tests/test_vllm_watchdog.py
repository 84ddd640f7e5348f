"""The managed vLLM's watchdog: a killed owner leaves no server behind (no vLLM needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from models.process_group import group_alive

ROOT = Path(__file__).resolve().parents[1]

# The owner starts a stand-in for vLLM: a group leader that ignores SIGTERM (as vLLM can
# while it loads) with a grandchild (as vLLM's engine core), then the watchdog.
OWNER = textwrap.dedent(
    """
    import subprocess, sys, time
    from models.process_group import start_watchdog
    leader = subprocess.Popen(
        [sys.executable, "-c",
         "import signal, subprocess, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "subprocess.Popen(['sleep', '300']); time.sleep(300)"],
        start_new_session=True,
    )
    start_watchdog(leader.pid)
    print(leader.pid, flush=True)
    time.sleep(300)
    """
)


def test_group_is_killed_when_owner_is_sigkilled() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    group = int(owner.stdout.readline())
    try:
        time.sleep(1.0)
        assert group_alive(group)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 30.0
        while group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not group_alive(group), "the server's group outlived its killed owner"
    finally:
        if group_alive(group):
            os.killpg(group, signal.SIGKILL)
