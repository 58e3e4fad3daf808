"""Persistence: the data model, the engine owner (Store) and Alembic migrations."""
