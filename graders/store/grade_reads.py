"""Reading grades back: one grade, its history and audit, what waits for the LLM pass,
a question's or a batch's grades."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, and_, case, func, or_, select

from graders.store.grade_rows import COLUMNS, StoredGrade, stored_grade
from graders.store.tables import audit, grades, revisions


class GradeReads:
    """The read side of :class:`graders.store.grade_store.GradeStore` (which holds ``engine``)."""

    engine: Engine

    def get(self, grade_id: str) -> StoredGrade | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*COLUMNS).where(grades.c.id == grade_id)).first()
        return stored_grade(row) if row else None

    def revision(self, grade_id: str, number: int) -> str | None:
        query = select(revisions.c.result).where(
            and_(revisions.c.grade_id == grade_id, revisions.c.revision == number)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def history(self, grade_id: str) -> list[tuple[int, str, float]]:
        query = (
            select(revisions.c.revision, revisions.c.graded_by, revisions.c.created_at)
            .where(revisions.c.grade_id == grade_id)
            .order_by(revisions.c.revision)
        )
        with self.engine.connect() as conn:
            return [(int(r), str(g), float(t)) for r, g, t in conn.execute(query)]

    def audit_trail(self, grade_id: str) -> list[dict[str, object]]:
        query = select(audit).where(audit.c.grade_id == grade_id).order_by(audit.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def pending(self, limit: int) -> list[str]:
        """Grades waiting for the LLM pass: students waiting on a page first, then class
        files; oldest first within each."""
        query = (
            select(grades.c.id)
            .where(grades.c.refinement == "pending")
            .order_by(case((grades.c.source == "batch", 1), else_=0), grades.c.created_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def refinement_counts(self) -> dict[str, int]:
        query = select(grades.c.refinement, func.count()).group_by(grades.c.refinement)
        with self.engine.connect() as conn:
            return {str(state): int(n) for state, n in conn.execute(query)}

    def oldest_pending_at(self) -> float | None:
        query = select(func.min(grades.c.created_at)).where(
            or_(grades.c.refinement == "pending", grades.c.refinement == "running")
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return float(value) if value is not None else None

    def of_question(
        self, lesson_id: str, question_id: str | None = None, *, reviewed: bool | None = None
    ) -> list[StoredGrade]:
        query = select(*COLUMNS).where(grades.c.lesson_id == lesson_id)
        if question_id is not None:
            query = query.where(grades.c.question_id == question_id)
        if reviewed is not None:
            query = query.where(
                grades.c.review.is_not(None) if reviewed else grades.c.review.is_(None)
            )
        with self.engine.connect() as conn:
            return [stored_grade(r) for r in conn.execute(query.order_by(grades.c.created_at))]

    def reviewed_questions(self, student_id: str | None = None) -> list[tuple[str, str]]:
        """Questions with reviewed answers (of one student, if given)."""
        query = (
            select(grades.c.lesson_id, grades.c.question_id)
            .where(and_(grades.c.review.is_not(None), grades.c.inline.is_(None)))
            .distinct()
        )
        if student_id is not None:
            query = query.where(grades.c.student_id == student_id)
        with self.engine.connect() as conn:
            return [(str(a), str(b)) for a, b in conn.execute(query)]

    def of_batch(self, batch_id: str, seqs: Sequence[int]) -> dict[int, StoredGrade]:
        """The stored grades of some rows of a batch, by row."""
        if not seqs:
            return {}
        query = select(grades.c.batch_seq, *COLUMNS).where(
            and_(grades.c.batch_id == batch_id, grades.c.batch_seq.in_(list(seqs)))
        )
        with self.engine.connect() as conn:
            return {int(r[0]): stored_grade(r[1:]) for r in conn.execute(query)}

    def batch_refinement(self, batch_id: str) -> dict[str, int]:
        query = (
            select(grades.c.refinement, func.count())
            .where(grades.c.batch_id == batch_id)
            .group_by(grades.c.refinement)
        )
        with self.engine.connect() as conn:
            return {str(state): int(n) for state, n in conn.execute(query)}

    def audit_head(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(audit.c.id))).scalar() or 0)

    def teaching_changes(self, after_id: int) -> list[tuple[int, str | None, str | None]]:
        """Audit entries after ``after_id`` that change what the grader learns: (id,
        lesson_id, question_id) of a review of a kept question; (id, None, None) of an
        erased answer (whose question is gone with it)."""
        joined = audit.outerjoin(grades, grades.c.id == audit.c.grade_id)
        query = (
            select(audit.c.id, grades.c.lesson_id, grades.c.question_id)
            .select_from(joined)
            .where(audit.c.id > after_id)
            .where(
                or_(
                    and_(audit.c.action == "review", grades.c.inline.is_(None)),
                    audit.c.action.like("erased%"),
                )
            )
            .order_by(audit.c.id)
        )
        with self.engine.connect() as conn:
            return [(int(i), lesson, question) for i, lesson, question in conn.execute(query)]
