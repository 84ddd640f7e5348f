"""Every grade kept (store), made and read through the grade book, refined in the background."""

from graders.grades.book import GradeBook
from graders.grades.refiner import Refiner
from graders.grades.store import GradeStore

__all__ = ["GradeBook", "GradeStore", "Refiner"]
