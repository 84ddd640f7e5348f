"""Shared benchmark helpers: start rubricate as a real server process, percentiles, and
the closed-loop clients that post a class's answers to it."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from models.vllm_setup import free_port
from rubrics import load_lessons

ROOT = Path(__file__).resolve().parent.parent
LESSON = "instruction-tuning"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@contextmanager
def server(
    env: dict[str, str] | None = None, timeout: float = 300, root: Path = ROOT
) -> Iterator[str]:
    """``rubricate serve`` in its own process (so the load generator does not share its GIL).

    ``root``: the source tree it runs from (``baseline_tree`` gives another commit's)."""
    with server_process(env, timeout, root) as (url, _pid):
        yield url


@contextmanager
def server_process(
    env: dict[str, str] | None = None, timeout: float = 300, root: Path = ROOT
) -> Iterator[tuple[str, int]]:
    """``server``, yielding its process id beside its URL (to read its /proc figures)."""
    port = free_port()
    # One loopback client sends every request here: per-address rate limits would throttle it.
    quiet = {"RUBRICATE_LLM_ENABLED": "false", "RUBRICATE_RATE_LIMIT_PER_MINUTE": "0"}
    # Its own database (gone afterwards): runs of different commits never share or upgrade one.
    with (
        tempfile.TemporaryDirectory(prefix="rubricate-bench-") as folder,
        tempfile.TemporaryFile() as log,
    ):
        database = f"sqlite:///{folder}/rubricate.db"
        full_env = {**os.environ, **quiet, "RUBRICATE_DATABASE_URL": database, **(env or {})}
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=root,
            env={**full_env, "PYTHONPATH": str(root)},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"rubricate did not become ready:\n{tail}")
                time.sleep(0.25)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_llm_ready(url: str, seconds: float) -> bool:
    """Until the service's /readyz reports its LLM ready, for ``seconds`` at the most:
    whether it did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if httpx.get(url + "/readyz", timeout=5).json()["llm"]["state"] == "ready":
            return True
        time.sleep(1)
    return False


async def closed_loop(
    http: httpx.AsyncClient,
    clients: int,
    stop: float,
    answers: Iterator[tuple[str, str]],
    statuses: Counter[str],
    on_response: Callable[[httpx.Response, float], None],
) -> None:
    """``clients`` students, each posting its next answer as soon as the last came back,
    until ``time.monotonic()`` passes ``stop``.

    Counts every status in ``statuses`` (429/503 with Retry-After apart, a transport error
    by its name), hands each response and its seconds to ``on_response``, and waits out a
    Retry-After (at most a second) before that client's next answer."""

    async def client() -> None:
        while time.monotonic() < stop:
            question, answer = next(answers)
            body = {"lesson_id": LESSON, "question_id": question, "answer": answer}
            began = time.perf_counter()
            try:
                response = await http.post("/v1/grade", json=body)
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
                continue
            on_response(response, time.perf_counter() - began)
            code = response.status_code
            busy = code in (429, 503) and "retry-after" in response.headers
            statuses[str(code) + (" with Retry-After" if busy else "")] += 1
            if busy:
                await asyncio.sleep(min(float(response.headers["retry-after"]), 1.0))

    await asyncio.gather(*(client() for _ in range(clients)))


def student_answers(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(question id, answer) pairs shaped like students': one to three sentences, each unique.

    Built from the lesson's reference answers (sentences picked, shortened and tagged), so
    each answer is new to the service's cache, the way a class's answers are.
    """
    rng = random.Random(seed)
    lesson = load_lessons()["instruction-tuning"]
    pairs: list[tuple[str, str]] = []
    for n in range(count):
        question = rng.choice(lesson.questions)
        sentences = [s for s in question.reference_answer.replace("\n", " ").split(". ") if s]
        picked = rng.sample(sentences, k=min(len(sentences), rng.randint(1, 3)))
        words = " ".join(picked).split()[: rng.randint(12, 40)]
        pairs.append((question.id, " ".join(words) + f". (answer {n})"))
    return pairs


def baseline_tree(ref: str) -> Path:
    """A checkout of ``ref`` (a git worktree under /tmp, made once) to run beside this code."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", ref],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = Path("/tmp") / f"rubricate-baseline-{sha}"
    if not tree.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), sha],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return tree
