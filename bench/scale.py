"""Past one machine: batch answers/s against `rubricate worker` processes and LLM replicas.

    python -m bench.scale [--workers 1 2 4] [--replicas 1 2 4] [--rows N] [--max-minutes 8]

The LLM replicas are stubs with a latency model (bench/scale_stub.py: fixed + per uncached
prompt token + per output token, S slots each, a prefix LRU), so no real model competes for
the CPU. Every figure comes from one run, on a fresh PostgreSQL schema (RUBRICATE_TEST_PG,
default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``):

1. Prefix-cache hit rate by routing policy: the same class of answers (class-file order, so
   consecutive answers are to different questions) sent through rubricate's LLM grader
   (real prompts) to 4 stub replicas chosen at random per call, by rubricate's rendezvous
   hashing by question (``ReplicatedLLM``, as RUBRICATE_LLM_URLS builds it) and to a single
   replica; at the stub's default LRU and at a tight one. No workers.
2. The grid: for each number of workers and of replicas, `rubricate serve`
   (batch_engine=procrastinate; the API only enqueues) takes an upload of a class answering
   several questions of the 'instruction-tuning' lesson; `rubricate worker` processes with
   RUBRICATE_LLM_URLS at the stub replicas grade it. Answers/s from upload to done, beside
   the ideal ``min(workers x concurrency, replicas x slots) / latency`` where latency is the
   stubs' mean modelled time per call in that run. A warm-up batch first teaches each
   worker's admission control the LLM's speed (before it knows, admission lets one call
   through as a probe and skips the LLM for the rest); the "LLM used" column checks that
   every measured row waited for its LLM verdict.
3. The engine's own ceiling: the same with a zero-latency stub; and the engine's overhead
   per answer: (one worker's time per answer) minus (the same answers graded in this process
   by GradingService directly, same concurrency, same stub), in ms.

Peak RSS per worker is /proc/PID/status VmHWM. CPU busy is /proc/stat over the batch (100%
is both cores): near 100% the CPU, not the LLM tier, bounds the figure. Every process
started is stopped at the end, also on error or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, server
from bench.scale_stub import MODEL, Profile, profile_of, profile_options
from models.llm_protocol import JSONObject, LLMBackend, Messages
from models.vllm_server import free_port
from tests.batch_fixtures import pg_schema_url, to_csv

LESSON = "instruction-tuning"
PG_BASE = os.environ.get("RUBRICATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LONG_S = 300  # LLM budget and time-out: batch rows wait for the LLM, however long its queue


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


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally: processes stopped


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


# ------------------------------------------------------------------ PostgreSQL, answers


def lesson_questions(count: int) -> list[Any]:
    from rubrics import load_lessons

    return list(load_lessons()[LESSON].questions[:count])


def class_file(questions: Sequence[Any], students: int, tag: str) -> list[dict[str, str]]:
    """``students`` each answering every question, in class-file order (student by student);
    one to three sentences of the reference answer, cut short, every answer distinct."""
    rng = random.Random(tag)
    rows: list[dict[str, str]] = []
    for s in range(students):
        for question in questions:
            sentences = [x for x in question.reference_answer.replace("\n", " ").split(". ") if x]
            picked = rng.sample(sentences, k=min(len(sentences), rng.randint(1, 3)))
            words = " ".join(picked).split()[: rng.randint(12, 40)]
            rows.append(
                {
                    "row_id": f"r{len(rows)}",
                    "student_id": f"s{s:04d}",
                    "lesson_id": LESSON,
                    "question_id": question.id,
                    "answer": " ".join(words) + f". ({tag}, student {s})",
                }
            )
    return rows


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


# ------------------------------------------------------------------ workers and batches


@dataclass
class Run:
    """Shared by every phase."""

    args: argparse.Namespace
    tmp: Path
    database_url: str
    api: str = ""
    began: float = field(default_factory=time.monotonic)
    batches: int = 0

    def base_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "MALLOC_ARENA_MAX": "2",
            "RUBRICATE_CACHE_DIR": str(self.tmp / "cache"),
            "RUBRICATE_DATABASE_URL": self.database_url,
            "RUBRICATE_BATCH_ENGINE": "procrastinate",
            "RUBRICATE_EMBED_THREADS": "1",
            "RUBRICATE_RATE_LIMIT_PER_MINUTE": "0",
        }

    def worker_env(self, urls: Sequence[str], shards: int) -> dict[str, str]:
        return {
            **self.base_env(),
            "RUBRICATE_LLM_ENABLED": "true",
            "RUBRICATE_LOCAL_VLLM": "false",
            "RUBRICATE_LLM_URLS": json.dumps(list(urls)),
            "RUBRICATE_LLM_MODEL": MODEL,
            "RUBRICATE_LLM_BUDGET_S": str(LONG_S),
            "RUBRICATE_LLM_TIMEOUT_S": str(LONG_S),
            "RUBRICATE_LLM_SHARDS_PER_QUESTION": str(shards),
            "RUBRICATE_BATCH_CONCURRENCY": str(self.args.concurrency),
        }

    def left_s(self) -> float:
        return float(self.args.max_minutes) * 60 - (time.monotonic() - self.began)


@contextlib.contextmanager
def workers(
    run: Run, count: int, urls: Sequence[str], shards: int | None = None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` `rubricate worker` processes on ``urls``, each logged ready."""
    env = run.worker_env(urls, run.args.shards if shards is None else shards)
    procs, logs = [], []
    try:
        for n in range(count):
            name = f"worker-{len(urls)}r-{n}-{uuid.uuid4().hex[:6]}"
            log = run.tmp / f"{name}.log"
            command = [sys.executable, "-m", "app.cli", "worker", "--name", name]
            options = ["--concurrency", str(run.args.chunks), "--heartbeat", "2"]
            procs.append(PROCS.start([*command, *options, "--stalled-after", "30"], env, log))
            logs.append(log)
        deadline = time.monotonic() + 240
        for proc, log in zip(procs, logs, strict=True):
            while "rubricate worker ready" not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
        yield procs
    finally:
        PROCS.stop(procs)


