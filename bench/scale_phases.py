"""The phases of bench/scale.py: prefix-cache hit rate by routing policy, a grid cell of
workers x stub replicas, the engine's ceiling and overhead, and other shard counts."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.scale_batches import LESSON, LONG_S, Run, class_file, run_batch, warm_up, workers
from bench.scale_procs import busy_share, cpu_ticks, peak_rss_mb, reset_stubs, stubs, tier
from bench.scale_stub import MODEL, Profile, profile_of
from models.llm_protocol import LLMBackend
from models.replica_routing import Replica, ReplicaRouter

# ------------------------------------------------------------------ phase 1: routing policies


class RandomRouter(ReplicaRouter[LLMBackend]):
    """A replica chosen at random per call (what a plain load balancer does), the others
    after it in random order for failover: ``ReplicatedLLM`` routed without affinity."""

    def __init__(self, replicas: Sequence[Replica[LLMBackend]], seed: int = 1) -> None:
        super().__init__(replicas)
        self.rng = random.Random(seed)

    def order(self, key: str | None, shard: int) -> list[Replica[LLMBackend]]:
        return self.rng.sample(self.replicas, len(self.replicas))


async def route_class(
    policy: str, urls: Sequence[str], rows: list[dict[str, str]], shards: int
) -> None:
    """Send every row's real grading prompt through ``policy`` to the replicas at ``urls``."""
    from graders.scoring.llm_grader import LLMGrader
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
        client = ReplicatedLLM(settings, urls, VLLMClient)
        client.router = RandomRouter(client.replicas)

    grader = LLMGrader(client, MODEL)
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
