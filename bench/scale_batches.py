"""Workers and batches for bench/scale.py: the run's shared settings, a class file of
answers, `rubricate worker` processes, and a batch from upload to done."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.scale_procs import PROCS
from bench.scale_stub import MODEL
from tests.batch_fixtures import to_csv

LESSON = "instruction-tuning"
LONG_S = 300  # LLM budget and time-out: batch rows wait for the LLM, however long its queue


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
