"""A child process group that cannot outlive us: spawned in its own session with a
parent-death signal, watched by a watchdog process, ended SIGTERM-then-SIGKILL as a whole."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import IO

__all__ = ["group_alive", "spawn_group", "start_watchdog", "stop_group"]


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


def start_watchdog(group: int) -> subprocess.Popen[bytes] | None:
    """Start the watchdog of process group ``group`` (``None`` if it cannot be started)."""
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


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is left (one we may not signal counts)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def spawn_group(
    cmd: Sequence[str], *, env: Mapping[str, str], log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session and process group (pgid == pid), stdin closed and
    stdout and stderr to ``log``; on Linux, spawned from the main thread, it gets SIGTERM
    when we die."""
    # The death signal fires when the spawning *thread* ends, so only from main.
    in_main = threading.current_thread() is threading.main_thread()
    preexec = _set_parent_death_signal if in_main and sys.platform == "linux" else None
    return subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # own session and process group: pgid == pid
        preexec_fn=preexec,
        close_fds=True,
    )


def stop_group(proc: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM the group ``proc`` leads, SIGKILL what is left after ``grace`` seconds, and
    wait (up to 5 s more) for the group to be gone.  Returns the leader's exit code."""
    pgid = proc.pid  # start_new_session: the group id is the leader's pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    # The engine core (a grandchild) may still be going down; give it the rest.
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    code = proc.wait()
    end = time.monotonic() + 5.0
    while group_alive(pgid) and time.monotonic() < end:
        time.sleep(0.05)
    return code
