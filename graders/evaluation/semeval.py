"""SemEval-2013 Task 7 (SciEntsBank and Beetle), 3-way: correct / contradictory / incorrect.

Dzikovska et al., SemEval 2013; CC BY-SA 3.0. One XML file per question, one or more reference
answers (Beetle: BEST, GOOD, MINIMAL, KEYWORD alternatives), each student answer labelled in its
``accuracy`` attribute. ``answerMatch`` is annotation, never input, so it is not read.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

LABELS = ("correct", "contradictory", "incorrect")
TEST_FOLDERS = {
    "sciEntsBank": ("test-unseen-answers", "test-unseen-questions", "test-unseen-domains"),
    "beetle": ("test-unseen-answers", "test-unseen-questions"),
}


def datasets_dir() -> Path:
    """RUBRICATE_DATASETS_DIR, by default ``../shared/datasets`` beside the repository."""
    default = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
    return Path(os.environ.get("RUBRICATE_DATASETS_DIR") or default)


@dataclass(frozen=True)
class Reference:
    text: str
    category: str  # BEST, GOOD, MINIMAL, KEYWORD ("" where the file gives none)


@dataclass(frozen=True)
class SemEvalQuestion:
    id: str
    prompt: str
    references: tuple[Reference, ...]
    module: str

    @property
    def best(self) -> str:
        """The first BEST reference (else the first one): what a single pair reads."""
        for ref in self.references:
            if ref.category.upper() == "BEST":
                return ref.text
        return self.references[0].text


@dataclass(frozen=True)
class SemEvalAnswer:
    id: str
    question_id: str
    answer: str
    label: str  # one of LABELS


@dataclass
class SemEvalSet:
    name: str
    questions: dict[str, SemEvalQuestion]
    answers: list[SemEvalAnswer]


def _text(node: ET.Element | None) -> str:
    return " ".join((node.text or "").split()) if node is not None else ""


def read_semeval(folder: Path, name: str | None = None) -> SemEvalSet:
    """Every question file in ``folder`` (one corpus, one split)."""
    files = sorted(folder.glob("*.xml"))
    if not files:
        raise FileNotFoundError(f"no SemEval-2013 XML files in {folder}")
    found = SemEvalSet(name or folder.name, {}, [])
    for path in files:
        root = ET.parse(path).getroot()
        qid = root.get("id") or path.stem
        refs = tuple(
            Reference(_text(node), node.get("category") or "")
            for node in root.iterfind("referenceAnswers/referenceAnswer")
            if _text(node)
        )
        if not refs:
            continue
        found.questions[qid] = SemEvalQuestion(
            qid, _text(root.find("questionText")), refs, root.get("module") or ""
        )
        for node in root.iterfind("studentAnswers/studentAnswer"):
            label = (node.get("accuracy") or "").strip().lower()
            if label not in LABELS:
                raise ValueError(f"{path}: unknown accuracy {label!r}")
            found.answers.append(SemEvalAnswer(node.get("id") or "", qid, _text(node), label))
    return found


def training_sets(root: Path | None = None) -> list[SemEvalSet]:
    base = (root or datasets_dir()) / "semeval2013" / "training"
    return [read_semeval(base / corpus, f"{corpus}/training") for corpus in TEST_FOLDERS]


def test_sets(root: Path | None = None) -> list[SemEvalSet]:
    base = (root or datasets_dir()) / "semeval2013" / "test"
    return [
        read_semeval(base / corpus / split, f"{corpus}/{split}")
        for corpus, splits in TEST_FOLDERS.items()
        for split in splits
    ]
