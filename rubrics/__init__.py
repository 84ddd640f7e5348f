"""Lesson rubrics: YAML files and the pydantic schema that validates them.

This package imports nothing else of rubricate's, so rubrics can be checked on their own.
"""

from rubrics.loader import RubricFileError, load_lesson_file, load_lessons
from rubrics.schema import (
    Choice,
    Exemplar,
    ExemplarLabel,
    KeyPoint,
    Lesson,
    LessonKeyPoint,
    Misconception,
    Question,
    QuestionKind,
)

__all__ = [
    "Choice",
    "Exemplar",
    "ExemplarLabel",
    "KeyPoint",
    "Lesson",
    "LessonKeyPoint",
    "Misconception",
    "Question",
    "QuestionKind",
    "RubricFileError",
    "load_lesson_file",
    "load_lessons",
]
