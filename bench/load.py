"""A class submitting at once: closed-loop clients against `rubricate serve`, LLM included.

    python -m bench.load [--clients 8 32 128] [--seconds 30] [--url URL] [--class-file ROWS]

Without --url it starts `rubricate serve` as `make serve` does (the local vLLM when
prepared, or RUBRICATE_LLM_URL), waits until /readyz reports the LLM ready (or
--no-llm-wait), then for each concurrency runs that many clients, each posting a
different answer as soon as its last one came back, for --seconds. Prints answers/s,
p50/p95/p99 latency of all responses and, apart, of the 200s alone (a quick 503 must not
flatter the figures), the share answered 200 or 429/503 with Retry-After, the share shed
(429/503 with Retry-After), how the LLM was used (used / skipped / unavailable), and the
background LLM pass: grades waiting for it, refined so far, and the last refinement lag
(from /metrics). Loopback only, bounded in time. The 10-minute soak with vLLM killed and
restarted is bench/soak.py. ``--class-file 300`` then uploads a 300-row class file and
times every row's first grade.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import httpx

from bench.common import LESSON, closed_loop, percentile, server, student_answers, wait_llm_ready
from tests.batch_fixtures import to_csv


async def run(url: str, clients: int, seconds: float) -> dict[str, object]:
    answers = itertools.cycle(student_answers(4000, seed=clients))
    latencies: list[float] = []
    graded_latencies: list[float] = []
    statuses: Counter[str] = Counter()
    llm: Counter[str] = Counter()
    stop = time.monotonic() + seconds

    def record(response: httpx.Response, seconds: float) -> None:
        latencies.append(seconds)
        if response.status_code == 200:
            graded_latencies.append(seconds)
            llm[response.json()["graders"]["llm"]["state"]] += 1

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        began = time.perf_counter()
        await closed_loop(http, clients, stop, answers, statuses, record)
        elapsed = time.perf_counter() - began
    refinement = await refinement_figures(url)
    shed = sum(n for s, n in statuses.items() if "Retry-After" in s)
    answered = statuses["200"] + shed
    total = sum(statuses.values())

    def quantile(values: list[float], q: float) -> float | None:
        return round(percentile(values, q), 3) if values else None

    return {
        "clients": clients,
        "answers_per_s": round(statuses["200"] / elapsed, 1),
        "p50_s": quantile(latencies, 50),
        "p95_s": quantile(latencies, 95),
        "p99_s": quantile(latencies, 99),
        "graded_p50_s": quantile(graded_latencies, 50),
        "graded_p95_s": quantile(graded_latencies, 95),
        "graded_p99_s": quantile(graded_latencies, 99),
        "answered_share": round(answered / total, 3) if total else None,
        "shed_share": round(shed / total, 3) if total else None,
        "statuses": dict(statuses),
        "llm": dict(llm),
        **refinement,
    }


async def refinement_figures(url: str) -> dict[str, object]:
    """Grades by state of their LLM pass, and the lags, from the service's /metrics."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        text = (await http.get("/metrics")).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("rubricate_grades_by_refinement{"):
            state = line.split('state="')[1].split('"')[0]
            found[state] = float(line.split()[-1])
        elif line.startswith(("rubricate_refinement_lag_seconds", "rubricate_refined_lag")):
            found[line.split()[0]] = float(line.split()[-1])
    return {
        "refined_total": int(found.get("done", 0)),
        "waiting_for_llm": int(found.get("pending", 0) + found.get("running", 0)),
        "oldest_waiting_s": round(found.get("rubricate_refinement_lag_seconds", 0), 1),
        "last_refined_lag_s": round(found.get("rubricate_refined_lag_seconds", 0), 1),
    }


@contextmanager
def target(url: str | None, wait_llm: bool) -> Iterator[str]:
    if url:
        with nullcontext(url) as found:
            yield found
        return
    env = {"RUBRICATE_LLM_ENABLED": "true", "RUBRICATE_RATE_LIMIT_PER_MINUTE": "0"}
    with server(env, timeout=600) as started:
        if wait_llm:
            wait_llm_ready(started, 300)
        yield started


def class_file(url: str, rows: int) -> dict[str, object]:
    """Upload a class file of ``rows`` distinct answers; seconds to its first result and to
    every row's first grade (phase one), and how far the LLM pass had got by then."""
    content = to_csv(
        [
            {
                "row_id": f"r{n}",
                "student_id": f"s{n}",
                "lesson_id": LESSON,
                "question_id": question,
                "answer": answer,
            }
            for n, (question, answer) in enumerate(student_answers(rows, seed=rows))
        ]
    )
    with httpx.Client(base_url=url, timeout=60) as http:
        start = time.perf_counter()
        created = http.post("/v1/batches", content=content, headers={"content-type": "text/csv"})
        created.raise_for_status()
        batch_id = created.json()["id"]
        while True:
            info = http.get(f"/v1/batches/{batch_id}").json()
            if info["progress"]["pending"] == 0:
                break
            if time.perf_counter() - start > 600:
                raise RuntimeError(f"class file not graded in 600 s: {info['progress']}")
            time.sleep(0.1)
    return {
        "class_file_rows": rows,
        "first_result_s": info["first_result_s"],
        "every_first_grade_s": round(time.perf_counter() - start, 2),
        "progress": info["progress"],
        "refinement": info["refinement"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="*", default=[8, 32, 128])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--url")
    parser.add_argument("--no-llm-wait", action="store_true")
    parser.add_argument(
        "--class-file", type=int, default=0, metavar="ROWS", help="then upload a class file"
    )
    args = parser.parse_args()
    with target(args.url, not args.no_llm_wait) as url:
        ready = httpx.get(url + "/readyz", timeout=5).json()
        print(f"LLM: {ready['llm']['state']} ({ready['llm'].get('model')})")
        for clients in args.clients:
            print(asyncio.run(run(url, clients, args.seconds)), flush=True)
        if args.class_file:
            print(class_file(url, args.class_file), flush=True)


if __name__ == "__main__":
    main()
