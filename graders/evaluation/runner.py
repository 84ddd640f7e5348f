"""Grading a dataset through the GradingService: in parallel, resumable, features kept.

Every answer goes through ``GradingService.grade_question`` (a YAML rubric where the
dataset's question id names one as ``lesson/question``, else a rubric built from the
reference answer). What comes back (the uncalibrated grade and the features) is appended
to a JSONL cache, keyed by answer, rubric, models and feature names, so an interrupted
run resumes and a second run (another calibration, the report) costs nothing. An answer
whose LLM verdict failed is not cached, so a later run asks the LLM again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from graders.calibration.features import FEATURES, Features
from graders.calibration.prediction import question_key
from graders.core.result import GradeResult
from graders.evaluation.datasets import Dataset, DatasetQuestion, Item
from graders.service.grading_service import GradingService
from graders.verdict.reader_verdicts import CONTRADICTED
from rubrics import Lesson, Question

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Record:
    """One graded answer: the uncalibrated grade, its features and the feedback given."""

    item_id: str
    key: str
    percent: float
    label: str
    features: Features
    feedback: str
    question: str = ""
    contradicted: bool = False  # the reader read a key point as contradicted (SemEval's label)

    def to_json(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "key": self.key,
            "percent": self.percent,
            "label": self.label,
            "features": self.features,
            "feedback": self.feedback,
            "contradicted": self.contradicted,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Record:
        return Record(
            item_id=str(data["item_id"]),
            key=str(data["key"]),
            percent=float(data["percent"]),
            label=str(data["label"]),
            features={k: float(v) for k, v in data["features"].items()},
            feedback=str(data.get("feedback", "")),
            contradicted=bool(data.get("contradicted", False)),
        )


def _key(item: Item, lesson: Lesson, question: Question, service: GradingService) -> str:
    llm = service.llm.model if service.llm else "none"
    exemplars = service.exemplars.set_id(lesson.id, question.id)
    parts = [item.id, item.answer, lesson.content_hash, exemplars, service.embedding.model, llm]
    parts += FEATURES
    # The reader and the grading settings decide the label too.
    parts += [service.reader.model if service.reader else "no reader"]
    parts += [service.config.model_dump_json()]
    text = "\x1f".join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def reader_contradicted(result: GradeResult) -> bool:
    """Whether the reader read any key point of the answer as contradicted."""
    verdicts = (k.graders.get("reader") for k in result.key_points)
    return any(v is not None and v.flagged == CONTRADICTED for v in verdicts)


def _feedback(result_feedback: str, key_point_feedback: list[str]) -> str:
    return " ".join([result_feedback, *key_point_feedback]).strip()


async def rubric_for(service: GradingService, question: DatasetQuestion) -> tuple[Lesson, Question]:
    if "/" in question.id:
        lesson_id, question_id = question.id.split("/", 1)
        lesson = service.lessons.get(lesson_id)
        found = lesson.question(question_id) if lesson else None
        if lesson is not None and found is not None:
            return lesson, found
    lesson = await service.inline_lesson(
        question.prompt, question.reference_answer, 1.0, question.id
    )
    return lesson, lesson.questions[0]


def read_cache(path: Path | None) -> dict[str, Record]:
    if path is None or not path.exists():
        return {}
    found: dict[str, Record] = {}
    for line in path.read_text().splitlines():
        try:
            record = Record.from_json(json.loads(line))
        except (ValueError, KeyError):
            continue  # a line cut short by an interrupted run
        found[record.key] = record
    return found


async def grade_dataset(
    service: GradingService,
    dataset: Dataset,
    *,
    cache: Path | None = None,
    concurrency: int = 16,
    progress: Progress | None = None,
) -> list[Record]:
    """Records for every item of the dataset, in its order (grading only what is not cached)."""
    rubrics = {qid: await rubric_for(service, q) for qid, q in dataset.questions.items()}
    known = read_cache(cache)
    keys = [_key(item, *rubrics[item.question_id], service) for item in dataset.items]
    records: dict[str, Record] = {k: known[k] for k in keys if k in known}
    if progress and records:
        progress(len(records))
    todo = [(item, key) for item, key in zip(dataset.items, keys, strict=True) if key not in known]
    limit = asyncio.Semaphore(concurrency)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
    out = cache.open("a", encoding="utf-8") if cache is not None else None

    async def one(item: Item, key: str) -> None:
        lesson, question = rubrics[item.question_id]
        async with limit:
            result, features = await service.grade_question(
                lesson, question, item.answer, features=True
            )
        assert features is not None
        record = Record(
            item_id=item.id,
            key=key,
            percent=result.percent,
            label=result.label.value,
            features=features,
            feedback=_feedback(
                result.feedback.summary,
                [k.feedback for k in result.key_points if k.status.value != "met"][:3],
            ),
            contradicted=reader_contradicted(result),
        )
        records[key] = record
        # An answer whose LLM verdict failed (timeout, server down) is kept for this run but
        # not cached under the LLM's name: the next run grades it again.
        llm = result.graders.get("llm")
        if out is not None and not (llm is not None and llm.state == "unavailable"):
            out.write(json.dumps(record.to_json()) + "\n")
            out.flush()
        if progress:
            progress(1)

    try:
        await asyncio.gather(*(one(item, key) for item, key in todo))
    finally:
        if out is not None:
            out.close()
    question_keys = {
        qid: question_key(q.prompt, q.reference_answer) for qid, (_, q) in rubrics.items()
    }
    return [
        replace(records[k], question=question_keys[item.question_id])
        for k, item in zip(keys, dataset.items, strict=True)
    ]
