"""Human-scored datasets: SAF XML folders and a generic JSONL format, read into one shape.

SAF (Filighera et al., ACL 2022): one XML file per question, scores as a fraction of full
marks, a three-way label and the teacher's written feedback. JSONL: one object a line,
``{"question_id", "question", "reference_answer", "answer", "score", "max_score",
"label"?, "feedback"?}``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from graders.core.result import Label

_LABELS = {
    "correct": Label.CORRECT,
    "partially correct": Label.PARTIALLY_CORRECT,
    "partially_correct": Label.PARTIALLY_CORRECT,
    "partial": Label.PARTIALLY_CORRECT,
    "incorrect": Label.INCORRECT,
}


def parse_label(value: object) -> Label | None:
    if value is None or value == "":
        return None
    label = _LABELS.get(str(value).strip().lower())
    if label is None:
        raise ValueError(f"unknown label {value!r}")
    return label


@dataclass(frozen=True)
class DatasetQuestion:
    id: str
    prompt: str
    reference_answer: str
    max_score: float


@dataclass(frozen=True)
class Item:
    """One human-scored answer."""

    id: str
    question_id: str
    answer: str
    score: float
    label: Label | None = None
    feedback: str | None = None
    accuracy: str | None = None  # SemEval-2013's 3-way label (graders.evaluation.semeval)


@dataclass
class Dataset:
    name: str
    questions: dict[str, DatasetQuestion]
    items: list[Item] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        return bool(self.items) and all(i.label is not None for i in self.items)

    @property
    def semeval(self) -> bool:
        """SemEval-2013 answers: labelled correct / contradictory / incorrect, not scored."""
        return bool(self.items) and all(i.accuracy is not None for i in self.items)

    def subset(self, per_question: int) -> Dataset:
        """The first ``per_question`` answers of every question (a fixed, small CI subset)."""
        counts: dict[str, int] = {}
        items = []
        for item in self.items:
            counts[item.question_id] = counts.get(item.question_id, 0) + 1
            if counts[item.question_id] <= per_question:
                items.append(item)
        return Dataset(self.name, self.questions, items)


def _text(node: ET.Element | None) -> str:
    return " ".join((node.text or "").split()) if node is not None else ""


def _block(node: ET.Element | None) -> str:
    """Text keeping line breaks (list items of reference answers), each line stripped."""
    if node is None:
        return ""
    lines = [" ".join(line.split()) for line in (node.text or "").splitlines()]
    return "\n".join(line for line in lines if line)


def read_saf_file(path: Path) -> tuple[DatasetQuestion, list[Item]]:
    root = ET.parse(path).getroot()
    # The file name, not the id attribute: three SAF files all say id="2.1".
    qid = path.stem.split("_")[0] or root.get("id") or path.stem
    reference = _block(root.find("referenceAnswers/referenceAnswer"))
    question = DatasetQuestion(qid, _text(root.find("questionText")), reference, 1.0)
    items: list[Item] = []
    for node in root.iterfind("studentAnswers/studentAnswer"):
        items.append(
            Item(
                id=node.get("id") or f"{qid}.{len(items) + 1}",
                question_id=qid,
                answer=_block(node.find("response")),
                score=float(_text(node.find("score")) or 0),
                label=parse_label(_text(node.find("verification_feedback"))),
                feedback=_text(node.find("response_feedback")) or None,
            )
        )
    return question, items


def read_saf(folder: Path) -> Dataset:
    """A SAF split folder (``.../training/english``, or ``.../training`` holding ``english``)."""
    if (folder / "english").is_dir():
        folder = folder / "english"
    files = sorted(folder.glob("*.xml"))
    if not files:
        raise FileNotFoundError(f"no SAF XML files in {folder}")
    dataset = Dataset(name=_name(folder), questions={})
    for path in files:
        question, items = read_saf_file(path)
        dataset.questions[question.id] = question
        dataset.items.extend(items)
    return dataset


def _name(folder: Path) -> str:
    return folder.parent.name if folder.name == "english" else folder.name


def read_jsonl(path: Path) -> Dataset:
    dataset = Dataset(name=path.stem, questions={})
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                qid = str(row["question_id"])
                if qid not in dataset.questions:
                    reference = str(row["reference_answer"]).strip()
                    max_score = float(row.get("max_score", 1.0))
                    if not reference:
                        raise ValueError("reference_answer is empty")
                    if not max_score > 0:
                        raise ValueError(f"max_score must be above 0, not {max_score}")
                    dataset.questions[qid] = DatasetQuestion(
                        qid, str(row["question"]).strip(), reference, max_score
                    )
                dataset.items.append(
                    Item(
                        id=str(row.get("id", f"{path.stem}:{number}")),
                        question_id=qid,
                        answer=str(row["answer"]).strip(),
                        score=float(row["score"]),
                        label=parse_label(row.get("label")),
                        feedback=row.get("feedback"),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
    return dataset


def read_dataset(path: Path) -> Dataset:
    """A SAF folder or a ``.jsonl`` file."""
    if path.is_dir():
        return read_saf(path)
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    raise ValueError(f"{path}: expected a SAF folder or a .jsonl file")


def merge(datasets: Iterable[Dataset], name: str) -> Dataset:
    merged = Dataset(name=name, questions={})
    for d in datasets:
        merged.questions.update(d.questions)
        merged.items.extend(d.items)
    return merged
