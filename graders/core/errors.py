"""Domain errors, all in one place; the HTTP layer maps each to a problem+json status."""

from __future__ import annotations


class RubricateError(Exception):
    """Base of every error rubricate raises on purpose."""

    title = "Grading error"


class UnknownLesson(RubricateError):
    title = "Unknown lesson"

    def __init__(self, lesson_id: str) -> None:
        super().__init__(f"No lesson with id {lesson_id!r}.")
        self.lesson_id = lesson_id


class UnknownQuestion(RubricateError):
    title = "Unknown question"

    def __init__(self, lesson_id: str, question_id: str) -> None:
        super().__init__(f"Lesson {lesson_id!r} has no question with id {question_id!r}.")
        self.lesson_id = lesson_id
        self.question_id = question_id


class AnswerTooLong(RubricateError):
    title = "Answer too long"

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"The answer has {length} characters; the limit is {limit} characters.")
        self.length = length
        self.limit = limit


class LLMRequired(RubricateError):
    """The caller asked for the LLM grader (``require_llm``) and it could not grade."""

    title = "LLM grader unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The LLM grader is required for this request but is unavailable: {reason}"
        )
        self.reason = reason


class NotReady(RubricateError):
    title = "Service not ready"


class BatchNotFound(RubricateError):
    title = "Unknown batch"

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"No batch with id {batch_id!r}.")
        self.batch_id = batch_id


class BadBatchFile(RubricateError):
    """An upload that is not CSV/JSON Lines at all, or lacks the required columns."""

    title = "Unreadable batch file"

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


class UploadTooLarge(RubricateError):
    title = "Upload too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The upload exceeds the limit of {limit} bytes.")
        self.limit = limit


class IdempotencyKeyReused(RubricateError):
    """An Idempotency-Key sent again with a different file."""

    title = "Idempotency-Key reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used for a different upload; use a new key for a new file."
        )


class BatchFinished(RubricateError):
    """Cancelling a batch that has already finished."""

    title = "Batch already finished"

    def __init__(self, batch_id: str, status: str) -> None:
        super().__init__(f"Batch {batch_id!r} is already {status}; nothing to cancel.")
        self.batch_id = batch_id
        self.status = status


class UnknownGrade(RubricateError):
    title = "Unknown grade"

    def __init__(self, grade_id: str) -> None:
        super().__init__(f"No grade with id {grade_id!r} (never made, or erased).")
        self.grade_id = grade_id


class BadReview(RubricateError):
    """A teacher's review that does not fit the question's rubric."""

    title = "Review does not fit the rubric"


class BatchEngineUnavailable(RubricateError):
    """The batch engine chosen cannot run with this configuration."""

    title = "Batch engine unavailable"


class DatabaseOutdated(RubricateError):
    """The database was made by an older rubricate: its schema must be upgraded first."""

    title = "Database schema outdated"

    def __init__(self, where: str, found: str, head: str) -> None:
        super().__init__(
            f"The database {where} is at schema revision {found}; this rubricate needs {head}. "
            "Back it up, then run `rubricate db upgrade` (or start once with "
            "RUBRICATE_DB_UPGRADE=true to upgrade at start-up)."
        )
        self.found = found
        self.head = head


class DatabaseTooNew(RubricateError):
    """The database was upgraded by a newer rubricate than this one."""

    title = "Database schema newer than this rubricate"

    def __init__(self, where: str, found: str, head: str) -> None:
        super().__init__(
            f"The database {where} is at schema revision {found}, which this rubricate does not "
            f"know (its newest is {head}): run the rubricate that upgraded it, or a newer one."
        )
        self.found = found
        self.head = head
