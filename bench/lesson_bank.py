"""Grade the lesson answer bank (tests/data/lesson_answers.jsonl) and print what a teacher
cares about: labels right per question, off by two, right answers told they hold a
misconception, review load, and each wrong label.

    python -m bench.lesson_bank [--llm] [--no-exemplars] [--no-reader] [--verbose]

Embeddings only unless --llm (then RUBRICATE_LLM_URL or the local vLLM, as `serve`).
--no-exemplars grades without the rubric's exemplars, to measure what they add; --no-reader
without the trained reader (the embedding grade and its rules, as before the reader).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from graders.evaluation.bank import read_bank, summarize

BANK = Path(__file__).resolve().parents[1] / "tests" / "data" / "lesson_answers.jsonl"


async def main(llm: bool, exemplars: bool, verbose: bool, reader: bool = True) -> None:
    settings = Settings()
    settings = settings.model_copy(update={"reader_enabled": reader})
    if not llm:
        settings = settings.model_copy(update={"llm_enabled": False})
    bank = read_bank(BANK)
    lessons = load_all_lessons(settings)
    async with runtime(settings, lessons) as state:
        service = state.service
        if not exemplars:
            for lesson in lessons.values():
                for q in lesson.questions:
                    await service.exemplars.set(lesson.id, q.id, [])
        started = time.perf_counter()
        graded = [
            (row, await service.grade(row.lesson_id, row.question_id, row.answer)) for row in bank
        ]
        elapsed = time.perf_counter() - started
    summary = summarize(graded)
    on = {True: "on", False: "off"}
    print(f"exemplars: {on[exemplars]}; LLM: {on[llm]}; reader: {on[reader]}")
    print("\n".join(summary.lines()))
    print(f"graded {summary.n} answers in {elapsed:.1f} s")
    if verbose:
        for row, label, percent in summary.wrong:
            print(
                f"- {row.question_id} want {row.label}, got {label} ({percent:.2f}): {row.answer}"
            )
        for row, found in summary.harmed:
            print(f"! {row.question_id} {row.label} told {found}: {row.answer}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llm", action="store_true")
    parser.add_argument("--no-exemplars", action="store_true")
    parser.add_argument("--no-reader", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.llm, not args.no_exemplars, args.verbose, not args.no_reader))
