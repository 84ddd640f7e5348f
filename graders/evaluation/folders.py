"""What one ``rubricate eval`` argument names: a ``.jsonl`` file, a SAF split, a SemEval-2013
folder, or a folder above them (every SAF split and SemEval-2013 folder below it, each its own
dataset). The XML tells the formats apart: SAF's student answers have ``<response>`` children,
SemEval-2013's an ``accuracy`` attribute."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from graders.evaluation.datasets import Dataset, read_dataset
from graders.evaluation.semeval_eval import semeval_dataset

SAF = "saf"
SEMEVAL = "semeval2013"


def xml_format(folder: Path) -> str | None:
    """``"saf"`` or ``"semeval2013"`` from the first student answer in the folder's XML files
    (a SAF split may keep them in ``english/``); None where no file has one."""
    if (folder / "english").is_dir():
        folder = folder / "english"
    for path in sorted(folder.glob("*.xml")):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        for node in root.iterfind("studentAnswers/studentAnswer"):
            if node.find("response") is not None:
                return SAF
            if node.get("accuracy") is not None:
                return SEMEVAL
    return None


def _has_xml(folder: Path) -> bool:
    return any(folder.glob("*.xml"))


def _below(path: Path) -> list[tuple[Path, str]]:
    """Every dataset folder below ``path`` with its format, sorted (a SAF split, not its
    ``english`` folder)."""
    found: list[tuple[Path, str]] = []
    for folder in sorted(p for p in path.rglob("*") if p.is_dir() and _has_xml(p)):
        kind = xml_format(folder)
        if kind == SAF:
            found.append((folder.parent if folder.name == "english" else folder, SAF))
        elif kind == SEMEVAL:
            found.append((folder, SEMEVAL))
    return found


def read_targets(path: Path) -> list[Dataset]:
    """The datasets ``path`` names, each measured on its own."""
    if not path.is_dir():
        return [read_dataset(path)]
    if _has_xml(path) or (path / "english").is_dir():
        if xml_format(path) == SEMEVAL:
            return [semeval_dataset(path)]
        return [read_dataset(path)]
    # a folder above (a SAF root, semeval2013/test, ...): SAF's splits, then SemEval's folders
    below = _below(path)
    found = [read_dataset(folder) for folder, kind in below if kind == SAF]
    found += [semeval_dataset(folder) for folder, kind in below if kind == SEMEVAL]
    if not found:
        raise FileNotFoundError(f"no SAF or SemEval-2013 XML files in {path} or below it")
    return found
