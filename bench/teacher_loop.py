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
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.runtime import load_all_lessons, runtime
from app.settings import Settings
from graders.evaluation.datasets import Dataset, Item, read_dataset
from graders.grades.book import GradeBook
from graders.grades.queue import review_queue
from graders.grades.regrade import regrade
from graders.grades.review import TeacherReview
from graders.grades.store import GradeStore, StoredGrade
from graders.grades.teaching import Teaching
from graders.result import Label
from graders.service import GradingService
from rubrics import Lesson, Question

ROOT = Path(__file__).resolve().parent.parent
SPLIT = ROOT / "data" / "saf" / "unseen_questions"
PLOT = ROOT / "docs" / "teacher-loop.png"
CHECKPOINTS = (5, 10, 20)
TARGET = 0.95
WHO = "simulated teacher"


@dataclass(frozen=True)
class Gold:
    """The grade the simulated teacher gives: the dataset's label, and its score as a
    fraction of full marks."""

    label: Label
    score: float


@dataclass(frozen=True)
class Point:
    """The question's grades after the teacher reviewed ``reviewed`` of its answers."""

    reviewed: int
    right: int  # labels right, reviewed ones included
    unreviewed_right: int
    unreviewed: int


@dataclass
class Curve:
    total: int
    points: list[Point] = field(default_factory=list)

    def at(self, reviewed: int) -> Point:
        """The state once ``reviewed`` answers are reviewed (the last step not past it)."""
        return [p for p in self.points if p.reviewed <= reviewed][-1]


# Picks the next grades to review: (book, question, unreviewed grades, room) -> grade ids.
Picker = Callable[[GradeBook, Lesson, Question, list[StoredGrade], int], Awaitable[list[str]]]


async def queue_picker(
    book: GradeBook, lesson: Lesson, question: Question, waiting: list[StoredGrade], room: int
) -> list[str]:
    """The top group of the real review queue, up to ``room`` of its answers."""
    queue = await review_queue(book, lesson.id, question.id, limit=1)
    return queue.groups[0].grade_ids[:room]


def random_picker(seed: int) -> Picker:
    """Answers in one random order of their students, the same for a seed in every run."""
    rng = random.Random(seed)
    keys: dict[str, float] = {}

    async def pick(
        book: GradeBook, lesson: Lesson, question: Question, waiting: list[StoredGrade], room: int
    ) -> list[str]:
        for student in sorted(str(g.student_id) for g in waiting):
            keys.setdefault(student, rng.random())
        return [g.id for g in sorted(waiting, key=lambda g: keys[str(g.student_id)])][:room]

    return pick


class NoLearning(Teaching):
    """The review path with the grader learning nothing (the pure review baseline)."""

    async def teach(self, lesson: Lesson, question: Question) -> str:
        return self.book.service.exemplars.set_id(lesson.id, question.id)


async def new_question(service: GradingService, prompt: str, reference: str, qid: str) -> Lesson:
    """The rubric built from a reference answer, kept among the service's lessons."""
    lesson = await service.inline_lesson(prompt, reference, 1.0, qid)
    service.lessons[lesson.id] = lesson
    return lesson


async def simulate(
    service: GradingService,
    lesson: Lesson,
    question: Question,
    answers: Sequence[tuple[str, str, Gold]],
    pick: Picker,
    *,
    learn: bool,
    every: int = 1,
    database: Path,
    checkpoints: Sequence[int] = CHECKPOINTS,
) -> Curve:
    """One teacher working through one question's answers ((student, answer, gold) each)."""
    await service.set_exemplars(lesson, question, [])  # nothing learned from an earlier run
    store = await asyncio.to_thread(GradeStore, f"sqlite:///{database}")
    try:
        book = GradeBook(service, store, refine=False)
        teaching = Teaching(book) if learn else NoLearning(book)
        gold: dict[str, Gold] = {}
        max_score = 1.0
        for student, answer, truth in answers:
            result = await book.grade(lesson.id, question.id, answer, student_id=student)
            assert result.grade_id is not None
            gold[result.grade_id], max_score = truth, result.max_score
        curve = Curve(total=len(gold))
        curve.points.append(await _point(book, lesson, question, gold))
        reviewed = 0
        while reviewed < len(gold):
            room = min([every] + [c - reviewed for c in checkpoints if c > reviewed])
            waiting = await _of(book, lesson, question, reviewed=False)
            chosen = await pick(book, lesson, question, waiting, room)
            if not chosen or not set(chosen) <= {g.id for g in waiting}:
                raise RuntimeError(f"the picker chose {chosen} of {len(waiting)} waiting")
            same: dict[Gold, list[str]] = {}
            for grade_id in chosen:
                same.setdefault(gold[grade_id], []).append(grade_id)
            for truth, ids in same.items():
                points = round(truth.score * max_score, 4)  # a review's score is in points
                review = TeacherReview(label=truth.label, score=points, reviewer=WHO)
                await teaching.review_many(ids, review, WHO)
            reviewed += len(chosen)
            if learn:
                await regrade(book, lesson.id, question.id, apply=True)
            curve.points.append(await _point(book, lesson, question, gold))
        return curve
    finally:
        store.close()
        await service.set_exemplars(lesson, question, [])


async def _of(
    book: GradeBook, lesson: Lesson, question: Question, *, reviewed: bool | None
) -> list[StoredGrade]:
    store = book.store
    return await asyncio.to_thread(store.of_question, lesson.id, question.id, reviewed=reviewed)


