"""Alembic's environment: runs the revisions on the connection graders.store.schema gives it.

There is no alembic.ini: :func:`graders.store.schema.config` sets everything, so the
migrations work from an installed package. SQLite ALTERs run as batch operations (the
table rebuilt); only our tables are compared when autogenerating (not procrastinate's).
"""

from __future__ import annotations

from alembic import context

from graders.store.schema import include_name
from graders.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through graders.store.schema (rubricate db upgrade)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_name=include_name,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
