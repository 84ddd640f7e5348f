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


# Frozen with this revision: the column sets are written out here, never taken from today's
# tables.
def _required(kind: Any, *names: str) -> list[sa.Column[Any]]:
    return [sa.Column(name, kind, nullable=False) for name in names]


def _optional(kind: Any, *names: str) -> list[sa.Column[Any]]:
    return [sa.Column(name, kind, nullable=True) for name in names]


def _grade_tables() -> None:
    text, when, number = sa.Text(), sa.Float(), sa.Integer()
    _table(
        "rubricate_grades",
        *_required(sa.String(length=32), "id"),
        *_required(sa.String(length=16), "source"),
        *_required(text, "lesson_id", "question_id"),
        *_optional(text, "student_id"),
        *_required(text, "answer"),
        *_optional(text, "inline"),
        *_required(when, "created_at", "updated_at"),
        *_required(number, "revision"),
        *_required(sa.String(length=32), "graded_by"),
        *_required(text, "result", "ai_result"),
        *_required(sa.String(length=24), "label"),
        *_required(number, "needs_review"),
        *_required(when, "confidence"),
        *_required(sa.String(length=64), "rubric_hash"),
        *_required(sa.String(length=32), "exemplar_set"),
        *_required(sa.String(length=16), "refinement"),
        *_required(number, "refine_attempts"),
        *_optional(when, "claimed_at"),
        *_optional(text, "review"),
        *_optional(when, "reviewed_at"),
        *_optional(sa.String(length=32), "batch_id"),
        *_optional(number, "batch_seq"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("batch_id", "batch_seq", name="uq_rubricate_grades_batch_row"),
    )
    _table(
        "rubricate_grade_audit",
        sa.Column("id", number, autoincrement=True, nullable=False),
        *_required(sa.String(length=32), "grade_id"),
        *_required(when, "at"),
        *_required(text, "who"),
        *_required(sa.String(length=32), "action"),
        *_optional(text, "before", "after"),
        sa.PrimaryKeyConstraint("id"),
    )
    _table(
        "rubricate_grade_revisions",
        *_required(sa.String(length=32), "grade_id"),
        *_required(number, "revision"),
        *_required(sa.String(length=32), "graded_by"),
        *_required(when, "created_at"),
        *_required(text, "result"),
        sa.ForeignKeyConstraint(["grade_id"], ["rubricate_grades.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("grade_id", "revision"),
    )


def _batch_tables() -> None:
    text, when, number = sa.Text(), sa.Float(), sa.Integer()
    _table(
        "rubricate_batches",
        *_required(sa.String(length=32), "id"),
        *_optional(sa.String(length=255), "idempotency_key"),
        *_required(sa.String(length=16), "status"),
        *_required(sa.String(length=8), "format"),
        *_optional(sa.String(length=255), "filename"),
        *_required(number, "total", "done", "failed", "graded"),
        *_required(when, "created_at"),
        *_optional(when, "started_at", "finished_at", "resumed_at"),
        *_required(number, "resumed_from"),
        *_optional(when, "first_result_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )

    def _of_batch(name: str, *columns: sa.Column[Any], key: str) -> None:
        _table(
            name,
            *_required(sa.String(length=32), "batch_id"),
            *columns,
            sa.ForeignKeyConstraint(["batch_id"], ["rubricate_batches.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("batch_id", key),
        )

    _of_batch(
        "rubricate_batch_rows",
        *_required(number, "seq", "line"),
        *_optional(text, "row_id", "student_id", "lesson_id", "question_id", "answer"),
        *_optional(sa.String(length=64), "answer_hash"),
        *_required(sa.String(length=8), "status"),
        *_optional(text, "error"),
        key="seq",
    )
    _of_batch(
        "rubricate_batch_grades",
        *_required(sa.String(length=64), "answer_hash"),
        *_required(text, "result"),
        key="answer_hash",
    )
    _of_batch(
        "rubricate_batch_chunks",
        *_required(number, "chunk", "rows", "runs", "regraded", "duplicates"),
        key="chunk",
    )
    _table(
        "rubricate_release_policies",
        *_required(text, "lesson_id", "question_id"),
        *_required(number, "min_reviewed"),
        *_required(when, "min_accuracy", "updated_at"),
        sa.PrimaryKeyConstraint("lesson_id", "question_id"),
    )


def _lti_tables() -> None:
    text, when = sa.Text(), sa.Float()
    _table(
        "lti_platforms",
        *_required(text, "issuer", "client_id", "data", "source"),
        sa.PrimaryKeyConstraint("issuer", "client_id"),
    )
    for name, key, *texts in (
        ("lti_states", "state", "nonce", "issuer"),
        ("lti_nonces", "nonce", "issuer"),
        ("lti_sessions", "token_hash", "kind", "data"),
    ):
        _table(
            name,
            *_required(text, key, *texts),
            *_required(when, "expires_at"),
            sa.PrimaryKeyConstraint(key),
        )
    _table(
        "lti_passbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *_required(text, "issuer", "client_id", "lineitem", "score"),
        sa.Column("status", text, server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        *_required(when, "next_attempt_at"),
        *_optional(text, "last_error"),
        *_required(when, "created_at"),
        *_optional(when, "sent_at"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    _table(
        "lti_holds",
        *_required(text, "grade_id", "issuer", "client_id", "lineitem", "user_id"),
        *_required(when, "due_at"),
        *_required(text, "status"),
        *_optional(when, "released_at"),
        sa.PrimaryKeyConstraint("grade_id"),
    )
    _table(
        "lti_keys",
        *_required(text, "name", "pem"),
        *_required(when, "created_at"),
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
