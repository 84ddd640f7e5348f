"""Batch grading of a class's answers: parse an upload, persist it, grade it, report on it.

``parse`` reads CSV/JSONL uploads row by row; ``store`` keeps batches, rows and grades in
SQL (SQLite or PostgreSQL); ``manager`` takes uploads and hands them to an engine
(``engine``: in this process, or ``rubricate worker`` processes through procrastinate),
whose chunks ``grading`` sends through :class:`graders.service.GradingService`;
``report`` builds the class report.
"""

from graders.batch.manager import BatchManager
from graders.batch.models import BatchInfo
from graders.batch.store import BatchStore

__all__ = ["BatchInfo", "BatchManager", "BatchStore"]
