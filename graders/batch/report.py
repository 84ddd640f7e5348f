"""The class report: what the class did and did not understand, as JSON and as HTML.

Built in one pass over a batch's results (page by page from the store, so memory grows
with the number of questions and students, not rows). The HTML page is self-contained:
inline CSS and SVG charts, no scripts, nothing fetched.
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from graders.batch.models import BatchInfo
from graders.batch.store import ResultRow
from rubrics import Lesson

BINS = 10
HAS_IT = 0.75
PARTLY = 0.25
EXAMPLES = 3


class KeyPointStats(BaseModel):
    id: str
    text: str
    lesson_key_point: str
    met: int
    partial: int
    missing: int
    met_rate: float


class QuestionStats(BaseModel):
    lesson_id: str
    question_id: str
    prompt: str
    answers: int
    mean_percent: float
    distribution: list[int]  # answers per tenth of the max score: [0-10%), ..., [90-100%]
    labels: dict[str, int]
    key_points: list[KeyPointStats]


class LessonKeyPointStats(BaseModel):
    lesson_id: str
    id: str
    title: str
    students: int
    has_it: int
    partly: int
    not_yet: int
    share_has_it: float
    mean_credit: float


class StudentStats(BaseModel):
    student_id: str
    answered: int
    mastery: float
    labels: dict[str, int]
    weakest: list[str]


class Example(BaseModel):
    student_id: str | None
    line: int
    text: str


class MisconceptionStats(BaseModel):
    lesson_id: str
    question_id: str
    id: str
    text: str
    feedback: str
    count: int
    share: float
    examples: list[Example]


class ClassReport(BaseModel):
    batch: BatchInfo
    rows: int
    graded: int
    failed: int
    failure_reasons: dict[str, int]
    class_mastery: float
    questions: list[QuestionStats]
    lesson_key_points: list[LessonKeyPointStats]
    students: list[StudentStats]
    misconceptions: list[MisconceptionStats]


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
                    share=round(m.count / max(questions[(k[0], k[1])].answers, 1), 4),
                    examples=m.examples,
                )
                for k, m in misconceptions.items()
            ),
            key=lambda m: (-m.count, m.lesson_id, m.question_id, m.id),
        ),
    )


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


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
                met_rate=round(counts["met"] / total, 4) if total else 0.0,
            )
        )
    return QuestionStats(
        lesson_id=key[0],
        question_id=key[1],
        prompt=question.prompt if question else "",
        answers=q.answers,
        mean_percent=round(q.percent_sum / q.answers, 4) if q.answers else 0.0,
        distribution=q.distribution,
        labels=dict(q.labels),
        key_points=key_points,
    )


def _lesson_key_points(
    students: dict[str, _S], lessons: dict[str, Lesson]
) -> list[LessonKeyPointStats]:
    shares: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in students.values():
        for key, (credit, weight) in s.credit.items():
            if weight:
                shares[key].append(credit / weight)
    out = []
    for (lesson_id, lkp), values in sorted(shares.items()):
        lesson = lessons.get(lesson_id)
        title = next((k.title for k in lesson.key_points if k.id == lkp), lkp) if lesson else lkp
        has = sum(v >= HAS_IT for v in values)
        partly = sum(PARTLY <= v < HAS_IT for v in values)
        out.append(
            LessonKeyPointStats(
                lesson_id=lesson_id,
                id=lkp,
                title=title,
                students=len(values),
                has_it=has,
                partly=partly,
                not_yet=len(values) - has - partly,
                share_has_it=round(has / len(values), 4),
                mean_credit=_mean(values),
            )
        )
    return out


def _student(student_id: str, s: _S, lessons: dict[str, Lesson]) -> StudentStats:
    weak = sorted(
        ((c / w, lkp) for (_, lkp), (c, w) in s.credit.items() if w and c / w < HAS_IT),
    )
    return StudentStats(
        student_id=student_id,
        answered=s.answered,
        mastery=round(s.score / s.max_score, 4) if s.max_score else 0.0,
        labels=dict(s.labels),
        weakest=[lkp for _, lkp in weak[:3]],
    )


# -- HTML -------------------------------------------------------------------------------
GREEN, AMBER, RED, BLUE = "#2e7d32", "#f9a825", "#c62828", "#1565c0"
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1000px;color:#222;padding:0 1rem}h1{margin-bottom:.2rem}h2{border-bottom:2px solid
#eee;padding-bottom:.3rem;margin-top:2.5rem}.muted{color:#666}.cards{display:flex;gap:1rem;
flex-wrap:wrap}.card{background:#f5f7fa;border-radius:8px;padding:.8rem 1.2rem;min-width:8rem}
.card b{display:block;font-size:1.6rem}.q{margin:1.5rem 0;padding:1rem;border:1px solid #e3e3e3;
border-radius:8px}table{border-collapse:collapse;width:100%}td,th{padding:.3rem .5rem;
text-align:left;border-bottom:1px solid #eee;font-size:.92rem}blockquote{margin:.3rem 0 .3rem
1rem;color:#444;font-style:italic}.legend span{display:inline-block;width:.8rem;height:.8rem;
margin:0 .3rem 0 1rem;vertical-align:middle}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _histogram(values: list[int], color: str = BLUE, width: int = 420, height: int = 140) -> str:
    top = max(values) or 1
    bar = width / len(values)
    parts = [f'<svg width="{width}" height="{height + 30}" role="img" aria-label="distribution">']
    for i, v in enumerate(values):
        h = v / top * height
        x = i * bar
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{height - h:.1f}" width="{bar - 4:.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>{i * 10}-{i * 10 + 10}%: {v}</title></rect>'
        )
        if v:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - h - 3:.1f}" font-size="10" '
                f'text-anchor="middle">{v}</text>'
            )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{height + 14}" font-size="10" '
            f'text-anchor="middle">{i * 10}%</text>'
        )
    parts.append(f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/></svg>')
    return "".join(parts)


def _stacked(rows: list[tuple[str, list[int]]], colors: list[str], width: int = 900) -> str:
    """Horizontal 100% stacked bars, one per labelled row."""
    label_w, bar_w, row_h = 360, width - 420, 24
    height = row_h * len(rows) + 4
    parts = [f'<svg width="{width}" height="{height}" role="img">']
    for i, (label, counts) in enumerate(rows):
        y = i * row_h + 2
        total = sum(counts) or 1
        short = label if len(label) <= 55 else label[:52] + "..."
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12"><title>{_e(label)}</title>{_e(short)}</text>'
        )
        x = float(label_w)
        for count, color in zip(counts, colors, strict=True):
            w = count / total * bar_w
            if w > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
                    f'fill="{color}"><title>{count} ({_pct(count / total)})</title></rect>'
                )
            x += w
        first = counts[0] / total
        parts.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}" font-size="12">{_pct(first)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _bar(value: float, color: str, width: int = 160) -> str:
    return (
        f'<svg width="{width}" height="12"><rect width="{width}" height="12" fill="#eee"/>'
        f'<rect width="{value * width:.1f}" height="12" fill="{color}"/></svg>'
    )


def _legend(items: list[tuple[str, str]]) -> str:
    return (
        '<p class="legend">'
        + "".join(f'<span style="background:{c}"></span>{_e(t)}' for t, c in items)
        + "</p>"
    )


def render_html(report: ClassReport) -> str:
    b = report.batch
    mastery_bins = [0] * BINS
    for s in report.students:
        mastery_bins[min(int(s.mastery * BINS), BINS - 1)] += 1
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Class report: {_e(b.filename or b.id)}</title><style>{CSS}</style></head><body>",
        f"<h1>Class report</h1><p class='muted'>{_e(b.filename or '')} · batch {_e(b.id)} · "
        f"{_e(b.status)} · {b.created_at:%Y-%m-%d %H:%M} UTC</p>",
        "<div class='cards'>",
        f"<div class='card'><b>{len(report.students)}</b>students</div>",
        f"<div class='card'><b>{report.graded}</b>answers graded</div>",
        f"<div class='card'><b>{_pct(report.class_mastery)}</b>class mastery</div>",
        f"<div class='card'><b>{report.failed}</b>rows not graded</div></div>",
        "<h2>How the class did</h2><p>Students by mastery (share of available points):</p>",
        _histogram(mastery_bins),
    ]
    if report.lesson_key_points:
        out.append("<h2>Lesson key points: who has it</h2>")
        out.append(
            _legend([("has it", GREEN), ("partly", AMBER), ("not yet", RED)])
            + _stacked(
                [
                    (f"{k.title} ({k.lesson_id})", [k.has_it, k.partly, k.not_yet])
                    for k in report.lesson_key_points
                ],
                [GREEN, AMBER, RED],
            )
        )
    if report.misconceptions:
        out.append("<h2>Most common misconceptions</h2>")
        for m in report.misconceptions[:10]:
            out.append(
                f"<div class='q'><b>{_e(m.text)}</b> <span class='muted'>({_e(m.question_id)}: "
                f"{m.count} answers, {_pct(m.share)})</span><br>{_bar(m.share, RED, 300)}"
                f"<p>{_e(m.feedback)}</p>"
                + "".join(
                    f"<blockquote>“{_e(x.text)}” — {_e(x.student_id or '?')}, line {x.line}"
                    "</blockquote>"
                    for x in m.examples
                )
                + "</div>"
            )
    out.append("<h2>Questions</h2>")
    for q in report.questions:
        out.append(
            f"<div class='q'><h3>{_e(q.lesson_id)} / {_e(q.question_id)}</h3>"
            f"<p>{_e(q.prompt)}</p><p class='muted'>{q.answers} answers · mean "
            f"{_pct(q.mean_percent)} · "
            + ", ".join(f"{_e(k)}: {v}" for k, v in sorted(q.labels.items()))
            + "</p>"
            + _histogram(q.distribution)
            + _legend([("met", GREEN), ("partial", AMBER), ("missing", RED)])
            + _stacked(
                [(k.text, [k.met, k.partial, k.missing]) for k in q.key_points],
                [GREEN, AMBER, RED],
            )
            + "</div>"
        )
    out.append(
        "<h2>Students</h2><table><tr><th>student</th><th>answered</th><th>mastery</th>"
        "<th></th><th>work on</th></tr>"
    )
    for s in report.students:
        color = GREEN if s.mastery >= HAS_IT else AMBER if s.mastery >= 0.4 else RED
        out.append(
            f"<tr><td>{_e(s.student_id)}</td><td>{s.answered}</td><td>{_pct(s.mastery)}</td>"
            f"<td>{_bar(s.mastery, color)}</td><td>{_e(', '.join(s.weakest))}</td></tr>"
        )
    out.append("</table>")
    if report.failure_reasons:
        out.append("<h2>Rows not graded</h2><table>")
        out.extend(
            f"<tr><td>{_e(reason)}</td><td>{n}</td></tr>"
            for reason, n in report.failure_reasons.items()
        )
        out.append("</table>")
    out.append("</body></html>")
    return "".join(out)
