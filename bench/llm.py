"""Benchmark the LLM path against the real vLLM: rubricate versus the same prompts sent raw.

For concurrency 1, 8 and 32 it prints answers/s and p50/p95 latency of POST /v1/grade
(require_llm=true) and of the identical chat requests sent straight to vLLM, with the
ratio; then the prefix-cache hit rate (from vLLM's /metrics) over a class of answers to
one question. Uses RUBRICATE_LLM_URL if set, else starts the vLLM prepared under .vllm/.
Run: ``make bench-llm`` (or ``python -m bench.llm --class-size 200``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx

from bench.common import percentile, server
from graders.scoring.llm_grader import INSTRUCTIONS, LLMGrader, fence, rubric_block, verdict_schema
from models.managed_vllm import ManagedVLLM
from rubrics import load_lessons

LESSON = load_lessons()["instruction-tuning"]
QUESTION_ID = "sc-4"
_COUNTER = re.compile(r"^(vllm:[a-z_]+_total)(?:\{[^}]*\})?\s+([0-9.eE+-]+)$")
HITS, QUERIES = "vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"
TOKENS, REQUESTS = "vllm:generation_tokens_total", "vllm:request_success_total"


def answers(count: int, offset: int = 0) -> list[str]:
    """A class of distinct answers to one question, as students write them."""
    openings = ["LoRA is low-rank adaptation.", "LoRA means Low-Rank Adaptation.", "LoRA:"]
    middles = [
        "It freezes the base weights and trains small low-rank matrices.",
        "Only a few extra weights are trained, so it is cheap.",
        "You can keep many fine-tunes without copying the model.",
        "It teaches the same thing as full fine-tuning.",
    ]
    return [
        f"{openings[n % 3]} {middles[n % 4]} {middles[(n // 4) % 4]} (student {n + offset})"
        for n in range(count)
    ]


@contextlib.contextmanager
def vllm() -> Iterator[tuple[str, str]]:
    url = os.environ.get("RUBRICATE_LLM_URL")
    if url:
        yield url.rstrip("/"), os.environ.get("RUBRICATE_LLM_MODEL", "smollm2-135m-instruct")
        return
    with ManagedVLLM.from_home() as managed:
        managed.wait_ready_blocking(300)
        yield managed.base_url, managed.model_name


def raw_body(model: str, answer: str) -> dict[str, Any]:
    """Exactly what rubricate's LLM grader sends for this answer."""
    question = LESSON.question(QUESTION_ID)
    assert question is not None
    budget = LLMGrader._budget_for(question)
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": INSTRUCTIONS + "\n\n" + rubric_block(LESSON, question)},
            {"role": "user", "content": fence(answer)[1]},
        ],
        "max_tokens": budget,
        "temperature": 0.0,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "grade", "schema": verdict_schema(question), "strict": True},
        },
    }


async def run(url: str, path: str, bodies: list[dict[str, Any]], clients: int) -> list[float]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    timings: list[float] = []
    failures: list[str] = []

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            start = time.perf_counter()
            response = await client.post(path, json=body)
            if response.status_code == 503:  # require_llm and the LLM could not grade
                failures.append(response.json().get("detail", ""))
            else:
                response.raise_for_status()
            timings.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    if failures:
        print(f"  ({len(failures)} of {len(bodies)} not graded by the LLM: {failures[0][:120]})")
    return timings


def counters(base_url: str) -> dict[str, float]:
    """vLLM's counters, summed over their labels."""
    totals: dict[str, float] = {}
    for line in httpx.get(base_url + "/metrics", timeout=10).text.splitlines():
        match = _COUNTER.match(line.strip())
        if match:
            totals[match.group(1)] = totals.get(match.group(1), 0.0) + float(match.group(2))
    return totals


def delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def describe(label: str, timings: list[float], elapsed: float) -> str:
    return (
        f"{label:>10}: {len(timings) / elapsed:6.2f} answers/s, "
        f"p50 {percentile(timings, 50):6.2f} s, p95 {percentile(timings, 95):6.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--per-client", type=int, default=2, help="Requests per client.")
    parser.add_argument("--class-size", type=int, default=200)
    args = parser.parse_args()
    with vllm() as (vllm_url, model):
        env = {
            "RUBRICATE_LLM_ENABLED": "true",
            "RUBRICATE_LLM_URL": vllm_url,
            "RUBRICATE_LLM_MODEL": model,
            "RUBRICATE_LLM_TIMEOUT_S": "600",
            "RUBRICATE_LLM_MAX_CONCURRENCY": "64",
            "RUBRICATE_RATE_LIMIT_PER_MINUTE": "0",
        }
        with server(env) as api:
            while httpx.get(api + "/readyz").json()["llm"]["state"] != "ready":
                time.sleep(0.5)
            offset = 0
            for clients in [int(x) for x in args.levels.split(",")]:
                texts = answers(clients * args.per_client, offset)
                offset += len(texts)
                grade = [
                    {
                        "lesson_id": LESSON.id,
                        "question_id": QUESTION_ID,
                        "answer": t,
                        "require_llm": True,
                    }
                    for t in texts
                ]
                print(f"concurrency {clients}:")
                mark = counters(vllm_url)
                start = time.perf_counter()
                ours = asyncio.run(run(api, "/v1/grade", grade, clients))
                ours_s = time.perf_counter() - start
                middle = counters(vllm_url)
                raw = [raw_body(model, t + " ") for t in texts]  # new text: no cached reply
                start = time.perf_counter()
                theirs = asyncio.run(run(vllm_url, "/v1/chat/completions", raw, clients))
                raw_s = time.perf_counter() - start
                end = counters(vllm_url)
                ours_tokens = delta(mark, middle, TOKENS)
                raw_tokens = delta(middle, end, TOKENS)
                print(describe("rubricate", ours, ours_s))
                print(describe("raw vLLM", theirs, raw_s))
                print(
                    f"{'vLLM work':>10}: rubricate {delta(mark, middle, REQUESTS):.0f} requests, "
                    f"{ours_tokens:.0f} tokens; raw {delta(middle, end, REQUESTS):.0f} requests, "
                    f"{raw_tokens:.0f} tokens"
                )
                per_token = (ours_s / max(ours_tokens, 1)) / (raw_s / max(raw_tokens, 1))
                print(
                    f"{'ratio':>10}: {ours_s / raw_s:.3f}x wall time, {per_token:.3f}x time per "
                    "generated token (target <= 1.10x)"
                )
            before = counters(vllm_url)
            texts = answers(args.class_size, offset)
            grade = [
                {"lesson_id": LESSON.id, "question_id": QUESTION_ID, "answer": t} for t in texts
            ]
            asyncio.run(run(api, "/v1/grade", grade, 32))
            after = counters(vllm_url)
    hits, queries = delta(before, after, HITS), delta(before, after, QUERIES)
    rate = hits / queries if queries else 0.0
    print(
        f"prefix cache over a class of {args.class_size} answers to {QUESTION_ID}: "
        f"{rate:.1%} of prompt tokens served from cache (target >= 70%)"
    )


if __name__ == "__main__":
    main()
