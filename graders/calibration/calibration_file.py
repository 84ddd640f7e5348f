"""The calibration file: plain JSON (no pickle), versioned, one entry per model pair.

Reads and writes :class:`Calibration` objects, keys entries by (embedding model, LLM)
and names a fitted calibration's version by a hash of its models.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.calibration.prediction import CalibrationEntry

FORMAT = "rubricate-calibration/1"
DEFAULT_FILE = Path(__file__).parent / "default.json"


def pair_key(embedding_model: str, llm_model: str | None) -> str:
    """The key of a calibration entry: models without versions after '@' are kept whole."""
    return f"{embedding_model}|{llm_model or 'none'}"


def _entry_json(e: CalibrationEntry) -> dict[str, Any]:
    data: dict[str, Any] = {
        "features": e.features,
        "score": e.score,
        "label": e.label,
        "metrics": e.metrics,
    }
    if e.known is not None:
        data["known"] = _entry_json(e.known)
        data["questions"] = e.questions
    return data


def _entry_from(e: dict[str, Any]) -> CalibrationEntry:
    return CalibrationEntry(
        features=list(e["features"]),
        score=e["score"],
        label=e["label"],
        metrics=e.get("metrics", {}),
        known=_entry_from(e["known"]) if "known" in e else None,
        questions=e.get("questions", {}),
    )


@dataclass(frozen=True)
class Calibration:
    version: str
    entries: dict[str, CalibrationEntry]
    trained_on: str = ""

    def entry(self, embedding_model: str, llm_model: str | None) -> CalibrationEntry | None:
        return self.entries.get(pair_key(embedding_model, llm_model))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "trained_on": self.trained_on,
            "entries": {key: _entry_json(e) for key, e in self.entries.items()},
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), separators=(",", ":")) + "\n")


def load_calibration(path: Path) -> Calibration:
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    entries = {key: _entry_from(e) for key, e in data["entries"].items()}
    return Calibration(version=str(data["version"]), entries=entries, trained_on=data["trained_on"])


def make_version(name: str, entries: dict[str, CalibrationEntry]) -> str:
    """``name-<hash of the fitted models>``: a changed fit is a new version."""
    blob = json.dumps({k: _entry_json(e) for k, e in entries.items()}, sort_keys=True)
    return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"