@dataclass
class BatchFigures:
    rows: int
    seconds: float
    llm_used: float  # share of rows whose result used the LLM
    redelivered: int  # chunks run more than once


def run_batch(run: Run, rows: list[dict[str, str]], *, results: bool = True) -> BatchFigures:
    """Upload ``rows``; wait until the batch is done; from upload to its finish."""
    run.batches += 1
    with httpx.Client(base_url=run.api, timeout=120) as client:
        t0 = time.time()
        created = client.post("/v1/batches", content=to_csv(rows))
        created.raise_for_status()
        batch_id = created.json()["id"]
        deadline = time.monotonic() + max(60.0, len(rows))
        while True:
            info = client.get(f"/v1/batches/{batch_id}").json()
            if info["status"] in ("done", "cancelled", "failed"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"batch {batch_id} did not finish: {info}")
            time.sleep(0.1)
        if info["status"] != "done" or info["progress"]["failed"]:
            raise RuntimeError(f"batch {batch_id} did not grade every row: {info}")
        finished = info.get("finished_at")
        end = datetime.fromisoformat(finished).timestamp() if finished else time.time()
        used = 0
        if results:
            lines = client.get(f"/v1/batches/{batch_id}/results").text.splitlines()
            for line in lines:
                result = json.loads(line).get("result") or {}
                used += result.get("graders", {}).get("llm", {}).get("state") == "used"
    return BatchFigures(
        rows=len(rows),
        seconds=end - t0,
        llm_used=used / len(rows) if results else float("nan"),
        redelivered=int(info.get("redelivery", {}).get("rerun_chunks", 0)),
    )


def warm_up(run: Run, count: int) -> None:
    """A small batch first, one row to each of 4 x ``count`` questions (one chunk each, so that
    every worker gets some): each worker's admission control learns the LLM's speed."""
    rows = class_file(lesson_questions(4 * count), 1, f"warm{run.batches}")
    run_batch(run, rows, results=False)


# ------------------------------------------------------------------ phase 1: routing policies


class RandomLLM:
    """A replica chosen at random per call (what a plain load balancer does)."""

    def __init__(self, clients: Sequence[LLMBackend], seed: int = 1) -> None:
        self.clients = list(clients)
        self.name = f"random x{len(self.clients)}"
        self.rng = random.Random(seed)

    async def complete_json(
        self,
        messages: Messages,
        schema: dict[str, Any],
        *,
        name: str,
        max_tokens: int,
        route_key: str | None = None,
    ) -> JSONObject:
        client = self.rng.choice(self.clients)
        return await client.complete_json(messages, schema, name=name, max_tokens=max_tokens)

    async def ready(self) -> tuple[bool, str]:
        return True, "ready"

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients))


