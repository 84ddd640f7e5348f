"""Reading batches back: status, the rows still to grade, grades known, results in order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Engine, and_, func, select

from graders.store.batch_records import BatchRecord
from graders.store.batch_tables import PendingRow, ResultRow, batches, grades, rows


class BatchReads:
    """The read side of :class:`graders.store.batch_store.BatchStore` (which holds ``engine``)."""

    engine: Engine

    def get(self, batch_id: str) -> BatchRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(batches).where(batches.c.id == batch_id)).first()
        return BatchRecord.model_validate(row._asdict()) if row else None

    def next_unfinished(self) -> str | None:
        """The oldest batch still to grade: queued, or running when the process stopped."""
        query = (
            select(batches.c.id)
            .where(batches.c.status.in_(("queued", "running")))
            .order_by(batches.c.created_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def pending(self, batch_id: str, after: int, limit: int) -> list[PendingRow]:
        query = (
            select(
                rows.c.seq,
                rows.c.answer_hash,
                rows.c.lesson_id,
                rows.c.question_id,
                rows.c.answer,
                rows.c.student_id,
            )
            .where(and_(rows.c.batch_id == batch_id, rows.c.status == "pending"))
            .where(rows.c.seq > after)
            .order_by(rows.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [PendingRow(*r) for r in conn.execute(query)]

    def known(self, batch_id: str, hashes: Sequence[str]) -> set[str]:
        if not hashes:
            return set()
        query = select(grades.c.answer_hash).where(
            and_(grades.c.batch_id == batch_id, grades.c.answer_hash.in_(list(hashes)))
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def grades_for(self, batch_id: str, hashes: Sequence[str]) -> dict[str, str]:
        """The batch's grade (result JSON) of each answer hash already graded."""
        if not hashes:
            return {}
        query = select(grades.c.answer_hash, grades.c.result).where(
            and_(grades.c.batch_id == batch_id, grades.c.answer_hash.in_(list(hashes)))
        )
        with self.engine.connect() as conn:
            return {str(h): str(r) for h, r in conn.execute(query)}

    def results(self, batch_id: str, page: int = 500) -> Iterator[ResultRow]:
        """Every row of the batch in input order, joined to its grade; read page by page."""
        after = -1
        query = (
            select(
                rows.c.seq,
                rows.c.line,
                rows.c.row_id,
                rows.c.student_id,
                rows.c.lesson_id,
                rows.c.question_id,
                rows.c.answer,
                rows.c.answer_hash,
                rows.c.status,
                rows.c.error,
                grades.c.result,
            )
            .select_from(
                rows.outerjoin(
                    grades,
                    and_(
                        grades.c.batch_id == rows.c.batch_id,
                        grades.c.answer_hash == rows.c.answer_hash,
                        rows.c.status == "done",
                    ),
                )
            )
            .where(rows.c.batch_id == batch_id)
            .order_by(rows.c.seq)
            .limit(page)
        )
        while True:
            with self.engine.connect() as conn:
                got = [ResultRow(*r) for r in conn.execute(query.where(rows.c.seq > after))]
            yield from got
            if len(got) < page:
                return
            after = got[-1].seq

    def count_rows(self, batch_id: str) -> dict[str, int]:
        query = (
            select(rows.c.status, func.count())
            .where(rows.c.batch_id == batch_id)
            .group_by(rows.c.status)
        )
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}
