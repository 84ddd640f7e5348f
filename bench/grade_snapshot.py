"""Grade the lesson answer bank and write (or check) its grade record: the same answers must
get the same grades across a refactoring.

    python -m bench.grade_snapshot [--check] [--output tests/data/lesson_bank_grades.json]

Embeddings only (no LLM), once with the reader off and once with it on (the default), the
reader in float32 whatever the CPU (``reader_precision=auto`` reads in bf16 where the CPU has
it, a few thousandths away: tests/test_same_grades.py checks its labels apart). Write
the record with the code before a change, then ``--check`` (or ``tests/test_same_grades.py``)
after it. Regenerate it, with a commit saying why, only when grades are meant to change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from graders.evaluation.bank import read_bank
from graders.evaluation.grade_snapshot import differences, record
from models.precision import Precision

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "tests" / "data" / "lesson_answers.jsonl"
RECORD = ROOT / "tests" / "data" / "lesson_bank_grades.json"


async def grade_bank(reader: bool, precision: Precision = "fp32") -> list[dict[str, Any]]:
    values = {"reader_enabled": reader, "reader_precision": precision, "llm_enabled": False}
    settings = Settings().model_copy(update=values)
    lessons = load_all_lessons(settings)
    async with runtime(settings, lessons) as state:
        return [
            record(await state.service.grade(row.lesson_id, row.question_id, row.answer))
            for row in read_bank(BANK)
        ]


async def grade_all() -> dict[str, list[dict[str, Any]]]:
    return {"reader_off": await grade_bank(False), "reader_on": await grade_bank(True)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the record")
    parser.add_argument("--output", type=Path, default=RECORD)
    args = parser.parse_args()
    now = asyncio.run(grade_all())
    if not args.check:
        args.output.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {sum(map(len, now.values()))} grades to {args.output}")
        return 0
    old = json.loads(args.output.read_text())
    changed = [f"{k}{d}" for k in now for d in differences(old.get(k, []), now[k])]
    print("\n".join(changed[:50]) or "same grades")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
