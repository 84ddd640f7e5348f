"""Teacher in the loop, measured on SAF unseen_questions: how many answers must a teacher
review before the class's labels are right?

For each question of the split, with the real objects the app wires together
(app/grades.py): a GradeStore on a fresh SQLite file, the GradeBook, Teaching and the
GradingService built as ``rubricate serve`` builds it (all-MiniLM-L6-v2, embeddings only,
the shipped calibration), this

1. grades every answer once (``GradeBook.grade``, stored as revision 1);
2. simulates a teacher: take answers to review (see the policies below), give each its
   SAF grade (label and score) through ``Teaching.review_many`` (the ``POST /v1/reviews``
   path: the reviewed answer becomes an exemplar and fits the question's offset and
   cuts), then ``regrade(..., apply=True)`` (``POST .../regrade?apply=true``) re-grades the
   question's unreviewed answers. The teacher reviews ``--every`` answers (2, chosen for
   time) between two regrades, and always stops at 5, 10 and 20 so those points are exact;
3. after each step reads the store: a label is right when the stored grade's label is the
   SAF label (a reviewed grade is the teacher's, so it is right, and is counted from the
   store, not assumed).

Policies:

- ``queue``: the top group of the real review queue (``review_queue``, limit 1). The
  console shows each answer of a group and lets the teacher apply one decision to all of
  them; a simulated teacher who reads every answer gives each its own SAF grade, so every
  member counts as one reviewed answer (members with the same grade go in one
  ``review_many`` call, as "apply to the whole group" would send them).
- ``random``: answers in a random order (fixed seeds), with the same learning and regrade.
- ``random, no learning``: random order, the review stored the same way, but the grader
  learns nothing (``Teaching.teach`` does nothing): the pure review baseline.

SAF questions come without a YAML rubric: each gets the rubric the service builds from
its reference answer (``GradingService.inline_lesson``, as ``rubricate eval`` grades it),
registered in the service's lessons under its id, as a question the teacher added. An
inline grade (``/v1/grade/inline``) teaches nothing, having no lasting identity; this
gives it one. Nothing is fitted on the measured split: the settings (``--every``, the
checkpoints, the seeds) were fixed before the first run.

Reported: the accuracy of the grades not yet reviewed after 5, 10 and 20 reviewed
answers per question (queue against random), and the share of the class's answers a
teacher reviews (the same number per question) before 95% of its labels are right.

Run: ``python -m bench.teacher_loop`` (about 5 minutes on 2 cores); the plot goes to
``docs/teacher-loop.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from bench.teacher_loop_report import (
    class_curve,
    open_accuracy,
    plot,
    report,
    reviewed_to_reach,
)
from bench.teacher_loop_sim import (
    Curve,
    Gold,
    Picker,
    Point,
    Results,
    new_question,
    queue_picker,
    random_picker,
    simulate,
)
from graders.evaluation.datasets import Dataset, Item, read_dataset
from graders.evaluation.semeval import datasets_dir

# Re-exported: tests/test_teacher_loop.py imports the simulation and figures from here.
__all__ = [
    "Curve",
    "Gold",
    "Picker",
    "Point",
    "class_curve",
    "main",
    "measure",
    "open_accuracy",
    "queue_picker",
    "random_picker",
    "reviewed_to_reach",
    "simulate",
]

ROOT = Path(__file__).resolve().parent.parent
SPLIT = datasets_dir() / "saf" / "unseen_questions"  # RUBRICATE_DATASETS_DIR
PLOT = ROOT / "docs" / "teacher-loop.png"
POLICIES = ("queue", "random", "random, no learning")


async def measure(split: Path, seeds: Sequence[int], every: int) -> Results:
    settings = Settings().model_copy(update={"llm_enabled": False})
    data = read_dataset(split)
    results = Results({p: [[] for _ in (seeds if p != "queue" else [0])] for p in POLICIES})
    started = time.perf_counter()
    async with runtime(settings, load_all_lessons(settings)) as state:
        service = state.service
        with tempfile.TemporaryDirectory() as tmp:
            for qid, q in sorted(data.questions.items()):
                lesson = await new_question(service, q.prompt, q.reference_answer, qid)
                results.questions.append(qid)
                answers = _answers(data, qid)
                runs: list[tuple[str, int, Picker, bool]] = [("queue", 0, queue_picker, True)]
                for i, seed in enumerate(seeds):
                    runs.append(("random", i, random_picker(seed), True))
                    runs.append(("random, no learning", i, random_picker(seed), False))
                for policy, i, pick, learn in runs:
                    began = time.perf_counter()
                    curve = await simulate(
                        service,
                        lesson,
                        lesson.questions[0],
                        answers,
                        pick,
                        learn=learn,
                        every=every,
                        database=Path(tmp) / f"{qid}-{policy}-{i}.db",
                    )
                    results.runs[policy][i].append(curve)
                    print(
                        f"  {qid} {policy} (run {i + 1}): labels right "
                        f"{curve.points[0].right}/{curve.total} at first, "
                        f"{time.perf_counter() - began:.0f} s",
                        flush=True,
                    )
    results.seconds = time.perf_counter() - started
    return results


def _answers(data: Dataset, qid: str) -> list[tuple[str, str, Gold]]:
    out = []
    for item in data.items:
        if item.question_id == qid:
            out.append((item.id, item.answer, _gold(item)))
    return out


def _gold(item: Item) -> Gold:
    if item.label is None:
        raise ValueError(f"{item.id} has no label")
    return Gold(item.label, item.score)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", type=Path, default=SPLIT)
    parser.add_argument("--seeds", type=int, default=2, help="random orders averaged")
    parser.add_argument("--every", type=int, default=2, help="reviews between two regrades")
    parser.add_argument("--plot", type=Path, default=PLOT)
    args = parser.parse_args()
    results = asyncio.run(measure(args.split, range(args.seeds), args.every))
    print("\n".join(report(results)))
    plot(results, args.plot)
    print(f"plot: {args.plot}; {results.seconds:.0f} s (regrade every {args.every} reviews)")


if __name__ == "__main__":
    main()
