"""Processes for bench/scale.py: every process it starts (stopped whatever happens), the
machine's figures (peak RSS, CPU busy) and the stub LLM replicas with what they saw."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT
from bench.scale_stub import Profile
from models.vllm_setup import free_port

# ------------------------------------------------------------------ processes and cleanup


class Procs:
    """Every process this bench starts, so that all of them are stopped, whatever happens."""

    def __init__(self) -> None:
        self.live: list[subprocess.Popen[bytes]] = []

    def start(self, args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(list(args), cwd=ROOT, env=env, stdout=out, stderr=out)
        self.live.append(proc)
        return proc

    def stop(self, procs: Sequence[subprocess.Popen[bytes]], grace_s: float = 30) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc in self.live:
                self.live.remove(proc)

    def stop_all(self) -> None:
        self.stop(list(self.live), grace_s=10)


PROCS = Procs()


# ------------------------------------------------------------------ machine figures


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM), MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]  # guest is in user
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


# ------------------------------------------------------------------ stubs


@contextlib.contextmanager
def stubs(count: int, profile: Profile, tmp: Path, name: str) -> Iterator[list[str]]:
    """``count`` stub replicas in one process; their base URLs."""
    ports = [free_port() for _ in range(count)]
    args = [sys.executable, "-m", "bench.scale_stub", "--ports", *map(str, ports)]
    args += ["--fixed-ms", str(profile.fixed_ms), "--prefill-ms", str(profile.prefill_ms)]
    args += ["--decode-ms", str(profile.decode_ms), "--output-tokens", str(profile.output_tokens)]
    args += ["--slots", str(profile.slots), "--prefix-lru", str(profile.prefix_lru)]
    proc = PROCS.start(args, dict(os.environ), tmp / f"{name}.log")
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for url in urls:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"stub did not start: {(tmp / f'{name}.log').read_text()}")
                time.sleep(0.1)
        yield urls
    finally:
        PROCS.stop([proc], grace_s=5)


def stub_stats(urls: Sequence[str]) -> list[dict[str, Any]]:
    return [httpx.get(url + "/stats", timeout=10).json() for url in urls]


def reset_stubs(urls: Sequence[str]) -> None:
    for url in urls:
        httpx.post(url + "/reset", timeout=10).raise_for_status()


@dataclass
class TierFigures:
    """What the stub replicas saw."""

    calls: int
    latency_s: float  # mean modelled service time per call
    hit_rate: float  # calls whose prompt prefix was cached
    cached_share: float  # prompt tokens served from the cache
    imbalance: float  # busiest replica's calls / the mean
    queue_s: float  # mean wait for a slot


def tier(urls: Sequence[str]) -> TierFigures:
    stats = stub_stats(urls)
    calls = sum(s["requests"] for s in stats)
    prompt = sum(s["prompt_tokens"] for s in stats)
    per = [s["requests"] for s in stats]
    return TierFigures(
        calls=calls,
        latency_s=sum(s["service_s"] for s in stats) / calls if calls else 0.0,
        hit_rate=sum(s["prefix_hits"] for s in stats) / calls if calls else 0.0,
        cached_share=sum(s["cached_tokens"] for s in stats) / prompt if prompt else 0.0,
        imbalance=max(per) / (calls / len(per)) if calls else 0.0,
        queue_s=sum(s["queue_s"] for s in stats) / calls if calls else 0.0,
    )
