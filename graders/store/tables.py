"""Every table rubricate keeps, in one ``metadata``: grades, batches, release policies, LTI.

One database holds them all (SQLite by default, PostgreSQL when set). The schema is made
and changed only by the migrations in ``graders/store/migrations`` (``rubricate db
upgrade``); a change here needs a new revision there, and the migration test checks that
the head revision makes exactly these tables. Procrastinate's tables are its own.
"""

from __future__ import annotations

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

# -- grades: every answer graded, its revisions (machine, teacher) and an audit trail -------
grades = Table(
    "rubricate_grades",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("lesson_id", Text, nullable=False),
    Column("question_id", Text, nullable=False),
    Column("student_id", Text, nullable=True),
    Column("answer", Text, nullable=False),
    Column("inline", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("graded_by", String(32), nullable=False),
    Column("result", Text, nullable=False),
    Column("ai_result", Text, nullable=False),
    Column("label", String(24), nullable=False),
    Column("needs_review", Integer, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("rubric_hash", String(64), nullable=False),
    Column("exemplar_set", String(32), nullable=False),
    Column("refinement", String(16), nullable=False),
    Column("refine_attempts", Integer, nullable=False, default=0),
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
    Column("created_at", Float, nullable=False),
    Column("result", Text, nullable=False),
)

audit = Table(
    "rubricate_grade_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("grade_id", String(32), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("who", Text, nullable=False),
    Column("action", String(32), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
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
    Column("total", Integer, nullable=False, default=0),
    Column("done", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("graded", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("resumed_at", Float, nullable=True),
    Column("resumed_from", Integer, nullable=False, default=0),
    Column("first_result_at", Float, nullable=True),
)

batch_rows = Table(
    "rubricate_batch_rows",
    metadata,
    Column(
        "batch_id",
        String(32),
        ForeignKey("rubricate_batches.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("line", Integer, nullable=False),
    Column("row_id", Text, nullable=True),
    Column("student_id", Text, nullable=True),
    Column("lesson_id", Text, nullable=True),
    Column("question_id", Text, nullable=True),
    Column("answer", Text, nullable=True),
    Column("answer_hash", String(64), nullable=True),
    Column("status", String(8), nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_rubricate_rows_status", "batch_id", "status", "seq"),
)

batch_grades = Table(
    "rubricate_batch_grades",
    metadata,
    Column(
        "batch_id",
        String(32),
        ForeignKey("rubricate_batches.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("answer_hash", String(64), primary_key=True),
    Column("result", Text, nullable=False),
)

# One row a chunk job (procrastinate engine), written with the upload: how often it ran and
# the work repeated under at-least-once delivery (see graders.store.chunk_runs).
batch_chunks = Table(
    "rubricate_batch_chunks",
    metadata,
    Column(
        "batch_id",
        String(32),
        ForeignKey("rubricate_batches.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("chunk", Integer, primary_key=True),  # its first row's seq
    Column("rows", Integer, nullable=False),
    Column("runs", Integer, nullable=False, default=0),
    Column("regraded", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
)

# -- release: per question, what it takes before AI grades pass back to the LMS alone -------
release_policies = Table(
    "rubricate_release_policies",
    metadata,
    Column("lesson_id", Text, primary_key=True),
    Column("question_id", Text, primary_key=True),
    Column("min_reviewed", Integer, nullable=False),
    Column("min_accuracy", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# -- LTI (app/lti/store.py): platforms, logins, sessions, held grades, the passback queue ---
lti_platforms = Table(
    "lti_platforms",
    metadata,
    Column("issuer", Text, primary_key=True),
    Column("client_id", Text, primary_key=True),
    Column("data", Text, nullable=False),
    Column("source", Text, nullable=False),
)

lti_states = Table(
    "lti_states",
    metadata,
    Column("state", Text, primary_key=True),
    Column("nonce", Text, nullable=False),
    Column("issuer", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# A nonce is used once: inserting one seen before fails on the primary key, atomically,
# whichever process sees the replay.
lti_nonces = Table(
    "lti_nonces",
    metadata,
    Column("nonce", Text, primary_key=True),
    Column("issuer", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

lti_sessions = Table(
    "lti_sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

lti_passbacks = Table(
    "lti_passbacks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("issuer", Text, nullable=False),
    Column("client_id", Text, nullable=False),
    Column("lineitem", Text, nullable=False),
    Column("score", Text, nullable=False),
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
    Column("issuer", Text, nullable=False),
    Column("client_id", Text, nullable=False),
    Column("lineitem", Text, nullable=False),
    Column("user_id", Text, nullable=False),
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
    Column("pem", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
