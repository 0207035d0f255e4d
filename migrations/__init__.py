"""Alembic migrations; the only place the schema changes. Run them through api.db.migrate."""
