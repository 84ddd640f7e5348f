"""Alembic migrations of the one storage room (graders.store.schema runs them)."""
