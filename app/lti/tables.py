"""The LTI store's tables (SQLAlchemy Core), prefixed ``lti_`` beside any other store's.

The same definitions as the former hand-written SQLite schema, so an existing database is
used as it is; on PostgreSQL every API process shares them.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, Table, Text

metadata = MetaData()

platforms = Table(
    "lti_platforms",
    metadata,
    Column("issuer", Text, primary_key=True),
    Column("client_id", Text, primary_key=True),
    Column("data", Text, nullable=False),
    Column("source", Text, nullable=False),
)

states = Table(
    "lti_states",
    metadata,
    Column("state", Text, primary_key=True),
    Column("nonce", Text, nullable=False),
    Column("issuer", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

# A nonce is used once: inserting one seen before fails on the primary key, atomically,
# whichever process sees the replay.
nonces = Table(
    "lti_nonces",
    metadata,
    Column("nonce", Text, primary_key=True),
    Column("issuer", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

sessions = Table(
    "lti_sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("expires_at", Float, nullable=False),
)

passbacks = Table(
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

holds = Table(
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
keys = Table(
    "lti_keys",
    metadata,
    Column("name", Text, primary_key=True),
    Column("pem", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