async def route_class(
    policy: str, urls: Sequence[str], rows: list[dict[str, str]], shards: int
) -> None:
    """Send every row's real grading prompt through ``policy`` to the replicas at ``urls``."""
    from graders.llm import LLMGrader
    from models.llm_replicas import ReplicatedLLM
    from models.llm_settings import LLMSettings
    from models.vllm_client import VLLMClient
    from rubrics import load_lessons

    lesson = load_lessons()[LESSON]
    settings = LLMSettings(base_url=urls[0], model=MODEL, timeout_s=60, max_concurrency=16)
    client: LLMBackend
    if policy == "single":
        client = VLLMClient(settings)
    elif policy == "router":
        client = ReplicatedLLM(settings, urls, VLLMClient, shards=shards)
    else:
        clients = [VLLMClient(settings.model_copy(update={"base_url": u})) for u in urls]
        client = RandomLLM(clients)

    async def relevance(*_: object) -> dict[str, float]:
        return {}

    grader = LLMGrader(client, MODEL, relevance)
    grader.mark(True, "bench")
    semaphore = asyncio.Semaphore(16)

    async def one(row: dict[str, str]) -> None:
        question = lesson.question(row["question_id"])
        assert question is not None
        async with semaphore:
            await grader.grade(lesson, question, row["answer"])

    try:
        await asyncio.gather(*(one(row) for row in rows))
    finally:
        await client.aclose()


def routing_phase(run: Run, questions: Sequence[Any]) -> list[list[str]]:
    rows = class_file(questions, run.args.prefix_students, "routing")
    table = []
    for lru in run.args.prefix_lru_sizes:
        profile = Profile.zero(slots=run.args.slots, prefix_lru=lru)
        with stubs(4, profile, run.tmp, f"stub-routing-{lru}") as urls:
            policies = [("single", 1), ("router", run.args.shards)]
            policies += [("router", n) for n in run.args.alt_shards if n != run.args.shards]
            for policy, shards in [*policies, ("random", 0)]:
                reset_stubs(urls)
                used = urls[:1] if policy == "single" else urls
                asyncio.run(route_class(policy, used, rows, shards))
                figures = tier(used)
                replicas = len(used)
                table.append(
                    [
                        str(lru),
                        policy,
                        str(shards) if policy == "router" else "-",
                        str(replicas),
                        str(figures.calls),
                        f"{figures.hit_rate:.1%}",
                        f"{figures.cached_share:.1%}",
                    ]
                )
    return table


# ------------------------------------------------------------------ phase 2 and 3


def students_for(run: Run, questions: int, ideal: float) -> int:
    """Students (rows / questions) for a grid cell: ``--rows``, else ~``--cell-seconds`` of
    work at the ideal rate, 6 to 32 students."""
    rows, seconds = int(run.args.rows), float(run.args.cell_seconds)
    if rows:
        return max(1, round(rows / questions))
    return max(6, min(32, round(ideal * seconds / questions)))


def grid_cell(
    run: Run, questions: Sequence[Any], urls: Sequence[str], n_workers: int, shards: int
) -> list[str]:
    args = run.args
    profile = profile_of(args)
    nominal = profile.latency_s(200, profile.output_tokens)  # a cached prefix, a short answer
    slots_ideal = min(n_workers * args.concurrency, len(urls) * args.slots)
    rows = class_file(
        questions, students_for(run, len(questions), slots_ideal / nominal), f"grid{run.batches}"
    )
    with workers(run, n_workers, urls, shards) as procs:
        warm_up(run, n_workers)
        reset_stubs(urls)
        before = cpu_ticks()
        batch = run_batch(run, rows)
        busy = busy_share(before, cpu_ticks())
        rss = [peak_rss_mb(p.pid) or 0.0 for p in procs]
    figures = tier(urls)
    rate = batch.rows / batch.seconds
    ideal = slots_ideal / figures.latency_s if figures.latency_s else float("nan")
    return [
        str(n_workers),
        str(len(urls)),
        str(shards if len(urls) > 1 else "-"),
        str(batch.rows),
        f"{rate:.2f}",
        f"{ideal:.2f}",
        f"{rate / ideal:.0%}",
        f"{figures.latency_s:.3f}",
        f"{figures.queue_s:.2f}",
        f"{figures.hit_rate:.0%}",
        f"{figures.imbalance:.2f}",
        f"{batch.llm_used:.0%}",
        f"{busy:.0%}",
        f"{max(rss):.0f}",
        str(batch.redelivered),
    ]


