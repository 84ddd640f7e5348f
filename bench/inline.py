"""Cost of the calibration features on inline questions (a rubric built from a reference).

Grades the first answers of each SAF unseen_questions question through the GradingService,
one at a time, with features (what a calibrated inline grade computes), and prints p50/p95
in ms with and without the token alignment feature. Embeddings only.
Run: ``python -m bench.inline [--per-question 25]``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from bench.common import percentile
from graders.evaluation.datasets import read_dataset
from graders.evaluation.semeval import datasets_dir

# SAF in the datasets folder: RUBRICATE_DATASETS_DIR, default ../shared/datasets.
SAF = datasets_dir() / "saf"


async def _main(per_question: int) -> None:
    dataset = read_dataset(SAF / "unseen_questions").subset(per_question)
    settings = Settings().model_copy(update={"llm_enabled": False})
    async with runtime(settings, load_all_lessons(settings)) as state:
        service = state.service
        lessons = {
            qid: await service.inline_lesson(q.prompt, q.reference_answer, 1.0, qid)
            for qid, q in dataset.questions.items()
        }

        async def run(tag: str) -> list[float]:
            times = []
            for item in dataset.items:
                lesson = lessons[item.question_id]
                start = time.perf_counter()
                answer = f"{item.answer} {tag}"  # a fresh text: no cache hit
                await service.grade_question(lesson, lesson.questions[0], answer, features=True)
                times.append((time.perf_counter() - start) * 1000)
            return times

        await run("warm-up")
        for name in ("with alignment", "without alignment"):
            if name == "without alignment":

                async def no_alignment(*_: Any) -> None:
                    return None

                service.embedding.alignment = no_alignment  # type: ignore[method-assign]
            times = await run(name)
            print(
                f"{name}: n={len(times)} p50 {percentile(times, 50):.1f} ms, "
                f"p95 {percentile(times, 95):.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-question", type=int, default=25)
    asyncio.run(_main(parser.parse_args().per_question))


if __name__ == "__main__":
    main()
