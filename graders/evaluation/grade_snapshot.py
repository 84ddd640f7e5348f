"""The same answers get the same grades: a compact, comparable record of a set of grades.

``record`` keeps what a student and a teacher see of a grade (label, score, review, each key
point's status, credit and evidence, the misconceptions told, the feedback); ``differences``
lists where two records disagree, with scores compared to a tolerance so that a different
CPU's float rounding is not a change. ``python -m bench.grade_snapshot`` writes one for the
lesson answer bank; ``tests/test_same_grades.py`` compares today's grades with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graders.core.result import GradeResult

TOLERANCE = 1e-3


def record(result: GradeResult) -> dict[str, Any]:
    return {
        "label": result.label.value,
        "percent": round(result.percent, 4),
        "confidence": round(result.confidence, 4),
        "needs_review": result.needs_review,
        "review_reasons": list(result.review_reasons),
        "key_points": [
            {
                "id": kp.id,
                "status": kp.status.value,
                "credit": round(kp.credit, 4),
                "evidence": kp.evidence.text if kp.evidence else None,
                "feedback": kp.feedback,
                "chosen": kp.chosen,
                "graders": {
                    name: [v.status.value, v.flagged] for name, v in sorted(kp.graders.items())
                },
            }
            for kp in result.key_points
        ],
        "misconceptions": [
            [m.id, m.evidence.text if m.evidence else None] for m in result.misconceptions
        ],
        "feedback": result.feedback.summary,
    }


def _diff(path: str, old: Any, new: Any, out: list[str]) -> None:
    if isinstance(old, float) and isinstance(new, float | int):
        if abs(old - new) > TOLERANCE:
            out.append(f"{path}: {old} -> {new}")
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _diff(f"{path}.{key}", old.get(key), new.get(key), out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(f"{path}[{i}]", a, b, out)
    elif old != new:
        out.append(f"{path}: {old!r} -> {new!r}")


def differences(old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]) -> list[str]:
    """Where two records of the same answers disagree (empty when the grades are the same)."""
    if len(old) != len(new):
        return [f"{len(old)} grades recorded, {len(new)} now"]
    out: list[str] = []
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        _diff(f"[{i}]", a, b, out)
    return out