async def in_process(run: Run, urls: Sequence[str], rows: list[dict[str, str]]) -> float:
    """Seconds GradingService takes for ``rows`` here, at the workers' concurrency."""
    from app.runtime import Backends, load_all_lessons, runtime
    from app.settings import Settings
    from models.embedder import EMBEDDERS

    env = run.worker_env(urls, run.args.shards)
    settings = Settings(
        llm_enabled=True,
        local_vllm=False,
        llm_urls=list(urls),
        llm_model=MODEL,
        llm_budget_s=LONG_S,
        llm_timeout_s=LONG_S,
        llm_shards_per_question=run.args.shards,
        cache_dir=Path(env["RUBRICATE_CACHE_DIR"]),
        embed_threads=1,
    )
    embedder = EMBEDDERS[settings.embedder](batch_size=settings.embed_batch_size, threads=1)
    async with runtime(settings, load_all_lessons(settings), Backends(embedder=embedder)) as state:
        for _ in range(200):  # the health monitor's first check
            if state.llm is None or state.llm.ready:
                break
            await asyncio.sleep(0.05)
        service = state.service
        semaphore = asyncio.Semaphore(run.args.concurrency)

        async def one(row: dict[str, str]) -> str:
            async with semaphore:
                result = await service.grade(row["lesson_id"], row["question_id"], row["answer"])
                return result.graders["llm"].state

        for row in rows[:4]:  # admission control learns the LLM's speed; torch warms up
            await one({**row, "answer": row["answer"] + " (warm-up)"})
        t0 = time.perf_counter()
        states = await asyncio.gather(*(one(row) for row in rows))
        elapsed = time.perf_counter() - t0
    if states.count("used") != len(rows):
        print(f"  in-process: LLM used for {states.count('used')}/{len(rows)} rows only")
    return elapsed


def ceiling_phase(run: Run, questions: Sequence[Any]) -> tuple[list[list[str]], str]:
    args = run.args
    rows = class_file(questions, args.ceiling_students, "ceiling")
    table = []
    per_answer: dict[int, float] = {}
    profile = Profile.zero(slots=64)
    with stubs(1, profile, run.tmp, "stub-zero") as urls:
        for n_workers in args.ceiling_workers:
            if run.left_s() < 45:
                table.append([str(n_workers), "skipped: out of time"])
                continue
            with workers(run, n_workers, urls) as procs:
                warm_up(run, n_workers)
                before = cpu_ticks()
                batch = run_batch(run, rows)
                busy = busy_share(before, cpu_ticks())
                rss = [peak_rss_mb(p.pid) or 0.0 for p in procs]
            per_answer[n_workers] = batch.seconds / batch.rows
            table.append(
                [
                    str(n_workers),
                    str(batch.rows),
                    f"{batch.rows / batch.seconds:.1f}",
                    f"{1000 * batch.seconds / batch.rows:.1f}",
                    f"{batch.llm_used:.0%}",
                    f"{busy:.0%}",
                    f"{max(rss):.0f}",
                ]
            )
        overhead = "engine overhead: not measured (no 1-worker ceiling run)"
        if 1 in per_answer and run.left_s() > 20:
            seconds = asyncio.run(in_process(run, urls, rows))
            direct = 1000 * seconds / len(rows)
            worker = 1000 * per_answer[1]
            overhead = (
                f"engine overhead per answer: {worker - direct:.1f} ms "
                f"(1 worker {worker:.1f} ms/answer from upload to done, GradingService in "
                f"process {direct:.1f} ms/answer; {len(rows)} rows, concurrency "
                f"{args.concurrency}, zero-latency stub)"
            )
    return table, overhead


def alt_shards_cells(run: Run, questions: Sequence[Any], profile: Profile) -> list[list[str]]:
    """The most workers and replicas again, each question spread over other shard counts."""
    n_workers, replicas = max(run.args.workers), max(run.args.replicas)
    cells = []
    for shards in run.args.alt_shards:
        if shards == run.args.shards or replicas < 2:
            continue
        if run.left_s() < 60:
            cells.append([str(n_workers), str(replicas), str(shards), "skipped: out of time"])
            continue
        with stubs(replicas, profile, run.tmp, f"stub-alt-{shards}") as urls:
            cells.append(grid_cell(run, questions, urls, n_workers, shards))
        print("  " + "  ".join(cells[-1]), flush=True)
    return cells