async def _point(
    book: GradeBook, lesson: Lesson, question: Question, gold: dict[str, Gold]
) -> Point:
    grades = await _of(book, lesson, question, reviewed=None)
    right = [g.label == gold[g.id].label.value for g in grades]
    open_ = [ok for g, ok in zip(grades, right, strict=True) if g.review is None]
    return Point(len(grades) - len(open_), sum(right), sum(open_), len(open_))


def class_curve(curves: Sequence[Curve]) -> list[tuple[float, float]]:
    """(share of the class's answers reviewed, share of its labels right) with the teacher
    reviewing the same number of answers of every question, from none to all."""
    total = sum(c.total for c in curves)
    out = []
    for n in range(max(c.total for c in curves) + 1):
        points = [c.at(n) for c in curves]
        out.append((sum(p.reviewed for p in points) / total, sum(p.right for p in points) / total))
    return out


def reviewed_to_reach(curve: Sequence[tuple[float, float]], target: float = TARGET) -> float:
    """The share reviewed when the share of labels right first reaches ``target``."""
    return next(x for x, y in curve if y >= target - 1e-12)


def open_accuracy(curves: Sequence[Curve], n: int) -> float:
    """Accuracy of the grades not yet reviewed once ``n`` answers a question are reviewed."""
    points = [c.at(n) for c in curves]
    waiting = sum(p.unreviewed for p in points)
    return sum(p.unreviewed_right for p in points) / waiting if waiting else 1.0


def mean_curve(runs: Sequence[Sequence[Curve]]) -> list[tuple[float, float]]:
    """The class curves of several runs (seeds), averaged point by point."""
    each = [class_curve(run) for run in runs]
    return [
        (sum(c[i][0] for c in each) / len(each), sum(c[i][1] for c in each) / len(each))
        for i in range(len(each[0]))
    ]


@dataclass
class Results:
    runs: dict[str, list[list[Curve]]]  # policy -> runs (seeds) -> one curve a question
    questions: list[str] = field(default_factory=list)
    seconds: float = 0.0


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


def report(results: Results, checkpoints: Sequence[int] = CHECKPOINTS) -> list[str]:
    queue = results.runs["queue"][0]
    randoms = results.runs["random"]
    plain = results.runs["random, no learning"]
    total = sum(c.total for c in queue)
    questions = len(queue)

    def mean(values: Sequence[float]) -> float:
        return sum(values) / len(values)

    lines = [
        f"SAF unseen_questions: {questions} questions, {total} answers; "
        f"random order over {len(randoms)} seeds",
        "",
        "| reviewed per question | share of the class | unreviewed right: queue + learning "
        "| random + learning | random, no learning |",
        "|---|---|---|---|---|",
    ]
    for n in (0, *checkpoints):
        lines.append(
            f"| {n} | {n * questions / total:.0%} | {open_accuracy(queue, n):.1%} "
            f"| {mean([open_accuracy(r, n) for r in randoms]):.1%} "
            f"| {mean([open_accuracy(r, n) for r in plain]):.1%} |"
        )
    lines += [
        "",
        f"| order | share reviewed before {TARGET:.0%} of the labels are right |",
        "|---|---|",
    ]
    for name, runs in (
        ("review queue + learning", [queue]),
        ("random + learning", randoms),
        ("random, no learning", plain),
    ):
        shares = [reviewed_to_reach(class_curve(run)) for run in runs]
        spread = f" (seeds: {', '.join(f'{s:.1%}' for s in shares)})" if len(shares) > 1 else ""
        lines.append(f"| {name} | {mean(shares):.1%}{spread} |")
    # What the target asks of the grades not reviewed at 30% reviewed.
    n = round(0.30 * total / questions)
    need = (TARGET - n * questions / total) / (1 - n * questions / total)
    lines += [
        "",
        f"At {n} reviewed per question ({n * questions / total:.0%}), 95% of the labels right "
        f"needs {need:.1%} of the unreviewed right; the queue + learning has "
        f"{open_accuracy(queue, n):.1%}.",
        "Per question, review queue + learning (share reviewed before 95% of its labels are "
        "right; unreviewed right at 0 / 20 reviewed):",
    ]
    for curve, qid in zip(queue, results.questions, strict=True):
        lines.append(
            f"  {qid}: {reviewed_to_reach(class_curve([curve])):.0%}; "
            f"{open_accuracy([curve], 0):.0%} / {open_accuracy([curve], 20):.0%}"
        )
    return lines


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    styles = {
        "queue": ("review queue + learning", "tab:blue", "-"),
        "random": ("random order + learning", "tab:orange", "-"),
        "random, no learning": ("random order, no learning", "tab:gray", "--"),
    }
    for policy, (name, color, line) in styles.items():
        curve = mean_curve(results.runs[policy])
        ax.plot([x for x, _ in curve], [y for _, y in curve], line, color=color, label=name)
    ax.axhline(TARGET, color="black", linewidth=0.8, linestyle=":")
    ax.axvline(0.30, color="tab:red", linewidth=0.8, linestyle=":", label="target: 30% reviewed")
    ax.set_xlabel("share of the class's answers reviewed (the same number per question)")
    ax.set_ylabel("share of labels right (reviewed ones count)")
    ax.set_title("Teacher in the loop on SAF unseen_questions (embeddings only)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0.5, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


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
