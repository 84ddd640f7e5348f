"""Helpers for the batch tests: class files, database URLs (SQLite, PostgreSQL), polling."""

from __future__ import annotations

import csv
import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graders.store.grade_rows import NewGrade

LESSON = "demo-photosynthesis"
PG_BASE = os.environ.get("RUBRICATE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

Q1 = [
    "Plants need sunlight, carbon dioxide and water. They make glucose and release oxygen.",
    "It takes in CO2 and water and uses light energy; the products are glucose and oxygen.",
    "Plants take in oxygen and give off carbon dioxide.",
    "Light and water. It makes sugar.",
    "The plant absorbs oxygen to make food.",
    "I am not sure, something about the sun.",
    "photosynthesis uses light, water and carbon dioxide",
    "It produces sugar and releases oxygen.",
]
# The LLM's verdict on an answer to q1 that names what goes in and only oxygen coming out.
Q1_REPLY: dict[str, Any] = {
    "key_points": {
        "needs-light-co2-water": {
            "verdict": "met",
            "evidence": "sunlight, carbon dioxide and water",
            "reason": "names all three",
        },
        "makes-glucose-oxygen": {
            "verdict": "partial",
            "evidence": "they give off oxygen",
            "reason": "oxygen only",
        },
    },
    "misconceptions": {"plants-breathe-in-oxygen": {"present": False, "evidence": ""}},
    "feedback": "Name the sugar too.",
}
Q2 = [
    "In the chloroplasts, which contain chlorophyll that absorbs light.",
    "It happens in the chloroplasts.",
    "In the mitochondria.",
    "In the roots of the plant.",
    "The green pigment chlorophyll captures sunlight inside chloroplasts.",
    "In the nucleus.",
]


def class_rows(n: int, *, unique: bool = False) -> list[dict[str, str]]:
    """n rows: students answering q1 and q2 in turn, answers drawn from a small pool.

    ``unique`` appends the student's number in words, so every answer is graded.
    """
    out = []
    for i in range(n):
        student = f"s{i // 2:05d}"
        question = "q1" if i % 2 == 0 else "q2"
        pool = Q1 if question == "q1" else Q2
        answer = pool[(i * 7 + i // 5) % len(pool)]
        if unique:
            answer = f"{answer} (Answer number {i}.)"
        elif i % 3 == 0:
            answer = "  " + answer.replace(" ", "   ") + "  "  # same after normalising
        out.append(
            {
                "row_id": f"r{i}",
                "student_id": student,
                "lesson_id": LESSON,
                "question_id": question,
                "answer": answer,
            }
        )
    return out


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def wait_done(client: httpx.Client, batch_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info: dict[str, Any] = client.get(f"/v1/batches/{batch_id}").json()
        if info["status"] in ("done", "cancelled", "failed"):
            return info
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not finish in {timeout}s")


def pg_available() -> str | None:
    """None when PostgreSQL answers, otherwise why not."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_BASE, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure means no server for us
        return f"PostgreSQL at {PG_BASE} unreachable: {type(exc).__name__}: {exc}"[:300]
    return None


def pg_schema_url(base: str = PG_BASE, prefix: str = "rubricate_test") -> Iterator[str]:
    """A fresh schema for this run; dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def database_urls(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp / 'batches.db'}"
        return
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    yield from pg_schema_url()


def new_grade(answer: str = "an answer", refinement: str = "pending", **fields: Any) -> NewGrade:
    """A grade as the API stores it: ``LESSON``'s q1 by student s1, "incorrect" by embeddings
    (``fields`` replace any of that)."""
    values: dict[str, Any] = {
        "source": "api",
        "lesson_id": LESSON,
        "question_id": "q1",
        "student_id": "s1",
        "answer": answer,
        "inline": None,
        "graded_by": "embedding",
        "result": '{"label": "incorrect"}',
        "label": "incorrect",
        "needs_review": True,
        "confidence": 0.4,
        "rubric_hash": "r1",
        "exemplar_set": "none",
        "refinement": refinement,
    }
    values.update(fields)
    return NewGrade(**values)
