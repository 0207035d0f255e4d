"""API fixtures: the app on a fresh PostgreSQL database, with a recording dispatcher.

- `dispatched`: the list of job ids the API handed to its dispatcher (the API's own seam;
  the real broker is covered by the end-to-end tests).
- `app`, `client`: `create_app(settings, dispatcher=dispatched.append)` and a TestClient.
- `auth`: headers of `project_token`.
- `count_rows(table)`: rows in a table, to prove a rejected request stored nothing.
- `cpu_worker`: a registered (fake, online) worker with 4 CPU slots, so that a submitted job is
  placed and handed to the dispatcher (no worker: it waits in the queue, undispatched).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.db.models import Base
from api.db.session import session_scope
from api.main import create_app
from api.settings import Settings
from tests.conftest import ProjectToken
from tests.fleet_helpers import register_fake_worker


@pytest.fixture
def dispatched() -> list[str]:
    return []


@pytest.fixture
def app(settings: Settings, dispatched: list[str]) -> FastAPI:
    return create_app(settings, dispatcher=dispatched.append)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def auth(project_token: ProjectToken) -> dict[str, str]:
    return project_token.headers


@pytest.fixture
def count_rows(database_url: str) -> Callable[[str], int]:
    def count(table: str) -> int:
        with session_scope(database_url) as session:
            return session.scalar(select(func.count()).select_from(Base.metadata.tables[table]))

    return count


@pytest.fixture
def cpu_worker(database_url: str) -> str:
    return register_fake_worker(database_url, cpu_slots=4)
