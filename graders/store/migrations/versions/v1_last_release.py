"""Revision 1: the schema of the last release made before migrations (its create_all).

A database that release made has these tables and no ``alembic_version``: it is taken as
this revision. Each table is made only where missing, so one that held only some of them
(a SQLite file with only the LTI tables) gets the others, and keeps what it had.

Revision ID: 1
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "1"
down_revision = None
branch_labels = None
depends_on = None

# (table, index name, columns) made with each table
INDEXES = {
    "rubricate_grades": [
        ("ix_rubricate_grades_question", ["lesson_id", "question_id", "created_at"]),
        ("ix_rubricate_grades_refine", ["refinement", "created_at"]),
        ("ix_rubricate_grades_student", ["student_id"]),
    ],
    "rubricate_grade_audit": [("ix_rubricate_grade_audit_grade_id", ["grade_id"])],
    "rubricate_batches": [("ix_rubricate_batches_status", ["status"])],
    "rubricate_batch_rows": [("ix_rubricate_rows_status", ["batch_id", "status", "seq"])],
    "lti_passbacks": [("lti_passbacks_due", ["status", "next_attempt_at"])],
    "lti_holds": [("lti_holds_status", ["status", "due_at"])],
}


def _table(name: str, *items: Any, **kw: Any) -> None:
    if sa.inspect(op.get_bind()).has_table(name):
        return  # made by the release before migrations: kept as it is
    op.create_table(name, *items, **kw)
    for index, columns in INDEXES.get(name, []):
        op.create_index(index, name, columns, unique=False)


def _grade_tables() -> None:
    _table(
        "rubricate_grades",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("lesson_id", sa.Text(), nullable=False),
        sa.Column("question_id", sa.Text(), nullable=False),
        sa.Column("student_id", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("inline", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("graded_by", sa.String(length=32), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("ai_result", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=24), nullable=False),
        sa.Column("needs_review", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("rubric_hash", sa.String(length=64), nullable=False),
        sa.Column("exemplar_set", sa.String(length=32), nullable=False),
        sa.Column("refinement", sa.String(length=16), nullable=False),
        sa.Column("refine_attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.Float(), nullable=True),
        sa.Column("review", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.Float(), nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.Column("batch_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "batch_seq", name="uq_rubricate_grades_batch_row"),
    )
    _table(
        "rubricate_grade_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grade_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _table(
        "rubricate_grade_revisions",
        sa.Column("grade_id", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("graded_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["grade_id"], ["rubricate_grades.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("grade_id", "revision"),
    )


def _batch_tables() -> None:
    _table(
        "rubricate_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("graded", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("resumed_at", sa.Float(), nullable=True),
        sa.Column("resumed_from", sa.Integer(), nullable=False),
        sa.Column("first_result_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    batch_id = ("batch_id", "rubricate_batches.id")
    _table(
        "rubricate_batch_rows",
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("row_id", sa.Text(), nullable=True),
        sa.Column("student_id", sa.Text(), nullable=True),
        sa.Column("lesson_id", sa.Text(), nullable=True),
        sa.Column("question_id", sa.Text(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answer_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint([batch_id[0]], [batch_id[1]], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("batch_id", "seq"),
    )
    _table(
        "rubricate_batch_grades",
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("answer_hash", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint([batch_id[0]], [batch_id[1]], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("batch_id", "answer_hash"),
    )
    _table(
        "rubricate_batch_chunks",
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("regraded", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint([batch_id[0]], [batch_id[1]], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("batch_id", "chunk"),
    )
    _table(
        "rubricate_release_policies",
        sa.Column("lesson_id", sa.Text(), nullable=False),
        sa.Column("question_id", sa.Text(), nullable=False),
        sa.Column("min_reviewed", sa.Integer(), nullable=False),
        sa.Column("min_accuracy", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("lesson_id", "question_id"),
    )


def _lti_tables() -> None:
    text, when = sa.Text(), sa.Float()
    _table(
        "lti_platforms",
        sa.Column("issuer", text, nullable=False),
        sa.Column("client_id", text, nullable=False),
        sa.Column("data", text, nullable=False),
        sa.Column("source", text, nullable=False),
        sa.PrimaryKeyConstraint("issuer", "client_id"),
    )
    _table(
        "lti_states",
        sa.Column("state", text, nullable=False),
        sa.Column("nonce", text, nullable=False),
        sa.Column("issuer", text, nullable=False),
        sa.Column("expires_at", when, nullable=False),
        sa.PrimaryKeyConstraint("state"),
    )
    _table(
        "lti_nonces",
        sa.Column("nonce", text, nullable=False),
        sa.Column("issuer", text, nullable=False),
        sa.Column("expires_at", when, nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    _table(
        "lti_sessions",
        sa.Column("token_hash", text, nullable=False),
        sa.Column("kind", text, nullable=False),
        sa.Column("data", text, nullable=False),
        sa.Column("expires_at", when, nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    _table(
        "lti_passbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issuer", text, nullable=False),
        sa.Column("client_id", text, nullable=False),
        sa.Column("lineitem", text, nullable=False),
        sa.Column("score", text, nullable=False),
        sa.Column("status", text, server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", when, nullable=False),
        sa.Column("last_error", text, nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("sent_at", when, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    _table(
        "lti_holds",
        sa.Column("grade_id", text, nullable=False),
        sa.Column("issuer", text, nullable=False),
        sa.Column("client_id", text, nullable=False),
        sa.Column("lineitem", text, nullable=False),
        sa.Column("user_id", text, nullable=False),
        sa.Column("due_at", when, nullable=False),
        sa.Column("status", text, nullable=False),
        sa.Column("released_at", when, nullable=True),
        sa.PrimaryKeyConstraint("grade_id"),
    )
    _table(
        "lti_keys",
        sa.Column("name", text, nullable=False),
        sa.Column("pem", text, nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def upgrade() -> None:
    _grade_tables()
    _batch_tables()
    _lti_tables()


def downgrade() -> None:
    for name in (
        *("lti_keys", "lti_holds", "lti_passbacks", "lti_sessions", "lti_nonces"),
        *("lti_states", "lti_platforms", "rubricate_release_policies"),
        *("rubricate_batch_chunks", "rubricate_batch_grades", "rubricate_batch_rows"),
        *("rubricate_batches", "rubricate_grade_revisions", "rubricate_grade_audit"),
        "rubricate_grades",
    ):
        op.drop_table(name)
