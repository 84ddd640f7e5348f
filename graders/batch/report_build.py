"""Building the class report (what the class did and did not understand) in one pass over a
batch's results.

Results come page by page from the store, so memory grows with the number of questions
and students, not rows. The report's models are in :mod:`graders.batch.report_models`, its
self-contained HTML page (inline CSS and SVG, no scripts) in :mod:`graders.batch.report_html`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from graders.batch.report_models import (
    BINS,
    EXAMPLES,
    HAS_IT,
    PARTLY,
    ClassReport,
    Example,
    KeyPointStats,
    LessonKeyPointStats,
    MisconceptionStats,
    QuestionStats,
    StudentStats,
)
from graders.core.measures import share
from graders.store.batch_records import BatchInfo
from graders.store.batch_rows import ResultRow
from rubrics import Lesson


@dataclass
class _Q:
    answers: int = 0
    percent_sum: float = 0.0
    distribution: list[int] = field(default_factory=lambda: [0] * BINS)
    labels: Counter[str] = field(default_factory=Counter)
    key_points: dict[str, Counter[str]] = field(default_factory=dict)
    key_point_info: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class _S:
    answered: int = 0
    score: float = 0.0
    max_score: float = 0.0
    labels: Counter[str] = field(default_factory=Counter)
    credit: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # lkp -> [c, w]


@dataclass
class _M:
    text: str
    feedback: str
    count: int = 0
    examples: list[Example] = field(default_factory=list)


def _summary(raw: str) -> dict[str, Any]:
    """The parts of a GradeResult the report uses (parsed once per distinct answer)."""
    result = json.loads(raw)
    return {
        "percent": result["percent"],
        "score": result["score"],
        "max_score": result["max_score"],
        "label": result["label"],
        "key_points": [
            (k["id"], k["text"], k["lesson_key_point"], k["status"], k["credit"], k["weight"])
            for k in result["key_points"]
        ],
        "misconceptions": [
            (m["id"], m["text"], m["feedback"], (m.get("evidence") or {}).get("text"))
            for m in result["misconceptions"]
        ],
    }


def build_report(
    info: BatchInfo, results: Iterable[ResultRow], lessons: dict[str, Lesson]
) -> ClassReport:
    questions: dict[tuple[str, str], _Q] = defaultdict(_Q)
    students: dict[str, _S] = defaultdict(_S)
    misconceptions: dict[tuple[str, str, str], _M] = {}
    failures: Counter[str] = Counter()
    cache: dict[str, dict[str, Any]] = {}
    rows = graded = 0
    for row in results:
        rows += 1
        if row.status == "failed":
            failures[(row.error or "failed").split(":")[0][:80]] += 1
            continue
        if row.result is None or row.answer_hash is None:
            continue
        graded += 1
        summary = cache.get(row.answer_hash)
        if summary is None:
            if len(cache) > 4096:
                cache.clear()
            summary = cache[row.answer_hash] = _summary(row.result)
        lesson_id, question_id = row.lesson_id or "", row.question_id or ""
        q = questions[(lesson_id, question_id)]
        q.answers += 1
        q.percent_sum += summary["percent"]
        q.distribution[min(int(summary["percent"] * BINS), BINS - 1)] += 1
        q.labels[summary["label"]] += 1
        student = students[row.student_id or "(no id)"]
        student.answered += 1
        student.score += summary["score"]
        student.max_score += summary["max_score"]
        student.labels[summary["label"]] += 1
        for kp_id, text, lkp, status, credit, weight in summary["key_points"]:
            q.key_points.setdefault(kp_id, Counter())[status] += 1
            q.key_point_info[kp_id] = (text, lkp)
            acc = student.credit.setdefault((lesson_id, lkp), [0.0, 0.0])
            acc[0] += credit * weight
            acc[1] += weight
        for m_id, text, feedback, evidence in summary["misconceptions"]:
            m = misconceptions.setdefault((lesson_id, question_id, m_id), _M(text, feedback))
            m.count += 1
            fresh = bool(evidence) and all(e.text != evidence for e in m.examples)
            if fresh and evidence and len(m.examples) < EXAMPLES:
                m.examples.append(Example(student_id=row.student_id, line=row.line, text=evidence))
    return ClassReport(
        batch=info,
        rows=rows,
        graded=graded,
        failed=rows - graded,
        failure_reasons=dict(failures.most_common(20)),
        class_mastery=_mean([s.score / s.max_score for s in students.values() if s.max_score]),
        questions=[_question(k, q, lessons) for k, q in sorted(questions.items())],
        lesson_key_points=_lesson_key_points(students, lessons),
        students=sorted(
            (_student(sid, s, lessons) for sid, s in students.items()),
            key=lambda s: (s.mastery, s.student_id),
        ),
        misconceptions=sorted(
            (
                MisconceptionStats(
                    lesson_id=k[0],
                    question_id=k[1],
                    id=k[2],
                    text=m.text,
                    feedback=m.feedback,
                    count=m.count,
                    share=share(m.count, questions[(k[0], k[1])].answers),
                    examples=m.examples,
                )
                for k, m in misconceptions.items()
            ),
            key=lambda m: (-m.count, m.lesson_id, m.question_id, m.id),
        ),
    )


def _mean(values: list[float]) -> float:
    return share(sum(values), len(values))


def _question(key: tuple[str, str], q: _Q, lessons: dict[str, Lesson]) -> QuestionStats:
    lesson = lessons.get(key[0])
    question = lesson.question(key[1]) if lesson else None
    key_points = []
    for kp_id, counts in q.key_points.items():
        text, lkp = q.key_point_info[kp_id]
        total = sum(counts.values())
        key_points.append(
            KeyPointStats(
                id=kp_id,
                text=text,
                lesson_key_point=lkp,
                met=counts["met"],
                partial=counts["partial"],
                missing=counts["missing"],
                met_rate=share(counts["met"], total),
            )
        )
    return QuestionStats(
        lesson_id=key[0],
        question_id=key[1],
        prompt=question.prompt if question else "",
        answers=q.answers,
        mean_percent=share(q.percent_sum, q.answers),
        distribution=q.distribution,
        labels=dict(q.labels),
        key_points=key_points,
    )


def _lesson_key_points(
    students: dict[str, _S], lessons: dict[str, Lesson]
) -> list[LessonKeyPointStats]:
    """Each of a lesson's key points: every student's share of its credit, over all answers."""
    shares: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in students.values():
        for key, (credit, weight) in s.credit.items():
            if weight:
                shares[key].append(credit / weight)
    return [_lesson_key_point(key, values, lessons) for key, values in sorted(shares.items())]


def _lesson_key_point(
    key: tuple[str, str], shares: list[float], lessons: dict[str, Lesson]
) -> LessonKeyPointStats:
    lesson_id, lkp = key
    lesson = lessons.get(lesson_id)
    title = next((k.title for k in lesson.key_points if k.id == lkp), lkp) if lesson else lkp
    has = sum(v >= HAS_IT for v in shares)
    partly = sum(PARTLY <= v < HAS_IT for v in shares)
    return LessonKeyPointStats(
        lesson_id=lesson_id,
        id=lkp,
        title=title,
        students=len(shares),
        has_it=has,
        partly=partly,
        not_yet=len(shares) - has - partly,
        share_has_it=share(has, len(shares)),
        mean_credit=_mean(shares),
    )


def _student(student_id: str, s: _S, lessons: dict[str, Lesson]) -> StudentStats:
    weak = sorted(
        ((c / w, lkp) for (_, lkp), (c, w) in s.credit.items() if w and c / w < HAS_IT),
    )
    return StudentStats(
        student_id=student_id,
        answered=s.answered,
        mastery=share(s.score, s.max_score),
        labels=dict(s.labels),
        weakest=[lkp for _, lkp in weak[:3]],
    )
