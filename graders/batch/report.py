"""The class report: what the class did and did not understand, as JSON and as HTML.

Built in one pass over a batch's results (page by page from the store, so memory grows
with the number of questions and students, not rows). The HTML page is self-contained:
inline CSS and SVG charts, no scripts, nothing fetched.

The models live in :mod:`graders.batch.report_models`, the aggregation in
:mod:`graders.batch.report_build` and the page in :mod:`graders.batch.report_html`;
this module re-exports their public names.
"""

from graders.batch.report_build import build_report
from graders.batch.report_html import AMBER, BLUE, CSS, GREEN, RED, render_html
from graders.batch.report_models import (
    BINS,
    EXAMPLES,
    HAS_IT,
    PARTLY,
    ClassReport,
    Example,
    KeyPointStats,
    LessonKeyPointStats,
    MisconceptionStats,
    QuestionStats,
    StudentStats,
)

__all__ = [
    "AMBER",
    "BINS",
    "BLUE",
    "CSS",
    "EXAMPLES",
    "GREEN",
    "HAS_IT",
    "PARTLY",
    "RED",
    "ClassReport",
    "Example",
    "KeyPointStats",
    "LessonKeyPointStats",
    "MisconceptionStats",
    "QuestionStats",
    "StudentStats",
    "build_report",
    "render_html",
]
