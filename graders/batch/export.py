"""Batch results out: one record per input row, as CSV or JSON Lines.

Each row shows its grade as it stands now: the stored grade's current revision when the
grade store has it (refined by the LLM, or the teacher's), else the batch's first grade.
``graded_by`` and ``refinement`` say which phase a row reflects.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from graders.store.batch_rows import ResultRow

CSV_COLUMNS = [
    "line",
    "row_id",
    "student_id",
    "lesson_id",
    "question_id",
    "status",
    "score",
    "max_score",
    "percent",
    "label",
    "needs_review",
    "key_points_met",
    "misconceptions",
    "feedback",
    "error",
    "graded_by",
    "refinement",
    "grade_id",
]


def take(rows: Iterator[ResultRow], n: int) -> list[ResultRow]:
    page: list[ResultRow] = []
    for row in rows:
        page.append(row)
        if len(page) >= n:
            break
    return page


def csv_line(values: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue().encode("utf-8")


def _result(row: ResultRow) -> dict[str, Any] | None:
    if row.result is None:
        return None
    result: dict[str, Any] = json.loads(row.result)
    result["student_id"] = row.student_id
    return result


def jsonl_record(row: ResultRow) -> dict[str, Any]:
    return {
        "line": row.line,
        "row_id": row.row_id,
        "student_id": row.student_id,
        "lesson_id": row.lesson_id,
        "question_id": row.question_id,
        "status": row.status,
        "error": row.error,
        "result": _result(row),
    }


def csv_record(row: ResultRow) -> list[Any]:
    result = _result(row)
    base: list[Any] = [
        row.line,
        row.row_id or "",
        row.student_id or "",
        row.lesson_id or "",
        row.question_id or "",
        row.status,
    ]
    if result is None:
        return [*base, "", "", "", "", "", "", "", "", row.error or "", "", "", ""]
    met = [k["id"] for k in result["key_points"] if k["status"] == "met"]
    return [
        *base,
        result["score"],
        result["max_score"],
        result["percent"],
        result["label"],
        str(result["needs_review"]).lower(),
        ";".join(met),
        ";".join(m["id"] for m in result["misconceptions"]),
        result["feedback"]["summary"],
        "",
        result.get("graded_by", "embedding"),
        result.get("refinement", "none"),
        result.get("grade_id") or "",
    ]
