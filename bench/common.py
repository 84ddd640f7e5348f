"""Shared benchmark helpers: start rubricate as a real server process, percentiles."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from models.vllm_server import free_port
from rubrics import load_lessons

ROOT = Path(__file__).resolve().parent.parent


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
    port = free_port()
    # One loopback client sends every request here: per-address rate limits would throttle it.
    quiet = {"RUBRICATE_LLM_ENABLED": "false", "RUBRICATE_RATE_LIMIT_PER_MINUTE": "0"}
    full_env = {**os.environ, **quiet, **(env or {})}
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
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
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
