"""Benchmark POST /v1/grade over real HTTP against the model's own encode speed.

Prints latency (p50, p95) of sequential requests, throughput with 8 concurrent clients,
and the raw sentence-transformers encode time of the same segments, with the ratio.
Run: ``make bench`` (or ``python -m bench.grade_http --requests 300``); ``--baseline REF``
adds the code of another commit (e.g. before a refactoring) to the same run, side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

import httpx

from bench.common import ROOT, baseline_tree, percentile, server, student_answers
from graders.language.segments import segments
from models.precision import native_bf16

LESSON = "instruction-tuning"
Answers = list[tuple[str, str]]


def sequential(url: str, answers: list[tuple[str, str]]) -> list[float]:
    timings: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for question, answer in answers:
            body = {"lesson_id": LESSON, "question_id": question, "answer": answer}
            start = time.perf_counter()
            response = client.post("/v1/grade", json=body)
            timings.append(time.perf_counter() - start)
            response.raise_for_status()
    return timings


async def concurrent(url: str, answers: list[tuple[str, str]], clients: int) -> float:
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for pair in answers:
        queue.put_nowait(pair)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            question, answer = queue.get_nowait()
            body = {"lesson_id": LESSON, "question_id": question, "answer": answer}
            while True:  # as the widget does: a shed request waits out Retry-After
                response = await client.post("/v1/grade", json=body)
                if response.status_code != 503:
                    break
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            response.raise_for_status()

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return time.perf_counter() - start


def raw_encode(answers: list[tuple[str, str]]) -> tuple[float, float, int]:
    """Seconds to encode every answer's segments: one call per answer, and in batches of 8."""
    from models.embedder import minilm

    embedder = minilm()
    texts = [[s.text for s in segments(answer)] for _, answer in answers]
    embedder.embed(texts[0])  # warm-up
    start = time.perf_counter()
    for group in texts:
        embedder.embed(group)
    one_by_one = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, len(texts), 8):
        embedder.embed([t for group in texts[i : i + 8] for t in group])
    batched = time.perf_counter() - start
    return one_by_one, batched, sum(len(g) for g in texts)


def measure(
    env: dict[str, str],
    warm: Answers,
    latency_set: Answers,
    load_set: Answers,
    clients: int,
    root: Path = ROOT,
) -> tuple[list[float], float]:
    with server({"RUBRICATE_EMBED_CACHE_SIZE": "0", **env}, root=root) as url:
        sequential(url, warm)
        timings = sequential(url, latency_set)
        elapsed = asyncio.run(concurrent(url, load_set, clients))
    return timings, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also run the code of this git commit (the embedding grade, reader off) in the same "
        "run, e.g. the commit before a refactoring, and print the ratios",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warm = student_answers(20, seed=1)
    latency_set = student_answers(args.requests, seed=2)
    load_set = student_answers(args.requests, seed=3)
    # Side by side in one run: the embedding grade alone (the grading path before the reader)
    # and with the reader reading every key point and misconception, in float32 and bfloat16.
    on = {"RUBRICATE_READER_ENABLED": "true"}
    runs = {
        "without reader": {"RUBRICATE_READER_ENABLED": "false"},
        "with reader": {**on, "RUBRICATE_READER_PRECISION": "fp32"},
        "with reader in bf16": {**on, "RUBRICATE_READER_PRECISION": "bf16"},
    }
    roots = {name: ROOT for name in runs}
    if args.baseline:
        name = f"without reader, at {args.baseline}"
        runs = {name: runs["without reader"], **runs}
        roots[name] = baseline_tree(args.baseline)
    found = {
        name: measure(env, warm, latency_set, load_set, args.clients, roots[name])
        for name, env in runs.items()
    }
    one_by_one, batched, segment_count = raw_encode(load_set)
    n = len(load_set)
    print(f"answers: {n} per run, {segment_count / n:.1f} segments each (cache off)")
    for name, (timings, elapsed) in found.items():
        print(
            f"{name}: sequential latency over HTTP p50 {percentile(timings, 50) * 1000:.1f} ms, "
            f"p95 {percentile(timings, 95) * 1000:.1f} ms ({len(timings)} requests); "
            f"{args.clients} concurrent clients: {n / elapsed:.1f} answers/s"
        )
    base_t, base_e = found["without reader"]
    print(f"this CPU multiplies bf16 in hardware: {native_bf16()}")
    for name in ("with reader", "with reader in bf16"):
        read_t, read_e = found[name]
        print(
            f"{name} / without: p50 {percentile(read_t, 50) / percentile(base_t, 50):.2f}x "
            f"(target <= 2x), throughput {base_e / read_e:.2f}x (target >= 25 answers/s)"
        )
    print(
        f"raw sentence-transformers encode of the same segments: {n / one_by_one:.1f} answers/s "
        f"one answer per call, {n / batched:.1f} answers/s in batches of {args.clients}"
    )
    print(f"service time without reader / raw batched encode: {base_e / batched:.2f}x")
    if args.baseline:
        old_t, old_e = found[f"without reader, at {args.baseline}"]
        print(
            f"this code / {args.baseline} (reader off): p50 "
            f"{percentile(base_t, 50) / percentile(old_t, 50):.2f}x, "
            f"throughput {old_e / base_e:.2f}x"
        )


if __name__ == "__main__":
    main()
