"""Batch grading benchmark: answers/s, time to first result, and peak RSS by batch size.

Each size runs in a fresh child process (``--child N``) so its peak RSS is its own: the
real embedding model, the batch manager with its worker, a SQLite store in a temp
folder, embeddings only. The class file's answers are built from the built-in lesson's
phrasings plus filler and are nearly all distinct, so every row costs a real grade (the
worst case: repeated answers would be graded once per batch).

    python -m bench.batch               # 1,000 and 10,000 rows
    python -m bench.batch --sizes 2000  # other sizes
    python -m bench.batch --baseline REF  # and another commit's code, side by side
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FILLER = [
    "I think",
    "As far as I remember,",
    "From the lesson:",
    "Basically",
    "In short,",
    "My answer is that",
]


def class_file(path: Path, rows: int, seed: int = 7) -> None:
    from rubrics import load_lessons
    from rubrics.loader import BUILTIN_DIR

    rng = random.Random(seed)
    lesson = next(iter(load_lessons([BUILTIN_DIR]).values()))
    questions = [q for q in lesson.questions if q.key_points]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row_id", "student_id", "lesson_id", "question_id", "answer"])
        for i in range(rows):
            q = rng.choice(questions)
            phrasings = [p for k in q.key_points for p in k.phrasings]
            picked = rng.sample(phrasings, k=min(len(phrasings), rng.randint(1, 3)))
            answer = f"{rng.choice(FILLER)} " + ". ".join(picked) + "."
            if rng.random() > 0.1:
                answer += f" (Student {i} adds point {rng.randint(1, 10**6)}.)"
            writer.writerow([f"r{i}", f"s{i // len(questions)}", lesson.id, q.id, answer])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def child(rows: int) -> dict[str, Any]:
    from app.batches import open_batches
    from app.runtime import load_all_lessons, runtime
    from app.settings import Settings
    from graders.store.database import sqlite_url

    with tempfile.TemporaryDirectory(prefix="rubricate-bench-") as tmp:
        folder = Path(tmp)
        settings = Settings(llm_enabled=False, cache_dir=ROOT / ".cache" / "rubricate")
        source = folder / "class.csv"
        class_file(source, rows)
        rss_before = peak_rss_mb()
        async with (
            runtime(settings, load_all_lessons(settings)) as state,
            open_batches(settings, state.service, url=sqlite_url(folder / "b.db")) as manager,
        ):
            rss_loaded = peak_rss_mb()
            start = time.perf_counter()
            info, _ = await manager.submit(source, filename=source.name)
            accepted = time.perf_counter() - start
            first: float | None = None
            while info.status not in ("done", "cancelled", "failed"):
                await asyncio.sleep(0.05)
                info = await manager.info(info.id)
                if first is None and info.progress.done + info.progress.failed > 0:
                    first = time.perf_counter() - start
            elapsed = time.perf_counter() - start
            count = 0
            async for chunk in manager.results(info.id, "csv"):
                count += chunk.count(b"\n")
            report = await manager.report(info.id)
    return {
        "rows": rows,
        "status": info.status,
        "graded": info.progress.done,
        "failed": info.progress.failed,
        "unique_answers": info.unique_answers,
        "upload_accepted_s": round(accepted, 3),
        "time_to_first_result_s": round(first or elapsed, 3),
        "total_s": round(elapsed, 1),
        "answers_per_s": round(rows / elapsed, 1),
        "unique_grades_per_s": round(info.unique_answers / elapsed, 1),
        "result_lines": count - 1,
        "report_students": len(report.students),
        "rss_before_model_mb": round(rss_before),
        "rss_model_loaded_mb": round(rss_loaded),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline", metavar="REF", help="also run the code of this git commit, side by side"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child))))
        return
    env = {"MALLOC_ARENA_MAX": "2", **os.environ}  # as `make serve` runs the service
    env |= {"HF_HUB_OFFLINE": "1", "RUBRICATE_LLM_ENABLED": "false"}
    trees = {"this code": ROOT}
    if args.baseline:
        from bench.common import baseline_tree

        trees[f"at {args.baseline}"] = baseline_tree(args.baseline)
    results = []
    for size in args.sizes:
        for name, tree in trees.items():  # side by side: each size on each tree in turn
            out = subprocess.run(
                [sys.executable, "-m", "bench.batch", "--child", str(size)],
                cwd=tree,
                env={**env, "PYTHONPATH": str(tree)},
                check=True,
                capture_output=True,
                text=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            if name == "this code":
                results.append(figures)
            print(
                f"{name}: {size:>7} rows: {figures['answers_per_s']:>7} answers/s "
                f"({figures['unique_answers']} distinct graded), first result "
                f"{figures['time_to_first_result_s']} s, total {figures['total_s']} s, "
                f"peak RSS {figures['peak_rss_mb']} MB (model loaded: "
                f"{figures['rss_model_loaded_mb']} MB)",
                flush=True,
            )
    print(json.dumps(results, indent=2))
    peaks = [r["peak_rss_mb"] for r in results]
    if max(peaks) > 1536:
        sys.exit(f"peak RSS {max(peaks)} MB is over the 1.5 GB target")
    assert all(r["result_lines"] == r["rows"] for r in results)


if __name__ == "__main__":
    main()
