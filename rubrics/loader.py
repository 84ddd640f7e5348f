"""Load lesson YAML files, turning every problem into an error that names file, field and reason."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from rubrics.schema import Lesson

BUILTIN_DIR = Path(__file__).parent / "lessons"


class RubricFileError(ValueError):
    """A rubric file that cannot be used; ``problems`` holds (field, reason) pairs."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = "; ".join(f"{field}: {reason}" for field, reason in problems)
        super().__init__(f"{path}: {lines}")


def _field(loc: Iterable[int | str]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + part)
    return "".join(parts) or "(file)"


def load_lesson_file(path: Path) -> Lesson:
    """Parse and validate one YAML lesson file."""
    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RubricFileError(path, [("(file)", f"not UTF-8: {exc.reason}")]) from exc
    except yaml.YAMLError as exc:
        raise RubricFileError(path, [("(file)", f"invalid YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise RubricFileError(path, [("(file)", "expected a mapping at the top level")])
    try:
        return Lesson.model_validate(raw)
    except ValidationError as exc:
        problems = [(_field(e["loc"]), e["msg"]) for e in exc.errors()]
        raise RubricFileError(path, problems) from exc


def lesson_files(directories: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for directory in directories:
        files.extend(sorted(p for p in directory.glob("*.y*ml") if p.suffix in {".yaml", ".yml"}))
    return files


def load_lessons(directories: Iterable[Path] = (BUILTIN_DIR,)) -> dict[str, Lesson]:
    """Load every lesson in the directories; a lesson id used twice is an error."""
    lessons: dict[str, Lesson] = {}
    for path in lesson_files(directories):
        lesson = load_lesson_file(path)
        if lesson.id in lessons:
            raise RubricFileError(path, [("id", f"lesson id {lesson.id!r} is already defined")])
        lessons[lesson.id] = lesson
    return lessons
