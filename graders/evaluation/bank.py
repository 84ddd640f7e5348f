"""A lesson answer bank: student answers to a lesson's questions, each with its expected label.

The bank tests the grader; a rubric's exemplars teach it. An answer is one or the other,
never both (``overlap`` finds any that is both). ``summarize`` gives what a teacher cares
about: labels right, labels off by two (correct for incorrect or the reverse), and right
or partly right answers told they hold a misconception.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.core.result import GradeResult
from rubrics import Lesson

ORDER = {"incorrect": 0, "partially correct": 1, "correct": 2}


@dataclass(frozen=True)
class BankAnswer:
    lesson_id: str
    question_id: str
    answer: str
    label: str
    holds: tuple[str, ...] = ()
    note: str = ""


def read_bank(path: Path) -> list[BankAnswer]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        data: dict[str, Any] = json.loads(line)
        if data.get("label") not in ORDER:
            raise ValueError(f"{path}:{number}: label must be one of {sorted(ORDER)}")
        rows.append(
            BankAnswer(
                str(data["lesson_id"]),
                str(data["question_id"]),
                str(data["answer"]),
                str(data["label"]),
                tuple(data.get("holds", [])),
                str(data.get("note", "")),
            )
        )
    return rows


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def overlap(bank: Sequence[BankAnswer], lessons: dict[str, Lesson]) -> list[BankAnswer]:
    """Bank answers that are also an exemplar of their question (they must not be)."""
    taught = {
        (lesson.id, q.id, _norm(e.answer))
        for lesson in lessons.values()
        for q in lesson.questions
        for e in q.exemplars
    }
    return [b for b in bank if (b.lesson_id, b.question_id, _norm(b.answer)) in taught]


@dataclass
class Summary:
    n: int = 0
    right: int = 0
    off_by_two: list[tuple[BankAnswer, str]] = field(default_factory=list)
    harmed: list[tuple[BankAnswer, list[str]]] = field(default_factory=list)
    missed_misconceptions: int = 0
    review: int = 0
    per_question: dict[str, tuple[int, int]] = field(default_factory=dict)
    wrong: list[tuple[BankAnswer, str, float]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.n if self.n else 0.0

    def lines(self) -> list[str]:
        out = [
            f"labels right: {self.right}/{self.n} ({self.accuracy:.1%}); "
            f"off by two: {len(self.off_by_two)}; right or partly right answers told they "
            f"hold a misconception: {len(self.harmed)}; stated misconceptions not found: "
            f"{self.missed_misconceptions}; sent to review: {self.review}"
        ]
        out += [f"  {qid}: {right}/{n}" for qid, (right, n) in sorted(self.per_question.items())]
        return out


def summarize(graded: Sequence[tuple[BankAnswer, GradeResult]]) -> Summary:
    summary = Summary()
    for row, result in graded:
        key = f"{row.lesson_id}/{row.question_id}"
        right, n = summary.per_question.get(key, (0, 0))
        ok = result.label.value == row.label
        summary.per_question[key] = (right + ok, n + 1)
        summary.n += 1
        summary.right += ok
        summary.review += result.needs_review
        if not ok:
            summary.wrong.append((row, result.label.value, result.percent))
        if abs(ORDER[result.label.value] - ORDER[row.label]) == 2:
            summary.off_by_two.append((row, result.label.value))
        found = [m.id for m in result.misconceptions]
        if row.label != "incorrect" and set(found) - set(row.holds):
            summary.harmed.append((row, found))
        summary.missed_misconceptions += len(set(row.holds) - set(found))
    return summary
