"""Every grade kept: the answer, who gave it, each revision of its result, and an audit trail.

A grade has an id from the moment it is made. Its first revision is what the student saw
at once (embeddings, plus the LLM when it answered within the budget); the LLM pass that
runs later (graders.workflow.refiner) adds a revision; a teacher's review adds one that
always wins (``graded_by: teacher``). ``result`` on the grade is the current revision.

``refinement`` says where the LLM pass stands: ``none`` (not needed, or no LLM),
``pending`` (waiting for capacity), ``running`` (claimed by a refiner), ``done``,
``failed`` (gave up after retries), ``superseded`` (a teacher graded it first).
Claiming is one conditional UPDATE, so two processes never refine the same grade.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)

from graders.store.database import open_engine
from graders.store.grade_reads import GradeReads
from graders.store.grade_rows import GradeRow, NewGrade
from graders.store.tables import audit, grades, revisions

__all__ = ["GradeStore"]


class GradeStore(GradeReads):
    """Grades in SQL; every method is synchronous and safe to call from any thread."""

    def __init__(self, url: str, *, upgrade: bool = False) -> None:
        self.engine: Engine = open_engine(url, upgrade=upgrade)
        # Called inside the transaction that makes grades pending, with their ids (the
        # worker engine defers their refinement jobs there: graders.workflow.refine_jobs).
        self.on_pending: Callable[[Connection, list[str]], None] | None = None

    def close(self) -> None:
        self.engine.dispose()

    # -- writing ------------------------------------------------------------------------
    def add(self, new: NewGrade) -> str:
        return self.add_many([new])[0]

    def add_many(self, news: Sequence[NewGrade]) -> list[str]:
        """Store fresh grades in one transaction; a batch row already stored (same batch and
        row) is not stored twice: its existing id comes back (at-least-once delivery)."""
        now = time.time()
        ids: list[str] = []
        with self.engine.begin() as conn:
            seqs = [n.batch_seq for n in news if n.batch_id is not None]
            have: dict[tuple[str, int], str] = {}
            if seqs:
                batch = next(n.batch_id for n in news if n.batch_id is not None)
                query = select(grades.c.batch_id, grades.c.batch_seq, grades.c.id).where(
                    and_(grades.c.batch_id == batch, grades.c.batch_seq.in_(seqs))
                )
                have = {(b, q): i for b, q, i in conn.execute(query)}
            rows, firsts = [], []
            for new in news:
                found = have.get((new.batch_id, new.batch_seq))  # type: ignore[arg-type]
                if found is not None:
                    ids.append(found)
                    continue
                grade_id = uuid.uuid4().hex
                ids.append(grade_id)
                values = {k: v for k, v in vars(new).items() if k != "needs_review"}
                rows.append(
                    {
                        **values,
                        "id": grade_id,
                        "created_at": now,
                        "updated_at": now,
                        "revision": 1,
                        "ai_result": new.result,
                        "refine_attempts": 0,
                        "needs_review": int(new.needs_review),
                        "claimed_at": None,
                        "review": None,
                        "reviewed_at": None,
                    }
                )
                firsts.append(
                    {
                        "grade_id": grade_id,
                        "revision": 1,
                        "graded_by": new.graded_by,
                        "created_at": now,
                        "result": new.result,
                    }
                )
            if rows:
                conn.execute(insert(grades), rows)
                conn.execute(insert(revisions), firsts)
                self._pending(conn, [r["id"] for r in rows if r["refinement"] == "pending"])
        return ids

    def _pending(self, conn: Connection, grade_ids: list[str]) -> None:
        if grade_ids and self.on_pending is not None:
            self.on_pending(conn, grade_ids)

    def revise(
        self,
        grade_id: str,
        row: GradeRow,
        *,
        refinement: str | None = None,
        review: str | None = None,
        who: str | None = None,
    ) -> int | None:
        """Add ``row`` (:func:`graders.store.grade_rows.grade_row`) as a revision and make it
        current; the revision's number, or None if the grade is gone.

        A teacher's revision (``review`` given) always becomes current. A machine revision
        becomes current only while no teacher has reviewed the grade; it is kept as history
        and as the grade's AI result either way.
        """
        now = time.time()
        with self.engine.begin() as conn:
            current = conn.execute(
                select(
                    grades.c.revision, grades.c.review, grades.c.result, grades.c.refinement
                ).where(grades.c.id == grade_id)
            ).first()
            if current is None:
                return None
            revision = int(current.revision) + 1
            conn.execute(
                insert(revisions).values(
                    grade_id=grade_id,
                    revision=revision,
                    graded_by=row.graded_by,
                    created_at=now,
                    result=row.result,
                )
            )
            values: dict[str, object] = {"revision": revision, "updated_at": now}
            if refinement is not None and current.review is None:
                values["refinement"] = refinement
            if review is not None:
                values |= {"review": review, "reviewed_at": now}
                if current.refinement in ("pending", "running"):
                    values["refinement"] = "superseded"
            else:
                values["ai_result"] = row.result
                values["rubric_hash"] = row.rubric_hash
                values["exemplar_set"] = row.exemplar_set
            if review is not None or current.review is None:
                values |= {
                    "result": row.result,
                    "graded_by": row.graded_by,
                    "label": row.label,
                    "needs_review": int(row.needs_review),
                    "confidence": row.confidence,
                }
            conn.execute(update(grades).where(grades.c.id == grade_id).values(**values))
            if values.get("refinement") == "pending":
                self._pending(conn, [grade_id])
            if who is not None:
                conn.execute(
                    insert(audit).values(
                        grade_id=grade_id,
                        at=now,
                        who=who,
                        action="review" if review is not None else row.graded_by,
                        before=current.result,
                        after=row.result,
                    )
                )
        return revision

    def restamp(self, grade_ids: list[str], rubric_hash: str, exemplar_set: str) -> None:
        """Graded again with the same result: record the rubric and examples it now has."""
        with self.engine.begin() as conn:
            for start in range(0, len(grade_ids), 500):
                conn.execute(
                    update(grades)
                    .where(grades.c.id.in_(grade_ids[start : start + 500]))
                    .values(rubric_hash=rubric_hash, exemplar_set=exemplar_set)
                )

    def claim(self, grade_id: str) -> bool:
        """Take a pending grade for refinement; False when another refiner has it."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(grades)
                .where(and_(grades.c.id == grade_id, grades.c.refinement == "pending"))
                .values(
                    refinement="running",
                    claimed_at=time.time(),
                    refine_attempts=grades.c.refine_attempts + 1,
                )
            ).rowcount
        return bool(changed)

    def set_refinement(self, grade_id: str, state: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(grades)
                .where(and_(grades.c.id == grade_id, grades.c.refinement == "running"))
                .values(refinement=state, claimed_at=None)
            )

    def unclaim(self, grade_id: str) -> None:
        """A refinement cut short (preempted, shut down): pending again, attempt not counted."""
        with self.engine.begin() as conn:
            conn.execute(
                update(grades)
                .where(and_(grades.c.id == grade_id, grades.c.refinement == "running"))
                .values(
                    refinement="pending",
                    claimed_at=None,
                    refine_attempts=func.max(grades.c.refine_attempts - 1, 0)
                    if conn.dialect.name == "sqlite"
                    else func.greatest(grades.c.refine_attempts - 1, 0),
                )
            )

    def release_stale(self, older_than_s: float) -> int:
        """Claims older than ``older_than_s`` (a refiner that died) go back to pending."""
        cutoff = time.time() - older_than_s
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(grades)
                    .where(and_(grades.c.refinement == "running", grades.c.claimed_at < cutoff))
                    .values(refinement="pending", claimed_at=None)
                ).rowcount
            )

    def erase_student(self, student_id: str, who: str) -> int:
        """Delete a student's answers, grades and revisions; the audit keeps only the fact."""
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(select(grades.c.id).where(grades.c.student_id == student_id)).scalars()
            )
            self._delete(conn, ids, who, "erased: student request")
        return len(ids)

    def purge_older_than(self, seconds: float) -> int:
        """Retention: delete grades made more than ``seconds`` ago."""
        cutoff = time.time() - seconds
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(select(grades.c.id).where(grades.c.created_at < cutoff)).scalars()
            )
            self._delete(conn, ids, "retention", "erased: retention period")
        return len(ids)

    @staticmethod
    def _delete(conn: object, ids: list[str], who: str, action: str) -> None:
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            conn.execute(delete(revisions).where(revisions.c.grade_id.in_(part)))  # type: ignore[attr-defined]
            conn.execute(delete(grades).where(grades.c.id.in_(part)))  # type: ignore[attr-defined]
            conn.execute(delete(audit).where(audit.c.grade_id.in_(part)))  # type: ignore[attr-defined]
        if ids:
            now = time.time()
            conn.execute(  # type: ignore[attr-defined]
                insert(audit),
                [{"grade_id": i, "at": now, "who": who, "action": action[:32]} for i in ids],
            )
