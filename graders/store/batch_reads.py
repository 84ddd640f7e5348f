"""Reading batches back: status, the rows still to grade, grades known, results in order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Engine, and_, select

from graders.store.batch_records import BatchRecord
from graders.store.batch_rows import PendingRow, ResultRow, pending_rows
from graders.store.tables import batch_grades, batch_rows, batches


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
        query = pending_rows(batch_id).where(batch_rows.c.seq > after).limit(limit)
        with self.engine.connect() as conn:
            return [PendingRow(*r) for r in conn.execute(query)]

    def known(self, batch_id: str, hashes: Sequence[str]) -> set[str]:
        if not hashes:
            return set()
        query = select(batch_grades.c.answer_hash).where(
            and_(batch_grades.c.batch_id == batch_id, batch_grades.c.answer_hash.in_(list(hashes)))
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def grades_for(self, batch_id: str, hashes: Sequence[str]) -> dict[str, str]:
        """The batch's grade (result JSON) of each answer hash already graded."""
        if not hashes:
            return {}
        query = select(batch_grades.c.answer_hash, batch_grades.c.result).where(
            and_(batch_grades.c.batch_id == batch_id, batch_grades.c.answer_hash.in_(list(hashes)))
        )
        with self.engine.connect() as conn:
            return {str(h): str(r) for h, r in conn.execute(query)}

    def results(self, batch_id: str, page: int = 500) -> Iterator[ResultRow]:
        """Every row of the batch in input order, joined to its grade; read page by page."""
        after = -1
        query = (
            select(
                batch_rows.c.seq,
                batch_rows.c.line,
                batch_rows.c.row_id,
                batch_rows.c.student_id,
                batch_rows.c.lesson_id,
                batch_rows.c.question_id,
                batch_rows.c.answer,
                batch_rows.c.answer_hash,
                batch_rows.c.status,
                batch_rows.c.error,
                batch_grades.c.result,
            )
            .select_from(
                batch_rows.outerjoin(
                    batch_grades,
                    and_(
                        batch_grades.c.batch_id == batch_rows.c.batch_id,
                        batch_grades.c.answer_hash == batch_rows.c.answer_hash,
                        batch_rows.c.status == "done",
                    ),
                )
            )
            .where(batch_rows.c.batch_id == batch_id)
            .order_by(batch_rows.c.seq)
            .limit(page)
        )
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(query.where(batch_rows.c.seq > after))
                got = [ResultRow(**r._asdict()) for r in rows]
            yield from got
            if len(got) < page:
                return
            after = got[-1].seq
