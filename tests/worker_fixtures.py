"""Helpers for the worker-engine tests: a varied class file, `rubricate worker` processes
started and killed, waits that notice a dead worker."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tests.batch_fixtures import LESSON, Q1, Q2
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[1]
STARTED = re.compile(r"chunk \w+/\d+: started \(job \d+, attempt \d+, worker (\d+),")

# Fragments students combine, so answers vary the way a class's do (and some repeat).
PARTS = {
    (LESSON, "q1"): [
        *Q1,
        "Sunlight, water and carbon dioxide go in; glucose and oxygen come out.",
        "it needs light energy and CO2 and water, it makes glucose",
        "The leaves take in carbon dioxide. Roots take up water.",
        "Oxygen is released as a by-product.",
        "plants breathe in oxygen at night",
        "It makes food for the plant.",
    ],
    (LESSON, "q2"): [
        *Q2,
        "chloroplasts in the leaf cells",
        "Inside the leaves, in organelles with chlorophyll.",
        "the chlorophyll soaks up the light",
        "In the stem.",
    ],
    ("instruction-tuning", "sc-1"): [
        "A base model comes out of pretraining on lots of internet text.",
        "The base model just continues the text you give it.",
        "An instruction-tuned model went through supervised fine-tuning on instruction-response"
        " pairs.",
        "The instruction-tuned model follows instructions and answers.",
        "They have the same architecture; the weights are only nudged.",
        "The instruction tuned one is bigger and has a different architecture.",
        "The instruction-tuned one is better and smarter.",
    ],
    ("instruction-tuning", "sc-2"): [
        "The knowledge is already in the base model from pretraining.",
        "SFT teaches when to use what the model already knows, the trigger.",
        "It teaches the shape of the response, not new facts.",
        "If you fine-tune on French translations it already knew French.",
        "SFT adds new knowledge to the model.",
        "Because the dataset is small.",
    ],
}


def class_file(n: int, seed: int, bad: int = 0) -> list[dict[str, str]]:
    """n rows over four questions; ``bad`` of them name a question that does not exist."""
    rng = random.Random(seed)
    questions = list(PARTS)
    out = []
    for i in range(n):
        lesson, question = questions[i % len(questions)]
        parts = PARTS[(lesson, question)]
        k = rng.choice((1, 1, 2, 2, 3))
        answer = " ".join(rng.sample(parts, k))
        if rng.random() < 0.05:
            answer = answer.lower()
        out.append(
            {
                "row_id": f"r{i}",
                "student_id": f"s{i // len(questions):04d}",
                "lesson_id": lesson,
                "question_id": question,
                "answer": answer,
            }
        )
    for i in range(bad):
        out[100 + 500 * i]["question_id"] = "q-none"
    return out


RUBRICATE = [sys.executable, "-c", "from app.cli import main; main()"]


def rubricate_env(tmp: Path, url: str, **over: str) -> dict[str, str]:
    """The environment of a ``rubricate`` process: the test lessons, the database ``url``, its
    cache under ``tmp``, the LLM off (``over`` adds or replaces variables)."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "RUBRICATE_LLM_ENABLED": "false",
        "RUBRICATE_CACHE_DIR": str(tmp / "cache"),
        "RUBRICATE_LESSON_DIRS": json.dumps([str(DATA / "lessons")]),
        "RUBRICATE_DATABASE_URL": url,
        **over,
    }


def start_worker(
    tmp: Path, url: str, name: str, **env_over: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """``rubricate worker`` on ``url`` (no LLM unless ``env_over`` sets RUBRICATE_ ones)."""
    log = tmp / f"{name}.log"
    engine = {"RUBRICATE_BATCH_ENGINE": "procrastinate", "RUBRICATE_EMBED_THREADS": "1"}
    env = rubricate_env(tmp, url, **{"MALLOC_ARENA_MAX": "2", **engine, **env_over})
    command = [*RUBRICATE, "worker"]
    options = ["--concurrency", "2", "--heartbeat", "1", "--stalled-after", "8", "--name", name]
    proc = subprocess.Popen(
        [*command, *options], cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    return proc, log


def scalar(engine: Any, sql: str, **params: object) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


# Chunks a worker began (runs >= 1) and had not stored (their first row still pending).
BEGUN_UNSTORED = """
SELECT count(*) FROM procrastinate_jobs j
JOIN rubricate_batch_chunks c
  ON c.batch_id = j.args->>'batch_id' AND c.chunk = (j.args->'seqs'->>0)::int
JOIN rubricate_batch_rows r ON r.batch_id = c.batch_id AND r.seq = c.chunk
WHERE j.status = 'doing' AND j.worker_id = :worker AND c.runs >= 1 AND r.status = 'pending'
"""


def kill_mid_chunk(engine: Any, proc: subprocess.Popen[bytes], log: Path, total: int) -> int:
    """SIGKILL the worker once a quarter of the rows are stored and it is inside a chunk it
    has begun; how many such chunks it left behind."""
    deadline = time.monotonic() + 120
    worker = None
    while time.monotonic() < deadline:
        if worker is None and (found := STARTED.search(log.read_text())):
            worker = int(found.group(1))
        stored = scalar(engine, "SELECT count(*) FROM rubricate_batch_rows WHERE status='done'")
        ready = worker is not None and stored >= total // 4
        if ready and scalar(engine, BEGUN_UNSTORED, worker=worker):
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return int(scalar(engine, BEGUN_UNSTORED, worker=worker))
        time.sleep(0.02)
    raise AssertionError("the worker never was mid-chunk:\n" + log.read_text()[-3000:])


def wait_done_by(
    client: httpx.Client, batch_id: str, survivor: tuple[subprocess.Popen[bytes], Path]
) -> dict[str, Any]:
    """The batch once finished, failing early if the surviving worker dies."""
    proc, log = survivor
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the surviving worker died:\n" + log.read_text()[-3000:]
        info: dict[str, Any] = client.get(f"/v1/batches/{batch_id}").json()
        if info["status"] in ("done", "cancelled", "failed"):
            return info
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish:\n" + log.read_text()[-3000:])
