"""Soak: a class of 32 for ten minutes, vLLM killed and restarted in the middle.

    python -m bench.soak [--seconds 600] [--clients 32] [--kill-at 240] [--down 30]

Starts the prepared local vLLM (`make vllm`) on its own, and `rubricate serve` pointed at
it with a fresh database, then runs closed-loop clients. Every 15 s it prints answers/s,
p95 latency, the service's RSS and open file descriptors (from /proc), grades waiting
for their LLM pass and the LLM's state. At --kill-at it SIGKILLs vLLM's process group and
starts it again --down seconds later on the same port. At the end: every request's
status, RSS and descriptors first/last/max (flat means no leak), and how long the grades
still waiting for the LLM took to drain. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import closed_loop, percentile, server_process, student_answers, wait_llm_ready
from bench.load import refinement_figures
from models.managed_vllm import ManagedVLLM


def proc_figures(pid: int) -> tuple[float, int]:
    """(RSS in MiB, open file descriptors) of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


async def drain(url: str, seconds: float) -> None:
    """After the load: wait (``seconds`` at the most) for the grades still waiting for
    their LLM pass, and say how many were left and how long it took."""
    drained_at = time.monotonic()
    while time.monotonic() - drained_at < seconds:
        refine = await refinement_figures(url)
        if refine["waiting_for_llm"] == 0:
            break
        await asyncio.sleep(5)
    refine = await refinement_figures(url)
    print(
        f"after the load: {refine['waiting_for_llm']} grades still waiting for the LLM "
        f"({time.monotonic() - drained_at:.0f}s of draining), {refine['refined_total']} refined"
    )


async def soak(args: argparse.Namespace, url: str, pid: int, vllm: list[ManagedVLLM]) -> None:
    answers = itertools.cycle(student_answers(20000, seed=11))
    statuses: Counter[str] = Counter()
    window: list[float] = []
    samples: list[tuple[float, int]] = []
    start = time.monotonic()
    stop = start + args.seconds

    def record(_response: httpx.Response, seconds: float) -> None:
        window.append(seconds)

    async def chaos() -> None:
        await asyncio.sleep(args.kill_at)
        server = vllm[0]
        print(f"t={time.monotonic() - start:.0f}s: SIGKILL vLLM (pid {server.pid})", flush=True)
        os.killpg(server.pid or 0, signal.SIGKILL)
        await asyncio.sleep(args.down)
        await asyncio.to_thread(server.stop)
        again = ManagedVLLM.from_home(port=server.port)
        await asyncio.to_thread(again.start)
        vllm[0] = again
        print(f"t={time.monotonic() - start:.0f}s: vLLM restarting (pid {again.pid})", flush=True)

    async def sampler(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            await asyncio.sleep(15)
            latencies, window[:] = list(window), []
            rss, fds = await asyncio.to_thread(proc_figures, pid)
            samples.append((rss, fds))
            ready = (await http.get("/readyz")).json()["llm"]["state"]
            refine = await refinement_figures(url)
            print(
                f"t={time.monotonic() - start:4.0f}s answers/s={len(latencies) / 15:5.1f} "
                f"p95={percentile(latencies, 95) if latencies else 0:.3f}s rss={rss:.0f}MiB "
                f"fds={fds} llm={ready} waiting={refine['waiting_for_llm']} "
                f"refined={refine['refined_total']}",
                flush=True,
            )

    limits = httpx.Limits(max_connections=args.clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        tasks = [asyncio.create_task(sampler(http))]
        if args.kill_at < args.seconds:
            tasks.append(asyncio.create_task(chaos()))
        await closed_loop(http, args.clients, stop, answers, statuses, record)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        total = sum(statuses.values())
        answered = sum(n for s, n in statuses.items() if s == "200" or "Retry-After" in s)
        print(f"requests: {total}, answered (200 or 429/503 with Retry-After): {answered}")
        print(f"statuses: {dict(statuses)}")
        rss = [r for r, _ in samples]
        fds = [f for _, f in samples]
        if samples:
            print(f"rss MiB first/last/max: {rss[0]:.0f}/{rss[-1]:.0f}/{max(rss):.0f}")
            print(f"fds first/last/max: {fds[0]}/{fds[-1]}/{max(fds)}")
    await drain(url, args.drain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--kill-at", type=float, default=240)
    parser.add_argument("--down", type=float, default=30)
    parser.add_argument("--drain", type=float, default=120)
    args = parser.parse_args()
    vllm = ManagedVLLM.from_home(port=0)
    vllm.start()
    vllm.wait_ready_blocking(600)
    holder = [vllm]
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "RUBRICATE_LLM_ENABLED": "true",
            "RUBRICATE_LLM_URL": vllm.base_url,
            "RUBRICATE_LLM_MODEL": vllm.model_name,
            "RUBRICATE_DATABASE_URL": f"sqlite:///{tmp}/soak.db",
            "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"),  # as `make serve`
        }
        try:
            with server_process(env, timeout=300) as (url, pid):
                if not wait_llm_ready(url, 300):
                    raise RuntimeError("rubricate's LLM did not become ready")
                asyncio.run(soak(args, url, pid, holder))
        finally:
            holder[0].stop()


if __name__ == "__main__":
    main()