# ------------------------------------------------------------------ output


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows if i < len(r))) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=False)), flush=True)


GRID_TITLE = (
    "answers/s by workers and stub replicas (ideal = min(workers x concurrency, "
    "replicas x slots) / latency_s)"
)
GRID_HEADER = [
    "workers",
    "replicas",
    "shards",
    "rows",
    "answers/s",
    "ideal/s",
    "ratio",
    "latency_s",
    "queue_s",
    "prefix_hits",
    "busiest/mean",
    "llm_used",
    "cpu_busy",
    "peak_rss_mb",
    "reruns",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--rows", type=int, default=0, help="rows a grid cell (default: ~--cell-seconds of work)"
    )
    parser.add_argument("--cell-seconds", type=float, default=10.0)
    parser.add_argument("--questions", type=int, default=8, help="of the lesson, in its order")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="answers a worker grades at once"
    )
    parser.add_argument("--chunks", type=int, default=2, help="chunks a worker runs at once")
    parser.add_argument("--shards", type=int, default=2, help="replicas a question is spread on")
    parser.add_argument(
        "--alt-shards",
        type=int,
        nargs="*",
        default=[4],
        help="also: the most workers and replicas with these shards (last, if time is left)",
    )
    parser.add_argument("--ceiling-workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--ceiling-students", type=int, default=32)
    parser.add_argument("--prefix-students", type=int, default=32)
    parser.add_argument("--prefix-lru-sizes", type=int, nargs="*", default=[16, 4])
    parser.add_argument(
        "--max-minutes", type=float, default=8.0, help="cells that would start later are skipped"
    )
    parser.add_argument("--database", default=PG_BASE)
    profile_options(parser)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    tmp = Path(tempfile.mkdtemp(prefix="rubricate-scale-"))
    profile = profile_of(args)
    questions = lesson_questions(args.questions)
    print(
        f"stub replica: {profile.fixed_ms:g} ms + {profile.prefill_ms:g} ms/uncached prompt "
        f"token + {profile.decode_ms:g} ms/output token (<= {profile.output_tokens}), "
        f"{profile.slots} slots, prefix LRU {profile.prefix_lru}; tokens = chars/4"
    )
    print(
        f"workers: {args.chunks} chunks and {args.concurrency} answers at once each; "
        f"{len(questions)} questions of {LESSON}; shards per question {args.shards}",
        flush=True,
    )
    try:
        with contextlib.contextmanager(pg_schema_url)(args.database, "rubricate_bench") as url:
            run = Run(args, tmp, url)
            if args.prefix_lru_sizes:
                routing = routing_phase(run, questions)
                print_table(
                    f"prefix-cache hit rate by routing policy ({args.prefix_students} students x "
                    f"{len(questions)} questions, class-file order, zero-latency stubs)",
                    [
                        "lru",
                        "policy",
                        "shards",
                        "replicas",
                        "calls",
                        "prefix_hits",
                        "cached_tokens",
                    ],
                    routing,
                )
            with server(run.base_env()) as api:
                run.api = api
                grid: list[list[str]] = []
                for n_workers in args.workers:
                    for replicas in args.replicas:
                        if run.left_s() < 60:
                            grid.append([str(n_workers), str(replicas), "skipped: out of time"])
                            continue
                        with stubs(replicas, profile, tmp, f"stub-{n_workers}w{replicas}r") as urls:
                            grid.append(grid_cell(run, questions, urls, n_workers, args.shards))
                        print("  " + "  ".join(grid[-1]), flush=True)
                print_table(GRID_TITLE, GRID_HEADER, grid)
                if args.ceiling_workers:
                    ceiling, overhead = ceiling_phase(run, questions)
                    print_table(
                        "engine ceiling: zero-latency stub",
                        [
                            "workers",
                            "rows",
                            "answers/s",
                            "ms/answer",
                            "llm_used",
                            "cpu_busy",
                            "peak_rss_mb",
                        ],
                        ceiling,
                    )
                    print(overhead)
                alt = alt_shards_cells(run, questions, profile)
                if alt:
                    print_table(GRID_TITLE + ", other shards", GRID_HEADER, alt)
            print(f"\nwall time {time.monotonic() - run.began:.0f} s", flush=True)
    finally:
        PROCS.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
