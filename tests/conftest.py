"""Shared fixtures: real, isolated databases and ready-made projects and tokens.

Databases
- `pg_template` (session): a PostgreSQL database migrated to head once per test session, named
  `ty_tmpl_<random>`; dropped at the end. Nothing may stay connected to it.
- `pg_url` (function): a fresh PostgreSQL database cloned from the template
  (`CREATE DATABASE t_<random> TEMPLATE ...`, a few ms), dropped after the test even if
  connections are left open. Returns a `postgresql+psycopg://` URL.
- `pg_empty_url` (function): like `pg_url` but never migrated (for migration tests).
- `pg_shared_url` (function): one migrated database per test session, emptied (every row
  deleted) after each test. Much cheaper than a clone on a busy machine; use it for tests whose
  connections all close by the end of the test (API tests through TestClient do).
- `sqlite_url` (function): a SQLite file under `tmp_path`, migrated to head.
- `database_url` (function): `pg_shared_url`; the default database of API tests. Tests with
  server or worker processes of their own should ask for `pg_url` instead.

Settings and identities
- `settings` (function): `Settings` bound to `database_url`, artifacts under `tmp_path`,
  a filesystem broker under `tmp_path` (the API tests never start a worker).
- `make_token` (function): `make_token(project="p", is_admin=False, expires_at=None)` creates
  the project if missing and a token in `database_url`; returns a `ProjectToken`.
- `project_token` (function): a `ProjectToken` of a fresh project `p-<random>`.

The PostgreSQL server is TRAINYARD_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
when it is unreachable, tests that need it fail (they are not skipped: the service must run on it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from api.db import migrate
from api.db.session import get_engine, session_scope
from api.db.tokens import create_token
from api.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "TRAINYARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def pg_url_for(database: str) -> str:
    """The URL of `database` on the test server (same host, user and options as the admin URL)."""
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def _admin(sql: str) -> None:
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def create_pg_database(template: str | None = None, prefix: str = "t_") -> str:
    """Create a uniquely named database (optionally from `template`); return its URL."""
    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return pg_url_for(name)


def drop_pg_database(url: str) -> None:
    """Drop the database of `url`, closing our pooled connections and forcing out others."""
    get_engine(url).dispose()
    name = url.rpartition("/")[2]
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    url = create_pg_database(prefix="ty_tmpl_")
    try:
        migrate.upgrade(url)  # alembic uses a NullPool: no connection stays open on the template
        yield url.rpartition("/")[2]
    finally:
        drop_pg_database(url)


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    url = create_pg_database(template=pg_template)
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="session")
def _pg_shared_database(pg_template: str) -> Iterator[str]:
    url = create_pg_database(template=pg_template, prefix="ty_shared_")
    try:
        yield url
    finally:
        drop_pg_database(url)


def empty_database(url: str) -> None:
    """Delete every row, children first, in one transaction."""
    from api.db.models import Base

    with get_engine(url).begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def pg_shared_url(_pg_shared_database: str) -> Iterator[str]:
    empty_database(_pg_shared_database)  # in case a crashed run left rows
    try:
        yield _pg_shared_database
    finally:
        empty_database(_pg_shared_database)


@pytest.fixture
def pg_empty_url() -> Iterator[str]:
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'trainyard.sqlite'}"
    migrate.upgrade(url)
    yield url
    get_engine(url).dispose()


@pytest.fixture
def database_url(pg_shared_url: str) -> str:
    return pg_shared_url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        artifact_root=str(tmp_path / "artifacts"),
        broker_url="filesystem://",
        broker_folder=tmp_path / "broker",
        redis_url=None,
        component_modules=[],
    )


@dataclass(frozen=True)
class ProjectToken:
    """A project and a token of it; `headers` authorise HTTP requests as that token."""

    project_id: str
    project_name: str
    token_id: str
    token: str
    is_admin: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def issue_token(
    database_url: str,
    project: str,
    *,
    is_admin: bool = False,
    expires_at: datetime | None = None,
    name: str = "test",
) -> ProjectToken:
    """Create `project` if missing and a token of it in the database at `database_url`."""
    with session_scope(database_url) as session:
        row, plaintext = create_token(
            session, project, name=name, is_admin=is_admin, expires_at=expires_at
        )
        project_id, token_id = row.project_id, row.id
    return ProjectToken(
        project_id=project_id,
        project_name=project,
        token_id=token_id,
        token=plaintext,
        is_admin=is_admin,
        headers={"Authorization": f"Bearer {plaintext}"},
    )


@pytest.fixture
def make_token(database_url: str) -> Callable[..., ProjectToken]:
    def make(
        project: str = "p", *, is_admin: bool = False, expires_at: datetime | None = None
    ) -> ProjectToken:
        return issue_token(database_url, project, is_admin=is_admin, expires_at=expires_at)

    return make


@pytest.fixture
def project_token(make_token: Callable[..., ProjectToken]) -> ProjectToken:
    return make_token(f"p-{uuid.uuid4().hex[:8]}")
