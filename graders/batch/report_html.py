"""The class report as a self-contained HTML page: inline CSS and SVG charts, no scripts."""

from __future__ import annotations

import html

from graders.batch.report_models import BINS, HAS_IT, ClassReport

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
