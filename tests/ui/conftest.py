"""Dashboard fixtures.

Without a browser (the app in-process on PostgreSQL, as the API tests do):
- `ui_app`, `anon`: the app (recording dispatcher) and a TestClient with no session.
- `login(client, token) -> csrf`: log a client in through the form; returns the page's CSRF token.
- `ui`: a `UiClient` logged in as a fresh project's token: `.client`, `.csrf`, `.token`,
  `.submit(**spec)` (a job through the UI's own data route).

The browser fixtures (headless Debian Chromium over selenium, against real uvicorn + worker
processes on PostgreSQL and Redis) are in tests/ui/browser.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.db.models import Job
from api.db.session import session_scope
from api.main import create_app
from api.settings import Settings
from tests.conftest import ProjectToken, create_pg_database, drop_pg_database, issue_token
from tests.e2e.conftest import Stack, make_settings, start_stack
from tests.helpers_services import REDIS_URL
from tests.ui.browser import Browser, chromium_missing

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
HTML = {"Accept": "text/html"}


def csrf_of(page: str) -> str:
    found = CSRF_META.search(page)
    assert found is not None and found.group(1), "the page carries no CSRF token"
    return found.group(1)


def login(client: TestClient, token: str) -> str:
    response = client.post("/ui/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/ui/", headers=HTML).text)


def spec(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "module": {"name": "autoencoder"},
        "datamodule": {"name": "digits"},
        "trainer": {"max_epochs": 1},
    }
    body.update(overrides)
    return body


@dataclass
class UiClient:
    client: TestClient
    csrf: str
    token: ProjectToken

    def submit(self, **overrides: Any) -> dict[str, Any]:
        response = self.client.post(
            "/ui/api/v1/jobs", json=spec(**overrides), headers={"X-CSRF-Token": self.csrf}
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def ui_app(settings: Settings) -> FastAPI:
    return create_app(settings, dispatcher=[].append)


@pytest.fixture
def anon(ui_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(ui_app) as client:
        yield client


@pytest.fixture
def make_ui(
    ui_app: FastAPI, make_token: Callable[..., ProjectToken]
) -> Iterator[Callable[..., UiClient]]:
    clients: list[TestClient] = []

    def make(project: str = "ui-p", *, is_admin: bool = False) -> UiClient:
        token = make_token(project, is_admin=is_admin)
        client = TestClient(ui_app)
        client.__enter__()
        clients.append(client)
        return UiClient(client, login(client, token.token), token)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def ui(make_ui: Callable[..., UiClient]) -> UiClient:
    return make_ui()


@pytest.fixture
def count_jobs(database_url: str) -> Callable[[], int]:
    def count() -> int:
        with session_scope(database_url) as session:
            return int(session.scalar(select(func.count()).select_from(Job)) or 0)

    return count


# ---------------------------------------------------------------- browser tests


@pytest.fixture(scope="session")
def ui_stack(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running stack as the end-to-end tests start it: uvicorn and a Celery worker on
    PostgreSQL and Redis (tests/e2e/conftest.py), for the browser tests of this session."""
    url = create_pg_database(template=pg_template, prefix="t_ui_")
    root = tmp_path_factory.mktemp("ui_stack")
    stack = start_stack(make_settings(url, REDIS_URL, root), root)
    try:
        yield stack
    finally:
        stack.close()
        drop_pg_database(url)


@pytest.fixture(scope="module")
def browser(ui_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    missing = chromium_missing()
    if missing is not None:
        pytest.fail(missing)
    chrome = Browser(ui_stack.url, tmp_path_factory.mktemp("chromium"))
    try:
        yield chrome
    finally:
        chrome.close()


@dataclass
class Project:
    """A fresh project of the running stack: its token and an API client with it."""

    token: ProjectToken
    api: httpx.Client


def new_project(stack: Stack, name: str | None = None) -> Project:
    token = issue_token(stack.settings.database_url, name or f"ui-{uuid.uuid4().hex[:8]}")
    api = httpx.Client(base_url=stack.url, headers=token.headers, timeout=30)
    stack.clients.append(api)
    return Project(token, api)
