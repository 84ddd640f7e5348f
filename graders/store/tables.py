"""Every table rubricate keeps, in one ``metadata``: grades, batches, release policies, LTI.

One database holds them all (SQLite by default, PostgreSQL when set). The schema is made
and changed only by the migrations in ``graders/store/migrations`` (``rubricate db
upgrade``); a change here needs a new revision there, and the migration test checks that
the head revision makes exactly these tables. Procrastinate's tables are its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()


def primary_key(kind: Any, *names: str) -> list[Column[Any]]:
    """The columns of a table's primary key, of one type."""
    return [Column(name, kind, primary_key=True) for name in names]


def required(kind: Any, *names: str) -> list[Column[Any]]:
    """Columns of one type that always hold a value, in this order."""
    return [Column(name, kind, nullable=False) for name in names]


def optional(kind: Any, *names: str) -> list[Column[Any]]:
    """Columns of one type that may be empty, in this order."""
    return [Column(name, kind, nullable=True) for name in names]


def counters(*names: str) -> list[Column[Any]]:
    """Integer counts that start at 0."""
    return [Column(name, Integer, nullable=False, default=0) for name in names]


def batch_key() -> Column[Any]:
    """The batch a row belongs to: part of its primary key, gone with the batch."""
    return Column(
        "batch_id",
        String(32),
        ForeignKey("rubricate_batches.id", ondelete="CASCADE"),
        primary_key=True,
    )


def expiring(name: str, key: str, *texts: str) -> Table:
    """A table of short-lived entries: a text key, text columns, and when it expires."""
    return Table(
        name,
        metadata,
        Column(key, Text, primary_key=True),
        *required(Text, *texts),
        Column("expires_at", Float, nullable=False),
    )


# -- grades: every answer graded, its revisions (machine, teacher) and an audit trail -------
grades = Table(
    "rubricate_grades",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("source", String(16), nullable=False),
    *required(Text, "lesson_id", "question_id"),
    Column("student_id", Text, nullable=True),
    Column("answer", Text, nullable=False),
    Column("inline", Text, nullable=True),
    *required(Float, "created_at", "updated_at"),
    Column("revision", Integer, nullable=False),
    Column("graded_by", String(32), nullable=False),
    *required(Text, "result", "ai_result"),
    Column("label", String(24), nullable=False),
    Column("needs_review", Integer, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("rubric_hash", String(64), nullable=False),
    Column("exemplar_set", String(32), nullable=False),
    Column("refinement", String(16), nullable=False),
    *counters("refine_attempts"),
    Column("claimed_at", Float, nullable=True),
    Column("review", Text, nullable=True),
    Column("reviewed_at", Float, nullable=True),
    Column("batch_id", String(32), nullable=True),
    Column("batch_seq", Integer, nullable=True),
    UniqueConstraint("batch_id", "batch_seq", name="uq_rubricate_grades_batch_row"),
    Index("ix_rubricate_grades_question", "lesson_id", "question_id", "created_at"),
    Index("ix_rubricate_grades_refine", "refinement", "created_at"),
    Index("ix_rubricate_grades_student", "student_id"),
)

revisions = Table(
    "rubricate_grade_revisions",
    metadata,
    Column(
        "grade_id",
        String(32),
        ForeignKey("rubricate_grades.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("revision", Integer, primary_key=True),
    Column("graded_by", String(32), nullable=False),
    *required(Float, "created_at"),
    *required(Text, "result"),
)

audit = Table(
    "rubricate_grade_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("grade_id", String(32), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("who", Text, nullable=False),
    Column("action", String(32), nullable=False),
    *optional(Text, "before", "after"),
)

# -- batches: a class file, its rows in input order, a grade per distinct answer, chunks ----
batches = Table(
    "rubricate_batches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("idempotency_key", String(255), unique=True, nullable=True),
    Column("status", String(16), nullable=False, index=True),
    Column("format", String(8), nullable=False),
    Column("filename", String(255), nullable=True),
    *counters("total", "done", "failed", "graded"),
    Column("created_at", Float, nullable=False),
    *optional(Float, "started_at", "finished_at", "resumed_at"),
    *counters("resumed_from"),
    Column("first_result_at", Float, nullable=True),
)

batch_rows = Table(
    "rubricate_batch_rows",
    metadata,
    batch_key(),
    Column("seq", Integer, primary_key=True),
    Column("line", Integer, nullable=False),
    *optional(Text, "row_id", "student_id", "lesson_id", "question_id", "answer"),
    Column("answer_hash", String(64), nullable=True),
    Column("status", String(8), nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_rubricate_rows_status", "batch_id", "status", "seq"),
)

batch_grades = Table(
    "rubricate_batch_grades",
    metadata,
    batch_key(),
    Column("answer_hash", String(64), primary_key=True),
    Column("result", Text, nullable=False),
)

# One row a chunk job (procrastinate engine), written with the upload: how often it ran and
# the work repeated under at-least-once delivery (see graders.store.chunk_runs).
batch_chunks = Table(
    "rubricate_batch_chunks",
    metadata,
    batch_key(),
    Column("chunk", Integer, primary_key=True),  # its first row's seq
    Column("rows", Integer, nullable=False),
    *counters("runs", "regraded", "duplicates"),
)

# -- release: per question, what it takes before AI grades pass back to the LMS alone -------
release_policies = Table(
    "rubricate_release_policies",
    metadata,
    *primary_key(Text, "lesson_id", "question_id"),
    Column("min_reviewed", Integer, nullable=False),
    *required(Float, "min_accuracy", "updated_at"),
)

# -- LTI (app/lti/store.py): platforms, logins, sessions, held grades, the passback queue ---
lti_platforms = Table(
    "lti_platforms",
    metadata,
    *primary_key(Text, "issuer", "client_id"),
    *required(Text, "data", "source"),
)

# Logins in flight, nonces seen and sessions: short-lived, each swept once it expires.
lti_states = expiring("lti_states", "state", "nonce", "issuer")
# A nonce is used once: inserting one seen before fails on the primary key, atomically,
# whichever process sees the replay.
lti_nonces = expiring("lti_nonces", "nonce", "issuer")
lti_sessions = expiring("lti_sessions", "token_hash", "kind", "data")

lti_passbacks = Table(
    "lti_passbacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *required(Text, "issuer", "client_id", "lineitem", "score"),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Index("lti_passbacks_due", "status", "next_attempt_at"),
    sqlite_autoincrement=True,
)

lti_holds = Table(
    "lti_holds",
    metadata,
    Column("grade_id", Text, primary_key=True),
    *required(Text, "issuer", "client_id", "lineitem", "user_id"),
    Column("due_at", Float, nullable=False),
    Column("status", Text, nullable=False),
    Column("released_at", Float),
    Index("lti_holds_status", "status", "due_at"),
)

# The tool's signing key when several processes share the database (app/lti/keys.py).
lti_keys = Table(
    "lti_keys",
    metadata,
    Column("name", Text, primary_key=True),
    *required(Text, "pem"),
    *required(Float, "created_at"),
)
