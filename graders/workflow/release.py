"""Release policy: when AI grades may pass back to the LMS on their own.

A teacher sets, per question, how many reviewed answers and what agreement (label
accuracy of the AI against the teacher on them) it takes to trust the AI's grades. Until
the question meets its policy, AI grades reach the LMS as ``PendingManual`` (the teacher
grades them there or here); a teacher's grade is always final. A question with no policy
releases AI grades unless they are flagged ``needs_review``.
"""

from __future__ import annotations

import asyncio
import time

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, delete, insert, select

from graders.core.result import GradeResult
from graders.store.tables import release_policies
from graders.workflow.agreement import agreement
from graders.workflow.grade_book import GradeBook


def _key(lesson_id: str, question_id: str) -> ColumnElement[bool]:
    table = release_policies.c
    return (table.lesson_id == lesson_id) & (table.question_id == question_id)


class ReleasePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_reviewed: int = Field(ge=0, le=100_000, description="Reviewed answers it takes.")
    min_accuracy: float = Field(ge=0, le=1, description="AI label accuracy on them it takes.")

    @field_validator("min_reviewed", "min_accuracy", mode="before")
    @classmethod
    def _numbers_only(cls, value: object) -> object:
        if isinstance(value, bool | str):  # JSON true/"3" are not numbers
            raise ValueError("must be a number")
        return value


class ReleaseState(BaseModel):
    lesson_id: str
    question_id: str
    policy: ReleasePolicy | None
    reviewed: int
    accuracy: float | None
    released: bool
    reason: str


class Releases:
    def __init__(self, book: GradeBook) -> None:
        self.book = book  # the policies are kept in the grade store's database

    async def set(self, lesson_id: str, question_id: str, policy: ReleasePolicy | None) -> None:
        self.book.check_scope(lesson_id, question_id)

        def write() -> None:
            with self.book.store.engine.begin() as conn:
                conn.execute(delete(release_policies).where(_key(lesson_id, question_id)))
                if policy is not None:
                    conn.execute(
                        insert(release_policies).values(
                            lesson_id=lesson_id,
                            question_id=question_id,
                            updated_at=time.time(),
                            **policy.model_dump(),
                        )
                    )

        await asyncio.to_thread(write)

    async def policy(self, lesson_id: str, question_id: str) -> ReleasePolicy | None:
        def read() -> ReleasePolicy | None:
            columns = release_policies.c.min_reviewed, release_policies.c.min_accuracy
            query = select(*columns).where(_key(lesson_id, question_id))
            with self.book.store.engine.connect() as conn:
                row = conn.execute(query).first()
            return ReleasePolicy(min_reviewed=row[0], min_accuracy=row[1]) if row else None

        return await asyncio.to_thread(read)

    async def state(self, lesson_id: str, question_id: str) -> ReleaseState:
        policy = await self.policy(lesson_id, question_id)
        grades = await self.book.reviewed(lesson_id, question_id)
        figures = agreement(lesson_id, question_id, grades)
        accuracy = figures.accuracy.value
        if policy is None:
            released, reason = True, "no release policy: AI grades pass back unless flagged"
        elif figures.reviewed < policy.min_reviewed:
            released = False
            reason = f"{figures.reviewed} of {policy.min_reviewed} reviewed answers needed"
        elif (accuracy or 0.0) < policy.min_accuracy:
            released = False
            reason = f"agreement {accuracy or 0:.2f} below {policy.min_accuracy:.2f}"
        else:
            released, reason = True, f"agreement {accuracy or 0:.2f} on {figures.reviewed} answers"
        return ReleaseState(
            lesson_id=lesson_id,
            question_id=question_id,
            policy=policy,
            reviewed=figures.reviewed,
            accuracy=accuracy,
            released=released,
            reason=reason,
        )

    async def final(self, result: GradeResult) -> bool:
        """Whether the LMS may take this grade as final (FullyGraded)."""
        if result.graded_by == "teacher":
            return True
        if result.needs_review:
            return False
        return (await self.state(result.lesson_id, result.question_id)).released
