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
import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import server
from bench.scale_batches import LESSON, Run, lesson_questions
from bench.scale_phases import alt_shards_cells, ceiling_phase, grid_cell, routing_phase
from bench.scale_procs import PROCS, stubs
from bench.scale_stub import profile_of, profile_options
from tests.batch_fixtures import pg_schema_url

PG_BASE = os.environ.get("RUBRICATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally: processes stopped


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
