"""Alembic: empty -> head -> base on PostgreSQL and SQLite, and the models match the schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from api.db import migrate
from api.db.models import Base

TABLES = {t.name for t in Base.metadata.sorted_tables}


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _diffs(url: str) -> list:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()


def test_postgres_upgrade_to_head_and_back_to_base(pg_empty_url: str) -> None:
    assert _tables(pg_empty_url) == set()
    migrate.upgrade(pg_empty_url)
    assert _tables(pg_empty_url) == TABLES
    assert migrate.current_revision(pg_empty_url) == migrate.head_revision()
    migrate.downgrade(pg_empty_url, "base")
    assert _tables(pg_empty_url) == set()
    assert migrate.current_revision(pg_empty_url) is None


def test_postgres_schema_matches_models(pg_url: str) -> None:
    assert _diffs(pg_url) == []


def test_sqlite_upgrade_downgrade_and_schema_matches_models(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'db.sqlite'}"  # the missing folder is created
    migrate.upgrade(url)
    assert _tables(url) == TABLES
    assert _diffs(url) == []
    migrate.downgrade(url, "base")
    assert _tables(url) == set()


def test_migrations_run_from_any_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    migrate.upgrade(url)
    assert _tables(url) == TABLES
